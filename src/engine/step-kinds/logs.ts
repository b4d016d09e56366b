// Pod logs: a bounded tail of one container's log, counted and excerpted by named patterns.
import type { JSONSchemaType } from "ajv";
import { describeLogRead, type LogRead, logRequestLine } from "../../sources/logs.ts";
import { optionalText, text } from "../rule-schema-parts.ts";
import type { StepKind } from "./step-kind.ts";

export interface LogsStepSpec {
  namespace: string;
  pod: string;
  container?: string;
  previous?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  limitBytes?: number;
  /** Pattern name → regular expression (case-insensitive). */
  patterns: Record<string, string>;
  /** Matching lines kept per pattern. */
  maxExcerpts?: number;
}

const schema: JSONSchemaType<LogsStepSpec> = {
  type: "object",
  properties: {
    namespace: text,
    pod: text,
    container: optionalText,
    previous: { type: "boolean", nullable: true },
    tailLines: { type: "integer", minimum: 1, maximum: 10000, nullable: true },
    sinceSeconds: { type: "integer", minimum: 1, nullable: true },
    limitBytes: { type: "integer", minimum: 1, maximum: 10485760, nullable: true },
    patterns: { type: "object", additionalProperties: text, required: [], minProperties: 1 },
    maxExcerpts: { type: "integer", minimum: 0, maximum: 50, nullable: true },
  },
  required: ["namespace", "pod", "patterns"],
  additionalProperties: false,
};

export const logsStep: StepKind<LogsStepSpec, LogRead> = {
  name: "logs",
  answeredBy: "API server",
  schema,
  fields: { namespace: "objectName", pod: "objectName", container: "objectName" },
  empty: { lines: 0, matches: {}, excerpts: [] },
  check: (spec) =>
    Object.entries(spec.patterns).flatMap(([name, pattern]) => {
      try {
        new RegExp(pattern, "i");
        return [];
      } catch (error) {
        return [{ path: ["patterns", name], message: (error as Error).message }];
      }
    }),
  request: (spec, field, limits) => ({
    namespace: field("namespace") ?? "",
    pod: field("pod") ?? "",
    container: field("container"),
    previous: spec.previous,
    tailLines: Math.min(spec.tailLines ?? limits.logTailLines, limits.logTailLines),
    sinceSeconds: spec.sinceSeconds,
    limitBytes: Math.min(spec.limitBytes ?? limits.logLimitBytes, limits.logLimitBytes),
    patterns: spec.patterns,
    maxExcerpts: spec.maxExcerpts ?? 3,
  }),
  describe: describeLogRead,
  requestLine: logRequestLine,
  reader: (sources) => sources.logs,
  absent: (data) => data.lines === 0,
  // The regex travels with the excerpt, so the report marks what matched rather than the pattern's name.
  excerpts: (data, read) =>
    ((data.excerpts ?? []) as Array<{ pattern: string; line: string }>).map((m) => ({
      pod: `${read.namespace}/${read.pod}`,
      ...(read.container ? { container: read.container } : {}),
      pattern: m.pattern,
      ...(read.patterns[m.pattern] !== undefined ? { regex: read.patterns[m.pattern] } : {}),
      line: m.line,
    })),
};
