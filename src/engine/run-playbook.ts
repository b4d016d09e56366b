// Runs one playbook's steps for one alert: each step starts as soon as the steps it reads are done, so independent
// steps run side by side; each has a timeout and the whole run a deadline. A failed or timed-out step is recorded
// as a finding and never stops the others.
import type { Alert } from "../model/alertmanager.ts";
import type { LogExcerpt, ResultTable, StepKind, StepRecord, StepStatus } from "../model/diagnosis.ts";
import { type KubernetesRead, KubernetesSource } from "../sources/kubernetes.ts";
import { type LogRead, LogsSource } from "../sources/logs.ts";
import { type AuditQuery, AuditLogSource } from "../sources/audit-log.ts";
import { PrometheusSource, type PromQuery } from "../sources/prometheus.ts";
import { redact, redactOutput } from "../sources/redact.ts";
import type { SourceOutput } from "../sources/source.ts";
import type { Scope } from "./expressions.ts";
import type { CompiledPlaybook, CompiledStep } from "./load-playbooks.ts";
import { parseDuration } from "./playbook.ts";

/** Which step is reading: for tracing, and for playbook tests that answer by step. */
export interface ReadContext {
  stepId: string;
}

/** The reads a playbook can make. main.ts wires the real sources; tests may wire others. */
export interface StepSources {
  kubernetes(request: KubernetesRead, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
  logs(request: LogRead, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
  prometheus(request: PromQuery, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
  /** Absent when no audit log is configured: audit steps are then skipped and say so. */
  audit?(request: AuditQuery, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
}

export interface RunLimits {
  stepTimeoutMs: number;
  deadlineMs: number;
  listLimit: number;
  logTailLines: number;
  logLimitBytes: number;
}

export interface PlaybookRun {
  steps: StepRecord[];
  /** `alert` and `steps.<id>` as conditions and templates see them. */
  scope: Scope;
  logExcerpts: LogExcerpt[];
  partial: boolean;
}

type StepRequest =
  | { kind: "kubernetes"; read: KubernetesRead }
  | { kind: "logs"; read: LogRead }
  | { kind: "prometheus"; read: PromQuery }
  | { kind: "audit"; read: AuditQuery };

const WHO: Record<StepKind, string> = { kubernetes: "API server", logs: "API server", prometheus: "Prometheus", audit: "The audit log" };

export function alertScope(alert: Alert): Scope {
  return {
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    status: alert.status,
    fingerprint: alert.fingerprint,
  };
}

export async function runPlaybook(playbook: CompiledPlaybook, alert: Alert, sources: StepSources, limits: RunLimits): Promise<PlaybookRun> {
  const deadlineMs = playbook.deadlineMs ?? limits.deadlineMs;
  const deadline = AbortSignal.timeout(deadlineMs);
  const stepData: Record<string, Record<string, unknown>> = {};
  const scope: Scope = { alert: alertScope(alert), steps: stepData };
  const records = new Map<string, StepRecord>();
  const excerpts: LogExcerpt[] = [];
  const finished = new Map<string, Promise<void>>();

  for (const step of playbook.steps) {
    const ready = Promise.all(step.dependsOn.map((id) => finished.get(id)));
    finished.set(
      step.id,
      ready.then(async () => {
        const started = performance.now();
        const outcome = await runStep(step, scope, sources, limits, deadline, deadlineMs);
        const record: StepRecord = {
          id: step.id,
          title: step.spec.title,
          kind: step.kind,
          status: outcome.status,
          durationMs: Math.round(performance.now() - started),
          request: outcome.request,
          summary: outcome.summary,
          ...(outcome.error ? { error: outcome.error } : {}),
          ...(step.spec.runbook ? { runbookRef: step.spec.runbook } : {}),
          ...tableOf(step.kind, outcome.data),
        };
        records.set(step.id, record);
        stepData[step.id] = {
          ...emptyData(step),
          ...outcome.data,
          status: outcome.status,
          ...(outcome.error ? { error: outcome.error } : {}),
        };
        for (const match of outcome.excerpts) excerpts.push({ step: step.id, ...match });
      }),
    );
  }
  await Promise.all(finished.values());

  const steps = playbook.steps.map((s) => records.get(s.id) as StepRecord);
  const partial = deadline.aborted || steps.some((s) => s.status === "failed" || s.status === "timeout");
  return { steps, scope, logExcerpts: excerpts, partial };
}

interface StepOutcome {
  status: StepStatus;
  request: string;
  summary: string;
  error?: string;
  data: Record<string, unknown>;
  excerpts: Omit<LogExcerpt, "step">[];
}

async function runStep(
  step: CompiledStep,
  scope: Scope,
  sources: StepSources,
  limits: RunLimits,
  deadline: AbortSignal,
  deadlineMs: number,
): Promise<StepOutcome> {
  const skipped = (summary: string): StepOutcome => ({ status: "skipped", request: "", summary, data: {}, excerpts: [] });
  if (deadline.aborted) return skipped(`not started: the playbook deadline of ${seconds(deadlineMs)} was reached`);
  if (step.when) {
    try {
      if (step.when.evaluate(scope) !== true) return skipped("not needed: its condition was false");
    } catch (error) {
      return skipped(`not run: its condition could not be evaluated (${(error as Error).message})`);
    }
  }
  let items: unknown[] = [undefined];
  if (step.forEach) {
    let list: unknown;
    try {
      list = step.forEach.evaluate(scope);
    } catch (error) {
      return skipped(`not run: its item list could not be evaluated (${(error as Error).message})`);
    }
    if (!Array.isArray(list)) return skipped("not run: forEach did not give a list");
    if (list.length === 0) return { ...skipped("nothing to read: the list it runs over is empty"), data: mergeRuns([]) };
    items = list.slice(0, step.maxItems);
  }

  const timeoutMs = step.timeoutMs ?? limits.stepTimeoutMs;
  const runs = await Promise.all(
    items.map((item) => runOnce(step, item === undefined ? scope : { ...scope, item }, sources, limits, deadline, timeoutMs)),
  );
  const succeeded = runs.filter((r) => r.status === "ok");
  const failures = runs.filter((r) => r.status !== "ok");
  const request = runs.length === 1 ? (runs[0]?.request ?? "") : `${runs[0]?.request ?? ""}  (and ${runs.length - 1} more like it)`;
  const excerpts = runs.flatMap((r) => r.excerpts);
  if (!step.forEach) return runs[0] as StepOutcome;

  const data = { ...mergeRuns(succeeded.map((r) => r.data)), each: succeeded.map((r) => r.data) };
  const summary = [succeeded.map((r) => r.summary).join("; "), failures.length ? `${failures.length} of ${runs.length} failed` : ""]
    .filter(Boolean)
    .join("; ");
  if (succeeded.length === 0) {
    const timedOut = failures.every((f) => f.status === "timeout");
    return { status: timedOut ? "timeout" : "failed", request, summary, error: failures.map((f) => f.error).join("; "), data, excerpts };
  }
  return { status: "ok", request, summary, ...(failures.length ? { error: failures.map((f) => f.error).join("; ") } : {}), data, excerpts };
}

async function runOnce(
  step: CompiledStep,
  scope: Scope,
  sources: StepSources,
  limits: RunLimits,
  deadline: AbortSignal,
  timeoutMs: number,
): Promise<StepOutcome> {
  let request: StepRequest;
  try {
    request = buildRequest(step, scope, limits);
  } catch (error) {
    return { status: "skipped", request: "", summary: `not run: ${(error as Error).message}`, data: {}, excerpts: [] };
  }
  if (request.kind === "audit" && !sources.audit) {
    return {
      status: "skipped",
      request: "",
      summary: "not run: no audit log configured (AUDIT_LOG_PATH or AUDIT_LOG_URL)",
      data: {},
      excerpts: [],
    };
  }
  const description = describe(request);
  const requestLine = requestText(request);
  const stepTimeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([deadline, stepTimeout]);
  try {
    // Everything a source read came from the cluster and may carry a credential (an Event's message, a log line, a
    // label value): redacted here, once for every source, before conditions, templates, the store or a sink see it.
    const output = redactOutput(await abortable(call(request, sources, signal, { stepId: step.id }), signal));
    const excerpts = request.kind === "logs" ? logExcerpts(output.data, request.read) : [];
    return { status: "ok", request: output.request, summary: output.summary, data: output.data, excerpts };
  } catch (error) {
    if (signal.aborted) {
      const limit = stepTimeout.aborted ? timeoutMs : undefined;
      const message = limit
        ? `${WHO[step.kind]} did not answer ${description} in ${seconds(limit)}`
        : `${WHO[step.kind]} had not answered ${description} when the playbook deadline was reached`;
      return { status: "timeout", request: requestLine, summary: message, error: message, data: {}, excerpts: [] };
    }
    const message = redact(error instanceof Error ? error.message : String(error));
    return { status: "failed", request: requestLine, summary: message, error: message, data: {}, excerpts: [] };
  }
}

function buildRequest(step: CompiledStep, scope: Scope, limits: RunLimits): StepRequest {
  const field = (name: string) => step.fields[name]?.render(scope) || undefined;
  if (step.spec.kubernetes) {
    const spec = step.spec.kubernetes;
    return {
      kind: "kubernetes",
      read: {
        apiVersion: spec.apiVersion,
        kind: spec.kind,
        namespace: field("namespace"),
        name: field("name"),
        labelSelector: field("labelSelector"),
        fieldSelector: field("fieldSelector"),
        limit: Math.min(spec.limit ?? limits.listLimit, limits.listLimit),
        sortBy: spec.sortBy,
      },
    };
  }
  if (step.spec.logs) {
    const spec = step.spec.logs;
    return {
      kind: "logs",
      read: {
        namespace: field("namespace") ?? "",
        pod: field("pod") ?? "",
        container: field("container"),
        previous: spec.previous,
        tailLines: Math.min(spec.tailLines ?? limits.logTailLines, limits.logTailLines),
        sinceSeconds: spec.sinceSeconds,
        limitBytes: Math.min(spec.limitBytes ?? limits.logLimitBytes, limits.logLimitBytes),
        patterns: spec.patterns,
        maxExcerpts: spec.maxExcerpts ?? 3,
      },
    };
  }
  if (step.spec.audit) {
    const spec = step.spec.audit;
    return {
      kind: "audit",
      read: {
        aggregate: spec.aggregate,
        userAgent: field("userAgent"),
        windowMs: parseDuration(spec.window ?? "1h"),
        limit: spec.limit ?? 10,
      },
    };
  }
  const spec = step.spec.prometheus;
  if (!spec) throw new Error(`step ${step.id} has no source`);
  return {
    kind: "prometheus",
    read: {
      query: field("query") ?? "",
      ...(spec.range ? { rangeMs: parseDuration(spec.range), stepMs: spec.step ? parseDuration(spec.step) : undefined } : {}),
    },
  };
}

function call(request: StepRequest, sources: StepSources, signal: AbortSignal, context: ReadContext): Promise<SourceOutput> {
  switch (request.kind) {
    case "kubernetes":
      return sources.kubernetes(request.read, signal, context);
    case "logs":
      return sources.logs(request.read, signal, context);
    case "prometheus":
      return sources.prometheus(request.read, signal, context);
    case "audit":
      if (!sources.audit) throw new Error("no audit log configured");
      return sources.audit(request.read, signal, context);
  }
}

function describe(request: StepRequest): string {
  switch (request.kind) {
    case "kubernetes":
      return KubernetesSource.describe(request.read);
    case "logs":
      return LogsSource.describe(request.read);
    case "prometheus":
      return PrometheusSource.describe(request.read);
    case "audit":
      return AuditLogSource.describe(request.read);
  }
}

function requestText(request: StepRequest): string {
  switch (request.kind) {
    case "kubernetes":
      return KubernetesSource.requestLine(request.read);
    case "logs":
      return LogsSource.requestLine(request.read);
    case "prometheus":
      return request.read.query;
    case "audit":
      return AuditLogSource.requestLine(request.read);
  }
}

/** Settles when the signal aborts even if the call underneath ignores it, so a hung socket cannot hold a step. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function logExcerpts(data: Record<string, unknown>, read: LogRead): Omit<LogExcerpt, "step">[] {
  const matches = (data.excerpts ?? []) as Array<{ pattern: string; line: string }>;
  return matches.map((m) => ({
    pod: `${read.namespace}/${read.pod}`,
    ...(read.container ? { container: read.container } : {}),
    pattern: m.pattern,
    ...(read.patterns[m.pattern] !== undefined ? { regex: read.patterns[m.pattern] } : {}),
    line: m.line,
  }));
}

const TABLE_ROWS = 20;

/** The objects or series a step read, as rows a person can scan in the report. */
function tableOf(kind: StepKind, data: Record<string, unknown>): { table?: ResultTable } {
  const cell = (value: unknown) => (value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value));
  if (kind === "kubernetes" && Array.isArray(data.items) && data.items.length > 0) {
    const items = data.items as Array<{
      metadata?: { namespace?: string; name?: string; creationTimestamp?: string };
      status?: Record<string, unknown>;
    }>;
    const rows = items.slice(0, TABLE_ROWS).map((item) => {
      const conditions = Array.isArray(item.status?.conditions)
        ? (item.status.conditions as Array<{ type?: string; status?: string }>)
        : [];
      const state = cell(item.status?.phase) || conditions.map((c) => `${c.type}=${c.status}`).join(" ");
      return [cell(item.metadata?.namespace), cell(item.metadata?.name), state, cell(item.metadata?.creationTimestamp)];
    });
    return { table: { columns: ["namespace", "name", "status", "created"], rows, more: Math.max(0, items.length - TABLE_ROWS) } };
  }
  if (kind === "prometheus" && Array.isArray(data.series) && data.series.length > 0) {
    const series = data.series as Array<{ labels?: Record<string, string>; value?: number; last?: number; min?: number; max?: number }>;
    const rows = series.slice(0, TABLE_ROWS).map((s) => {
      const labels = Object.entries(s.labels ?? {})
        .map(([k, v]) => `${k}="${v}"`)
        .join(", ");
      const value = s.value !== undefined ? String(s.value) : `last ${s.last}, min ${s.min}, max ${s.max}`;
      return [`{${labels}}`, value];
    });
    return { table: { columns: ["series", "value"], rows, more: Math.max(0, series.length - TABLE_ROWS) } };
  }
  return {};
}

/**
 * What a step that read nothing (skipped, failed, timed out) looks like to conditions: empty lists and no value, so
 * a condition looking for positive evidence is simply false rather than an error. `status` tells the difference.
 */
function emptyData(step: CompiledStep): Record<string, unknown> {
  const base: Record<string, unknown> =
    step.kind === "kubernetes"
      ? { items: [], count: 0 }
      : step.kind === "logs"
        ? { lines: 0, matches: {}, excerpts: [] }
        : step.kind === "audit"
          ? { rows: [], count: 0 }
          : { series: [], count: 0, value: null };
  return step.forEach ? { ...base, each: [] } : base;
}

/** Folds the results of a forEach step: lists are concatenated, counts and per-pattern matches added up. */
export function mergeRuns(runs: Record<string, unknown>[]): Record<string, unknown> {
  const merged: Record<string, unknown> = { items: [], series: [], excerpts: [], count: 0, lines: 0, matches: {} };
  for (const run of runs) {
    for (const [key, value] of Object.entries(run)) {
      const current = merged[key];
      if (Array.isArray(value)) merged[key] = [...(Array.isArray(current) ? current : []), ...value];
      else if (typeof value === "number" && (key === "count" || key === "lines"))
        merged[key] = (typeof current === "number" ? current : 0) + value;
      else if (key === "matches" && value && typeof value === "object") {
        const sums = { ...(current as Record<string, number>) };
        for (const [name, n] of Object.entries(value as Record<string, number>)) sums[name] = (sums[name] ?? 0) + n;
        merged[key] = sums;
      }
    }
  }
  return merged;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
