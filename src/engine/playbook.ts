// The shape of a rule file (rules/*.yaml) as a TypeScript type and the JSON Schema that validates it.
// rules/schema.json is generated from this schema and the step kinds' (npx enricher rules schema) so editors can check rule files too.
import type { JSONSchemaType } from "ajv";
import { DURATION, ID, optionalText, text } from "./rule-schema-parts.ts";
import type { AuditStepSpec } from "./step-kinds/audit.ts";
import type { KubernetesStepSpec } from "./step-kinds/kubernetes.ts";
import type { LogsStepSpec } from "./step-kinds/logs.ts";
import type { PrometheusStepSpec } from "./step-kinds/prometheus.ts";
import { STEP_KIND_NAMES, STEP_KINDS } from "./step-kinds/registry.ts";

export { parseDuration } from "./rule-schema-parts.ts";

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
  symptom: SymptomSpec;
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
    // One property per step kind, each kind's own schema (src/engine/step-kinds/).
    ...Object.fromEntries(STEP_KIND_NAMES.map((name) => [name, { ...STEP_KINDS[name].schema, nullable: true }])),
  },
  required: ["id", "title"],
  oneOf: STEP_KIND_NAMES.map((name) => ({ required: [name] })),
  additionalProperties: false,
} as unknown as JSONSchemaType<StepSpec>;

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
    symptom: symptomSchema,
    when: optionalText,
    confidence: { type: "number", minimum: 0, maximum: 1 },
    summary: text,
    explains: { type: "array", items: { type: "string", pattern: ID }, nullable: true },
    evidence: { type: "array", items: evidenceSchema, nullable: true },
    remediation: remediationSchema,
  },
  // A cause without its symptom is how a diagnosis became confidently wrong: every cause must say what it explains.
  required: ["id", "title", "symptom", "confidence", "summary"],
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
