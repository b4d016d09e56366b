// Runs one playbook's steps for one alert: each step (and each fact) starts as soon as the steps and facts it reads
// are done, so independent steps run side by side; each has a timeout and the whole run a deadline. A failed or
// timed-out step is recorded as a finding and never stops the others.
//
// Evidence is three-valued. A step that read something (or found nothing there) is known and appears in `steps`; a
// step that could not read (failed, timed out, not called, or needed something that could not be read) is unknown:
// it is left out of `steps`, so any condition that depends on it fails to evaluate and is "not checked" rather than
// false. CEL's logical operators absorb such errors where the other side decides (`true || unknown` is true).
import type { Alert } from "../model/alertmanager.ts";
import type { LogExcerpt, ResultTable, StepOutcomeKind, StepRecord, StepStatus } from "../model/diagnosis.ts";
import { redact, redactOutput } from "../sources/redact.ts";
import { referencedFacts, referencedSteps, type Scope } from "./expressions.ts";
import type { CompiledFact, CompiledPlaybook, CompiledStep } from "./load-playbooks.ts";
import { STEP_KINDS } from "./step-kinds/registry.ts";
import type { RunLimits, StepSources } from "./step-kinds/step-kind.ts";

export type { ReadContext, RunLimits, StepSources } from "./step-kinds/step-kind.ts";

export interface PlaybookRun {
  steps: StepRecord[];
  /** `alert`, `steps.<id>` and `facts.<name>` as conditions and templates see them: known values only. */
  scope: Scope;
  /** Why each step or fact that could not be known is unknown, keyed `steps.<id>` or `facts.<name>`. */
  unknown: Unknowns;
  logExcerpts: LogExcerpt[];
  partial: boolean;
}

/**
 * Why something is unknown. `unavailable`: this installation cannot read it at all (no audit log configured), as
 * opposed to a read that failed this time.
 */
export interface Unread {
  reason: string;
  unavailable?: boolean;
}

export type Unknowns = ReadonlyMap<string, Unread>;

/**
 * Why an expression that failed to evaluate could not be decided: the first unknown step or fact it reads, or
 * undefined when it reads none (then the failure is the expression's own: a rule bug or data of an unexpected shape).
 */
