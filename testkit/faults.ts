// Reads a playbook test makes fail, or answer with nothing there, whatever the case's cluster and answers hold: a
// case's own `faults:` (test-file.ts), and the variants the refutation and fault-matrix checks build
// (generated-checks.ts). A failed read throws the SourceError the real source would; a hung one never answers, so the
// step times out as it would against a backend that accepted the connection and then went silent.
import type { ReadContext, StepSources } from "../src/engine/run-playbook.ts";
import type { StepKind } from "../src/model/diagnosis.ts";
import type { AuditQuery } from "../src/sources/audit-log.ts";
import type { KubernetesRead } from "../src/sources/kubernetes.ts";
import { type LogRead, scanLog } from "../src/sources/logs.ts";
import type { PromQuery } from "../src/sources/prometheus.ts";
import { type SourceOutput, SourceError } from "../src/sources/source.ts";
import { FAULT_BACKENDS, type FaultBackend, type Faults } from "./test-file.ts";

/**
 * What one read meets instead of its answer: it `hang`s, fails with an `error`, or finds `absent` what it asks for
 * (no series, no objects, a get's object not found, an empty log, no audit rows); `found` answers a get with a bare
 * object of the name it asked for (a list with nothing).
 */
export type ReadOverride = { kind: "hang" } | { kind: "error"; message: string } | { kind: "absent" } | { kind: "found" };

/** Which override a read of step `stepId` (of `kind`) meets, if any. `alert_chart` is the alert's chart, not a step. */
export type ReadPlan = (stepId: string, kind: StepKind) => ReadOverride | undefined;

/** How the service words a connection refused by each backend (src/sources). */
export const REFUSED: Record<StepKind, string> = {
  prometheus: "Prometheus at 127.0.0.1:9090 could not be reached: ECONNREFUSED",
  kubernetes: "API server could not be reached: fetch failed (connect ECONNREFUSED 127.0.0.1:6443)",
  logs: "API server could not be reached: fetch failed (connect ECONNREFUSED 127.0.0.1:6443)",
  audit: "the audit log at 127.0.0.1:8443 could not be read: fetch failed (connect ECONNREFUSED 127.0.0.1:8443)",
};

/** A fault as a case writes it: `refused`, `timeout` / `hang`, or the message the read fails with. */
export function parseFault(value: string, kind: StepKind): ReadOverride {
  if (value === "timeout" || value === "hang") return { kind: "hang" };
  if (value === "refused") return { kind: "error", message: REFUSED[kind] };
  return { kind: "error", message: value };
}

export function backendOf(kind: StepKind): FaultBackend {
  return kind === "prometheus" ? "prometheus" : kind === "audit" ? "audit" : "kubernetes";
}

export interface CaseFaults {
  plan: ReadPlan;
  /** The keys of `faults:` some read met so far: a key none met shows nothing. */
  used: Set<string>;
  /** The steps whose reads failed or hung because of them: their failure is the case's point. */
  faulted: Set<string>;
  /** Whether a key makes a read hang: such a case takes the step's whole timeout. */
  hangs: boolean;
  /** The steps of `steps` whose reads the faults make hang. */
  hanging(steps: ReadonlyArray<{ id: string; kind: StepKind }>): Set<string>;
}

/** The plan of a case's `faults:`: a step's own fault first, else its backend's. */
export function caseFaults(faults: Faults | undefined, stepIds: ReadonlySet<string>): CaseFaults {
  const used = new Set<string>();
  const faulted = new Set<string>();
  const entries = faults ?? {};
  const plan: ReadPlan = (stepId, kind) => {
    const own = stepIds.has(stepId) ? entries[stepId] : undefined;
    const key = own !== undefined ? stepId : backendOf(kind);
    const value = own ?? entries[key];
    if (value === undefined || (own === undefined && !Object.hasOwn(FAULT_BACKENDS, key))) return undefined;
    used.add(key);
    if (stepIds.has(stepId)) faulted.add(stepId);
    return parseFault(value, kind);
  };
  const hangs = (value: string | undefined) => value === "timeout" || value === "hang";
  return {
    plan,
    used,
    faulted,
    hangs: Object.values(entries).some(hangs),
    hanging: (steps) => new Set(steps.filter((s) => hangs(entries[s.id] ?? entries[backendOf(s.kind)])).map((s) => s.id)),
  };
}

