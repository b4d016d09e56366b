// Kubernetes audit events: the AKS guide's top-client and latency tables over a window.
import type { JSONSchemaType } from "ajv";
import { type AuditAggregate, auditRequestLine, type AuditQuery, describeAuditQuery } from "../../sources/audit-log.ts";
import { DURATION, optionalText, parseDuration } from "../rule-schema-parts.ts";
import type { StepKind } from "./step-kind.ts";

export interface AuditStepSpec {
  /** The table to compute from Kubernetes audit events over `window`, as the AKS guide's queries do. */
  aggregate: AuditAggregate;
  /** Only events of this user agent (or user name). */
  userAgent?: string;
  window?: string;
  limit?: number;
}

const schema: JSONSchemaType<AuditStepSpec> = {
  type: "object",
  properties: {
    aggregate: { type: "string", enum: ["topUserAgents", "latencyByUserAgent", "p99ByVerbResource"] },
    userAgent: optionalText,
    window: { type: "string", pattern: DURATION, nullable: true },
    limit: { type: "integer", minimum: 1, maximum: 100, nullable: true },
  },
  required: ["aggregate"],
  additionalProperties: false,
};

export const auditStep: StepKind<AuditStepSpec, AuditQuery> = {
  name: "audit",
  answeredBy: "The audit log",
  schema,
  fields: { userAgent: "text" },
  empty: { rows: [], count: 0 },
  request: (spec, field) => ({
    aggregate: spec.aggregate,
    userAgent: field("userAgent"),
    windowMs: parseDuration(spec.window ?? "1h"),
    limit: spec.limit ?? 10,
  }),
  describe: describeAuditQuery,
  requestLine: auditRequestLine,
  reader: (sources) => sources.audit ?? { unavailable: "no audit log configured (AUDIT_LOG_PATH or AUDIT_LOG_URL)" },
  absent: (data) => Array.isArray(data.rows) && data.rows.length === 0,
};
