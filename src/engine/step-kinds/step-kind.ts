// What one kind of playbook step is, in one place: its rule-file schema, the request it builds, how it names that
// request in messages, who answers it, what a known step with nothing read looks like, and what the report shows.
// A new kind is one module beside this one, listed in registry.ts.
import type { JSONSchemaType } from "ajv";
import type { LogExcerpt, ResultTable, StepKind as StepKindName } from "../../model/diagnosis.ts";
import type { AuditQuery } from "../../sources/audit-log.ts";
import type { KubernetesRead } from "../../sources/kubernetes.ts";
import type { LogRead } from "../../sources/logs.ts";
import type { PromQuery } from "../../sources/prometheus.ts";
import type { SourceOutput } from "../../sources/source.ts";
import type { TemplateContext } from "../template.ts";

/** Which step is reading: for tracing, and for playbook tests that answer by step. */
export interface ReadContext {
  stepId: string;
}

/** The reads a playbook can make. The service wires the real sources; tests may wire others. */
export interface StepSources {
  kubernetes(request: KubernetesRead, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
  logs(request: LogRead, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
  prometheus(request: PromQuery, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
  /** Absent when no audit log is configured: audit steps are then unknown and say so. */
  audit?(request: AuditQuery, signal: AbortSignal, context: ReadContext): Promise<SourceOutput>;
}

/** Bounds every run keeps, whatever a rule file asks. */
export interface RunLimits {
  stepTimeoutMs: number;
  deadlineMs: number;
  listLimit: number;
  logTailLines: number;
  logLimitBytes: number;
}

export type Read<Request> = (request: Request, signal: AbortSignal, context: ReadContext) => Promise<SourceOutput>;

export interface StepKind<Spec, Request> {
  /** The key of the spec in a rule file's step, and the StepRecord's kind. */
  readonly name: StepKindName;
  /** Who answers, as messages name it: "API server did not answer a Pod list in 5 s". */
  readonly answeredBy: string;
  /** The spec's JSON Schema (rules/schema.json is generated from these). */
  readonly schema: JSONSchemaType<Spec>;
  /** The spec's templated fields, and where each value lands (how it is escaped). */
  readonly fields: Readonly<Record<string, TemplateContext>>;
  /** What a known step that read nothing shows conditions: empty lists, no value. */
  readonly empty: Readonly<Record<string, unknown>>;
  /** Problems beyond the schema, found at load time: a log pattern that is no regular expression. */
  check?(spec: Spec): Array<{ path: string[]; message: string }>;
  /** The request, from the spec and its rendered fields, within the run's limits. */
  request(spec: Spec, field: (name: string) => string | undefined, limits: RunLimits): Request;
  /** "a Pod list in kube-system": what a message about a read that did not answer names. */
  describe(request: Request): string;
  /** The call as a person would write it, shown for a read that did not answer. */
  requestLine(request: Request): string;
  /** Who answers in this installation; undefined with the reason when it cannot read this kind at all. */
  reader(sources: StepSources): Read<Request> | { unavailable: string };
  /** Whether a read found nothing there (read, but absent). */
  absent(data: Record<string, unknown>): boolean;
  /** What the report shows of what was read. */
  table?(data: Record<string, unknown>): ResultTable | undefined;
  /** Log lines worth showing beside the diagnosis. */
  excerpts?(data: Record<string, unknown>, request: Request): Array<Omit<LogExcerpt, "step">>;
}

export const TABLE_ROWS = 20;

export function cell(value: unknown): string {
  return value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
}
