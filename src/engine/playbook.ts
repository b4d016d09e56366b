// The shape of a rule file (rules/*.yaml) as a TypeScript type and the JSON Schema that validates it.
// rules/schema.json is generated from this schema (npm run rules:schema) so editors can check rule files too.
import type { JSONSchemaType } from "ajv";
import type { AuditAggregate } from "../sources/audit-log.ts";

export interface KubernetesStepSpec {
  apiVersion: string;
  kind: string;
  namespace?: string;
  /** Get one object by name instead of listing. */
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size and the most objects read in all. */
  limit?: number;
  /** Order the items by this field, newest or largest first ("lastTimestamp", "metadata.creationTimestamp"). */
  sortBy?: string;
}

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

export interface PrometheusStepSpec {
  query: string;
  /** A range query over this long window ending now ("30m"); an instant query when absent. */
  range?: string;
  step?: string;
}

export interface AuditStepSpec {
  /** The table to compute from Kubernetes audit events over `window`, as the AKS guide's queries do. */
  aggregate: AuditAggregate;
  /** Only events of this user agent (or user name). */
  userAgent?: string;
  window?: string;
  limit?: number;
}

export interface StepSpec {
  id: string;
  title: string;
  /** Where the runbook asks for this ("Playbook 3"). */
  runbook?: string;
  /** Run only when this CEL expression is true. */
  when?: string;
  /** Run once per element of this CEL list; the element is `item`. */
  forEach?: string;
  maxItems?: number;
  timeout?: string;
  kubernetes?: KubernetesStepSpec;
  logs?: LogsStepSpec;
  prometheus?: PrometheusStepSpec;
  audit?: AuditStepSpec;
}

/** Brings a shared fragment's steps (and causes) into a playbook at this point, run only when `when` holds. */
export interface IncludeSpec {
  include: string;
  when?: string;
}

export interface EvidenceSpec {
  step: string;
  text: string;
  when?: string;
  /** One evidence line per element of this CEL list (`item`). */
  each?: string;
  max?: number;
  at?: string;
}

/** A command or action; with `when`, offered only when that CEL condition holds. */
export type RemediationSpec = string | { when: string; command: string };

/**
 * What a cause explains, read from the alert's own data (the client's 401 share, the APIService's condition, the
 * certificate's expiry). A cause holds only while its symptom is present.
 */
export interface SymptomSpec {
  when: string;
  /** The symptom as evidence, names and figures filled in. */
  text: string;
  /** The step the symptom is read from, for the evidence line. */
  step?: string;
  /** 0..1: how strongly the symptom shows (a 2 % error share is weaker than 60 %); 1 when absent. */
  strength?: string;
}

export interface CauseSpec {
  id: string;
  title: string;
  runbook?: string;
  symptom?: SymptomSpec;
  /** What else must hold for this cause (its defining finding), beside the symptom. */
  when?: string;
  /** The most this cause can score: every check made, every explanation seen, the symptom at full strength. */
  confidence: number;
  summary: string;
  /** Causes this one is the deeper reason for: when both hold, this one leads. */
  explains?: string[];
  /** The explanations: each seen raises confidence, each that could not be checked lowers it. */
  evidence?: EvidenceSpec[];
  remediation?: RemediationSpec[];
}

export interface NoCorrelationSpec {
  title: string;
  runbook?: string;
  summary: string;
  evidence?: EvidenceSpec[];
  remediation?: RemediationSpec[];
}

export interface PlaybookFile {
  alert: string;
  aliases?: string[];
  title: string;
  /** The runbook this playbook implements (file name or URL). */
  runbook: string;
  deadline?: string;
  /** Named CEL values, each computed once when the steps and facts it reads are done: `facts.<name>`. */
  facts?: Record<string, string>;
  steps: Array<StepSpec | IncludeSpec>;
  causes: CauseSpec[];
  noCorrelation: NoCorrelationSpec;
}

/** rules/shared/*.yaml: steps and causes several playbooks share. */
export interface FragmentFile {
  fragment: string;
  title: string;
  runbook?: string;
  facts?: Record<string, string>;
  steps: StepSpec[];
  causes?: CauseSpec[];
}

export function isInclude(item: StepSpec | IncludeSpec): item is IncludeSpec {
  return "include" in item;
}

const ID = "^[a-z][a-z0-9_]*$";
const DURATION = "^[0-9]+(ms|s|m|h)$";
const text = { type: "string", minLength: 1, maxLength: 4000 } as const;
const optionalText = { type: "string", minLength: 1, maxLength: 4000, nullable: true } as const;

const evidenceSchema: JSONSchemaType<EvidenceSpec> = {
  type: "object",
  properties: {
    step: { type: "string", pattern: ID },
    text,
    when: optionalText,
    each: optionalText,
    max: { type: "integer", minimum: 1, maximum: 50, nullable: true },
    at: optionalText,
  },
  required: ["step", "text"],
  additionalProperties: false,
};

const remediationSchema = {
  type: "array",
  maxItems: 20,
  nullable: true,
  items: {
    anyOf: [
      text,
      { type: "object", properties: { when: text, command: text }, required: ["when", "command"], additionalProperties: false },
    ],
  },
} as unknown as JSONSchemaType<RemediationSpec[]> & { nullable: true };