export function unknownReason(source: string, unknown: Unknowns): Unread | undefined {
  for (const id of referencedSteps(source)) {
    const reason = unknown.get(`steps.${id}`);
    if (reason !== undefined) return reason;
  }
  for (const name of referencedFacts(source)) {
    const reason = unknown.get(`facts.${name}`);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

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
  const factValues: Record<string, unknown> = {};
  const scope: Scope = { alert: alertScope(alert), steps: stepData, facts: factValues };
  const unknown = new Map<string, Unread>();
  const records = new Map<string, StepRecord>();
  const excerpts: LogExcerpt[] = [];
  const finished = new Map<string, Promise<void>>();
  const facts = new Map(playbook.facts.map((f) => [f.name, f]));

  // Facts and steps are one graph: a fact waits for what it reads, a step for the steps and facts it reads.
  const whenDone = (fact: CompiledFact): Promise<void> => {
    const key = `facts.${fact.name}`;
    let done = finished.get(key);
    if (done) return done;
    done = Promise.all([
      ...fact.steps.map((id) => finished.get(id)),
      ...fact.facts.map((name) => {
        const other = facts.get(name);
        return other ? whenDone(other) : undefined;
      }),
    ]).then(() => {
      try {
        factValues[fact.name] = fact.expression.evaluate(scope);
      } catch (error) {
        unknown.set(
          key,
          unknownReason(fact.expression.source, unknown) ?? { reason: `could not be computed: ${(error as Error).message}` },
        );
      }
    });
    finished.set(key, done);
    return done;
  };

  for (const step of playbook.steps) {
    const ready = Promise.all([
      ...step.dependsOn.map((id) => finished.get(id)),
      ...step.dependsOnFacts.map((name) => {
        const fact = facts.get(name);
        return fact ? whenDone(fact) : undefined;
      }),
    ]);
    finished.set(
      step.id,
      ready.then(async () => {
        const started = performance.now();
        const outcome = await runStep(step, scope, unknown, sources, limits, deadline, deadlineMs);
        const record: StepRecord = {
          id: step.id,
          title: step.spec.title,
          kind: step.kind,
          status: outcome.status,
          outcome: outcomeKind(step, outcome),
          durationMs: Math.round(performance.now() - started),
          request: outcome.request,
          summary: outcome.summary,
          ...(outcome.error ? { error: outcome.error } : {}),
          ...(step.spec.runbook ? { runbookRef: step.spec.runbook } : {}),
          ...tableOf(step, outcome.data),
        };
        records.set(step.id, record);
        if (record.outcome === "unknown") {
          unknown.set(`steps.${step.id}`, {
            reason: outcome.rootReason ?? outcome.error ?? outcome.summary,
            ...(outcome.unavailable ? { unavailable: true } : {}),
          });
        } else {
          stepData[step.id] = {
            ...emptyData(step),
            ...outcome.data,
            status: outcome.status,
            ...(outcome.error ? { error: outcome.error } : {}),
          };
        }
        for (const match of outcome.excerpts) excerpts.push({ step: step.id, ...match });
      }),
    );
  }
  await Promise.all([...finished.values(), ...playbook.facts.map(whenDone)]);

  const steps = playbook.steps.map((s) => records.get(s.id) as StepRecord);
  // Partial: a read failed or was cut short. A check this installation cannot make (no audit log) is not a failure.
  const partial = deadline.aborted || steps.some((s) => s.outcome === "unknown" && unknown.get(`steps.${s.id}`)?.unavailable !== true);
  return { steps, scope, unknown, logExcerpts: excerpts, partial };
}

/**
 * Known or not, and if known whether anything was there. A step skipped because its condition was false, or whose
 * forEach list was empty, was not needed: its empty data is an answer.
 */
function outcomeKind(step: CompiledStep, outcome: StepOutcome): StepOutcomeKind {
  if (outcome.unknown || outcome.status === "failed" || outcome.status === "timeout") return "unknown";
  if (outcome.status === "skipped") return "not_needed";
  return STEP_KINDS[step.kind].absent(outcome.data) ? "absent" : "read";
}

interface StepOutcome {
  status: StepStatus;
  /** Nothing known: it could not read, or could not tell whether or what to read. */
  unknown?: boolean;
  /** Unknown because this installation cannot read it at all, or because what it needed could not be. */
  unavailable?: boolean;
  /** For a step not run because a read it needs failed: that read's reason, passed on to what depends on this step. */
  rootReason?: string;
  request: string;
  summary: string;
  error?: string;
  data: Record<string, unknown>;
  excerpts: Omit<LogExcerpt, "step">[];
}

function skipped(summary: string): StepOutcome {
  return { status: "skipped", request: "", summary, data: {}, excerpts: [] };
}

function notRun(summary: string, unavailable?: boolean): StepOutcome {
  return { ...skipped(summary), unknown: true, error: summary, ...(unavailable ? { unavailable } : {}) };
}

/**
 * A step that could not be decided (whether it is needed, what it lists, what it reads) because an expression failed:
 * because something it reads is unknown — then that read's reason is passed on — or on its own account.
 */
function notDecided(sources: string[], unknown: Unknowns, what: string, error: unknown, ownWords = false): StepOutcome {
  const unread = sources.map((source) => unknownReason(source, unknown)).find((r) => r !== undefined);
  const message = (error as Error).message;
  if (unread === undefined) return notRun(ownWords ? `not run: ${message}` : `not run: ${what} could not be evaluated (${message})`);
  return { ...notRun(`not run: ${what} depends on a read that failed (${unread.reason})`, unread.unavailable), rootReason: unread.reason };
}

async function runStep(
  step: CompiledStep,
  scope: Scope,
  unknown: Unknowns,
  sources: StepSources,
  limits: RunLimits,
  deadline: AbortSignal,
  deadlineMs: number,
): Promise<StepOutcome> {
  const undecided = (source: string, what: string, error: unknown) => notDecided([source], unknown, what, error);
  if (deadline.aborted) return notRun(`not started: the playbook deadline of ${seconds(deadlineMs)} was reached`);
  if (step.when) {
    try {
      if (step.when.evaluate(scope) !== true) return skipped("not needed: its condition was false");
    } catch (error) {
      return undecided(step.when.source, "whether it is needed", error);
    }
  }
  let items: unknown[] = [undefined];
  if (step.forEach) {
    let list: unknown;
    try {
      list = step.forEach.evaluate(scope);
    } catch (error) {
      return undecided(step.forEach.source, "its item list", error);
    }
    if (!Array.isArray(list)) return notRun("not run: forEach did not give a list");
    if (list.length === 0) return { ...skipped("nothing to read: the list it runs over is empty"), data: mergeRuns([]) };
    items = list.slice(0, step.maxItems);
  }

  const timeoutMs = step.timeoutMs ?? limits.stepTimeoutMs;
  const runs = await Promise.all(
    items.map((item) => runOnce(step, item === undefined ? scope : { ...scope, item }, unknown, sources, limits, deadline, timeoutMs)),
  );
  if (!step.forEach) return runs[0] as StepOutcome;
  const succeeded = runs.filter((r) => r.status === "ok");
  const failures = runs.filter((r) => r.status !== "ok");
  const request = runs.length === 1 ? (runs[0]?.request ?? "") : `${runs[0]?.request ?? ""}  (and ${runs.length - 1} more like it)`;
  const excerpts = runs.flatMap((r) => r.excerpts);

  const data = { ...mergeRuns(succeeded.map((r) => r.data)), each: succeeded.map((r) => r.data) };
  const summary = [succeeded.map((r) => r.summary).join("; "), failures.length ? `${failures.length} of ${runs.length} failed` : ""]
    .filter(Boolean)
    .join("; ");
  if (succeeded.length === 0) {
    const timedOut = failures.every((f) => f.status === "timeout");
    const status = failures.every((f) => f.status === "skipped") ? "skipped" : timedOut ? "timeout" : "failed";
    const unavailable = failures.every((f) => f.unavailable === true);
    // When every run stopped for the same failed read, what depends on this step is told that read, not this list.
    const roots = new Set(failures.map((f) => f.rootReason));
    const [root] = roots;
    return {
      status,
      unknown: true,
      ...(unavailable ? { unavailable } : {}),
      ...(roots.size === 1 && root !== undefined ? { rootReason: root } : {}),
      request,
      summary,
      error: failures.map((f) => f.error).join("; "),
      data,
      excerpts,
    };
  }
  return { status: "ok", request, summary, ...(failures.length ? { error: failures.map((f) => f.error).join("; ") } : {}), data, excerpts };
}

async function runOnce(
  step: CompiledStep,
  scope: Scope,
  unknown: Unknowns,
  sources: StepSources,
  limits: RunLimits,
  deadline: AbortSignal,
  timeoutMs: number,
): Promise<StepOutcome> {
  const kind = STEP_KINDS[step.kind];
  let request: unknown;
  try {
    const field = (name: string) => step.fields[name]?.render(scope) || undefined;
    request = kind.request(step.spec[step.kind], field, limits);
  } catch (error) {
    return notDecided(
      Object.values(step.fields).map((t) => t.source),
      unknown,
      "what to read",
      error,
      // A request the step refused to build (a value that is no valid name) says why in its own words.
      true,
    );
  }
  const read = kind.reader(sources);
  if ("unavailable" in read) return notRun(`not run: ${read.unavailable}`, true);
  const stepTimeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([deadline, stepTimeout]);
  try {
    // Everything a source read came from the cluster and may carry a credential (an Event's message, a log line, a
    // label value): redacted here, once for every source, before conditions, templates, the store or a sink see it.
    const output = redactOutput(await abortable(read(request, signal, { stepId: step.id }), signal));
    const excerpts = kind.excerpts?.(output.data, request) ?? [];
    return { status: "ok", request: output.request, summary: output.summary, data: output.data, excerpts };
  } catch (error) {
    const requestLine = kind.requestLine(request);
    if (signal.aborted) {
      const limit = stepTimeout.aborted ? timeoutMs : undefined;
      const description = kind.describe(request);
      const message = limit
        ? `${kind.answeredBy} did not answer ${description} in ${seconds(limit)}`
        : `${kind.answeredBy} had not answered ${description} when the playbook deadline was reached`;
      return { status: "timeout", unknown: true, request: requestLine, summary: message, error: message, data: {}, excerpts: [] };
    }
    const message = redact(error instanceof Error ? error.message : String(error));
    return { status: "failed", unknown: true, request: requestLine, summary: message, error: message, data: {}, excerpts: [] };
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

/** The objects or series a step read, as rows a person can scan in the report. */
function tableOf(step: CompiledStep, data: Record<string, unknown>): { table?: ResultTable } {
  const table = STEP_KINDS[step.kind].table?.(data);
  return table ? { table } : {};
}

/**
 * The shape of a known step whose read left fields out (not needed, or nothing over an empty list): empty lists and no
 * value. Unknown steps get no data at all.
 */
function emptyData(step: CompiledStep): Record<string, unknown> {
  const base = STEP_KINDS[step.kind].empty;
  return step.forEach ? { ...base, each: [] } : { ...base };
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