/** Whether a plan can touch audit reads: then the audit log counts as configured even where the case gives no rows. */
export function touchesAudit(faults: Faults | undefined, auditSteps: string[]): boolean {
  return Object.keys(faults ?? {}).some((key) => key === "audit" || auditSteps.includes(key));
}

function never(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function nothingThere(kind: StepKind, request: unknown, found: boolean): SourceOutput {
  if (kind === "kubernetes") {
    const read = request as KubernetesRead;
    const namespace = read.namespace ?? "";
    if (read.name && found) {
      const object = {
        apiVersion: read.apiVersion,
        kind: read.kind,
        metadata: { name: read.name, ...(read.namespace ? { namespace } : {}) },
      };
      const data = { object, items: [object], count: 1, found: true, name: read.name, namespace };
      return { data, request: `${read.kind} ${read.name} (rules test: a bare object)`, summary: `${read.kind} ${read.name} found` };
    }
    if (read.name) {
      const data = { items: [], count: 0, found: false, name: read.name, namespace };
      return { data, request: `${read.kind} ${read.name} (rules test: not found)`, summary: `${read.kind} ${read.name} not found` };
    }
    return { data: { items: [], count: 0, truncated: false }, request: `${read.kind} list (rules test: none)`, summary: `0 ${read.kind}` };
  }
  if (kind === "logs") {
    const read = request as LogRead;
    const where = `${read.namespace}/${read.pod}${read.container ? `/${read.container}` : ""}`;
    const data = {
      pod: read.pod,
      namespace: read.namespace,
      container: read.container ?? "",
      ...scanLog("", read.patterns, read.maxExcerpts),
    };
    return { data, request: `log of ${where} (rules test: empty)`, summary: `${where}: 0 lines, no pattern matched` };
  }
  if (kind === "audit") {
    const read = request as AuditQuery;
    return { data: { rows: [], count: 0 }, request: `audit log: ${read.aggregate} (rules test: no rows)`, summary: "0 rows" };
  }
  const read = request as PromQuery;
  const data = read.rangeMs !== undefined ? { series: [], count: 0 } : { series: [], count: 0, value: null };
  return { data, request: read.query, summary: "no series" };
}

/**
 * `sources` with each read checked against `plan` first. `audit: true` serves audit reads (no rows) even when
 * `sources` has no audit log, so that a plan can make them fail.
 */
export function overrideReads(sources: StepSources, plan: ReadPlan, options: { audit?: boolean } = {}): StepSources {
  type Read<R> = (request: R, signal: AbortSignal, context: ReadContext) => Promise<SourceOutput>;
  const wrap =
    <R>(kind: StepKind, read: Read<R> | undefined): Read<R> =>
    async (request, signal, context) => {
      const override = plan(context.stepId, kind);
      if (override?.kind === "hang") return never(signal);
      if (override?.kind === "error") throw new SourceError(override.message, { backendTrouble: true });
      if (override || !read) return nothingThere(kind, request, override?.kind === "found");
      return read(request, signal, context);
    };
  const audit = sources.audit?.bind(sources);
  return {
    kubernetes: wrap<KubernetesRead>("kubernetes", sources.kubernetes.bind(sources)),
    logs: wrap<LogRead>("logs", sources.logs.bind(sources)),
    prometheus: wrap<PromQuery>("prometheus", sources.prometheus.bind(sources)),
    ...(audit || options.audit ? { audit: wrap<AuditQuery>("audit", audit) } : {}),
  };
}