const stepSchema: JSONSchemaType<StepSpec> = {
  type: "object",
  properties: {
    id: { type: "string", pattern: ID },
    title: text,
    runbook: optionalText,
    when: optionalText,
    forEach: optionalText,
    maxItems: { type: "integer", minimum: 1, maximum: 50, nullable: true },
    timeout: { type: "string", pattern: DURATION, nullable: true },
    kubernetes: {
      type: "object",
      nullable: true,
      properties: {
        // "v1", "apps/v1", or a bare group ("flowcontrol.apiserver.k8s.io") for the version the API server prefers.
        apiVersion: { type: "string", pattern: "^(([a-z0-9.-]+/)?v[0-9]+((alpha|beta)[0-9]+)?|[a-z0-9-]+(\\.[a-z0-9-]+)+)$" },
        kind: { type: "string", pattern: "^[A-Z][A-Za-z0-9]*$" },
        namespace: optionalText,
        name: optionalText,
        labelSelector: optionalText,
        fieldSelector: optionalText,
        limit: { type: "integer", minimum: 1, maximum: 5000, nullable: true },
        sortBy: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9_.]*$", nullable: true },
      },
      required: ["apiVersion", "kind"],
      additionalProperties: false,
    },
    logs: {
      type: "object",
      nullable: true,
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
    },
    prometheus: {
      type: "object",
      nullable: true,
      properties: {
        query: text,
        range: { type: "string", pattern: DURATION, nullable: true },
        step: { type: "string", pattern: DURATION, nullable: true },
      },
      required: ["query"],
      additionalProperties: false,
    },
    audit: {
      type: "object",
      nullable: true,
      properties: {
        aggregate: { type: "string", enum: ["topUserAgents", "latencyByUserAgent", "p99ByVerbResource"] },
        userAgent: optionalText,
        window: { type: "string", pattern: DURATION, nullable: true },
        limit: { type: "integer", minimum: 1, maximum: 100, nullable: true },
      },
      required: ["aggregate"],
      additionalProperties: false,
    },
  },
  required: ["id", "title"],
  oneOf: [{ required: ["kubernetes"] }, { required: ["logs"] }, { required: ["prometheus"] }, { required: ["audit"] }],
  additionalProperties: false,
};

const includeSchema: JSONSchemaType<IncludeSpec> = {
  type: "object",
  properties: { include: { type: "string", pattern: "^[a-z][a-z0-9-]*$" }, when: optionalText },
  required: ["include"],
  additionalProperties: false,
};

const symptomSchema: JSONSchemaType<SymptomSpec> = {
  type: "object",
  properties: { when: text, text, step: { type: "string", pattern: ID, nullable: true }, strength: optionalText },
  required: ["when", "text"],
  additionalProperties: false,
};

const causeSchema: JSONSchemaType<CauseSpec> = {
  type: "object",
  properties: {
    id: { type: "string", pattern: ID },
    title: text,
    runbook: optionalText,
    symptom: { ...symptomSchema, nullable: true } as unknown as JSONSchemaType<SymptomSpec> & { nullable: true },
    when: optionalText,
    confidence: { type: "number", minimum: 0, maximum: 1 },
    summary: text,
    explains: { type: "array", items: { type: "string", pattern: ID }, nullable: true },
    evidence: { type: "array", items: evidenceSchema, nullable: true },
    remediation: remediationSchema,
  },
  required: ["id", "title", "confidence", "summary"],
  anyOf: [{ required: ["symptom"] }, { required: ["when"] }],
  additionalProperties: false,
};

const factsSchema = {
  type: "object",
  nullable: true,
  propertyNames: { pattern: ID },
  additionalProperties: text,
  required: [],
} as unknown as JSONSchemaType<Record<string, string>> & { nullable: true };

export const playbookSchema: JSONSchemaType<PlaybookFile> = {
  $id: "https://alert-enricher.dev/rules/schema.json",
  title: "alert-enricher playbook",
  type: "object",
  properties: {
    alert: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" },
    aliases: { type: "array", items: { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$" }, nullable: true },
    title: text,
    runbook: text,
    deadline: { type: "string", pattern: DURATION, nullable: true },
    facts: factsSchema,
    steps: {
      type: "array",
      minItems: 1,
      maxItems: 100,
      // An item with `include` is an include; anything else must be a step (and gets the step's error messages).
      items: { if: { type: "object", required: ["include"] }, then: includeSchema, else: stepSchema },
    } as unknown as JSONSchemaType<PlaybookFile["steps"]>,
    causes: { type: "array", maxItems: 100, items: causeSchema },
    noCorrelation: {
      type: "object",
      properties: {
        title: text,
        runbook: optionalText,
        summary: text,
        evidence: { type: "array", items: evidenceSchema, nullable: true },
        remediation: remediationSchema,
      },
      required: ["title", "summary"],
      additionalProperties: false,
    },
  },
  required: ["alert", "title", "runbook", "steps", "causes", "noCorrelation"],
  additionalProperties: false,
};

export const fragmentSchema: JSONSchemaType<FragmentFile> = {
  $id: "https://alert-enricher.dev/rules/shared/schema.json",
  title: "alert-enricher shared playbook fragment",
  type: "object",
  properties: {
    fragment: { type: "string", pattern: "^[a-z][a-z0-9-]*$" },
    title: text,
    runbook: optionalText,
    facts: factsSchema,
    steps: { type: "array", minItems: 1, maxItems: 100, items: stepSchema },
    causes: { type: "array", maxItems: 100, items: causeSchema, nullable: true },
  },
  required: ["fragment", "title", "steps"],
  additionalProperties: false,
};

export function parseDuration(value: string): number {
  const match = /^([0-9]+)(ms|s|m|h)$/.exec(value);
  if (!match) throw new Error(`invalid duration ${JSON.stringify(value)}: use a number and ms, s, m or h`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unit;
}
