// The shape of a playbook test file (rules/tests/*.yaml): an alert and a cluster state in, an expected cause out.
import type { JSONSchemaType } from "ajv";
import type { KubeObject } from "./fixture-cluster.ts";

/** An instant result, or a range result with one value per step ending now. */
export type PrometheusFixture =
  | Array<{ labels?: Record<string, string>; value: number }>
  | { range: Array<{ labels?: Record<string, string>; values: number[] }>; step?: string };

export interface ClusterFixture {
  objects?: KubeObject[];
  /** Objects of the defaults to leave out in this case. */
  remove?: Array<{ kind: string; name: string; namespace?: string }>;
  /** "namespace/pod/container" (or "namespace/pod") → log text. */
  logs?: Record<string, string>;
}

export interface AlertFixture {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** RFC 3339, or relative to now: "now-5m". */
  startsAt?: string;
}

export interface Expectation {
  /** The id of the cause that must rank first ("no_correlation" for the runbook's fallback). */
  cause: string;
  /** Text the top cause's summary must contain. */
  summary?: string;
  /** Text each of which must appear in some evidence line of the top cause. */
  evidence?: string[];
  /** Text each of which must appear in some remediation line of the top cause. */
  remediation?: string[];
  /** Causes that must not be in the diagnosis at all. */
  absent?: string[];
  partial?: boolean;
}

export interface TestCase {
  name: string;
  /** `npm run demo` fires this case's alert at the service, against this case's cluster. */
  demo?: boolean;
  alert?: AlertFixture;
  cluster?: ClusterFixture;
  /** Results of the playbook's PromQL steps, by step id; a step not listed returns no series. */
  prometheus?: Record<string, PrometheusFixture>;
  /** Rows of the playbook's audit-log steps, by step id; without it audit steps are skipped as unconfigured. */
  audit?: Record<string, Array<Record<string, string | number>>>;
  expect: Expectation;
}

export interface TestFile {
  playbook: string;
  /** Defaults every case starts from. */
  alert?: AlertFixture;
  cluster?: ClusterFixture;
  prometheus?: Record<string, PrometheusFixture>;
  cases: TestCase[];
}

const stringMap = { type: "object", additionalProperties: { type: "string" }, required: [], nullable: true } as const;

const alertSchema = {
  type: "object",
  nullable: true,
  properties: { labels: stringMap, annotations: stringMap, startsAt: { type: "string", nullable: true } },
  additionalProperties: false,
} as const;

const clusterSchema = {
  type: "object",
  nullable: true,
  properties: {
    objects: {
      type: "array",
      nullable: true,
      items: {
        type: "object",
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          metadata: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
        },
        required: ["apiVersion", "kind", "metadata"],
      },
    },
    remove: {
      type: "array",
      nullable: true,
      items: {
        type: "object",
        properties: { kind: { type: "string" }, name: { type: "string" }, namespace: { type: "string", nullable: true } },
        required: ["kind", "name"],
        additionalProperties: false,
      },
    },
    logs: stringMap,
  },
  additionalProperties: false,
} as const;

const prometheusSchema = {
  type: "object",
  nullable: true,
  required: [],
  additionalProperties: {
    anyOf: [
      {
        type: "array",
        items: {
          type: "object",
          properties: { labels: stringMap, value: { type: "number" } },
          required: ["value"],
          additionalProperties: false,
        },
      },
      {
        type: "object",
        properties: {
          range: {
            type: "array",
            items: {
              type: "object",
              properties: { labels: stringMap, values: { type: "array", items: { type: "number" } } },
              required: ["values"],
              additionalProperties: false,
            },
          },
          step: { type: "string", nullable: true },
        },
        required: ["range"],
        additionalProperties: false,
      },
    ],
  },
} as const;

export const testFileSchema = {
  $id: "https://alert-enricher.dev/rules/tests/schema.json",
  title: "alert-enricher playbook tests",
  type: "object",
  properties: {
    playbook: { type: "string" },
    alert: alertSchema,
    cluster: clusterSchema,
    prometheus: prometheusSchema,
    cases: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        properties: {
          name: { type: "string", minLength: 1 },
          demo: { type: "boolean", nullable: true },
          alert: alertSchema,
          cluster: clusterSchema,
          prometheus: prometheusSchema,
          audit: { type: "object", nullable: true, required: [], additionalProperties: { type: "array", items: { type: "object" } } },
          expect: {
            type: "object",
            properties: {
              cause: { type: "string" },
              summary: { type: "string", nullable: true },
              evidence: { type: "array", items: { type: "string" }, nullable: true },
              remediation: { type: "array", items: { type: "string" }, nullable: true },
              absent: { type: "array", items: { type: "string" }, nullable: true },
              partial: { type: "boolean", nullable: true },
            },
            required: ["cause"],
            additionalProperties: false,
          },
        },
        required: ["name", "expect"],
        additionalProperties: false,
      },
    },
  },
  required: ["playbook", "cases"],
  additionalProperties: false,
} as unknown as JSONSchemaType<TestFile>;
