// The shape of a playbook test file (rules/tests/*.yaml): an alert and a cluster state in, an expected cause out.
import type { JSONSchemaType } from "ajv";
import type { KubeObject } from "./kube-object.ts";
import { type InputSeries, intervalSchema, seriesSchema } from "./series-schema.ts";

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
  /**
   * The id of the cause that must rank first; "no_correlation" for the runbook's fallback (every cause checked, none
   * holds), "could_not_check" when no cause holds and some could not be checked.
   */
  cause: string;
  /** Text the top cause's summary must contain. */
  summary?: string;
  /** Text each of which must appear in some evidence line of the top cause. */
  evidence?: string[];
  /** Text each of which must appear in some remediation line of the top cause. */
  remediation?: string[];
  /** Causes that must not be in the diagnosis at all. */
  absent?: string[];
  /** The causes the diagnosis must rank first, in this order, starting with `cause` (more may follow). */
  ranked?: string[];
  /** Causes the top cause must be the deeper reason for: each holds, and the top cause names it as explained. */
  explains?: string[];
  /** Causes the evidence must rule out (listed by title under "Ruled out"). */
  ruledOut?: string[];
  /** Text each of which must appear nowhere in the top cause's summary, in any of its evidence lines, in any remediation line. */
  notContains?: { summary?: string[]; evidence?: string[]; remediation?: string[] };
  /**
   * Steps that must not run (skipped by their own `when` or an include's): a canned answer given for one of them is
   * there to show it would have mattered, and is not reported as unused.
   */
  notRun?: string[];
  partial?: boolean;
  /** Causes that must be listed as not checked (a read they need failed); others may be too. */
  notChecked?: string[];
  /** Text each of which must appear in some line of what could not be read ("Prometheus … could not be reached"). */
  couldNotRead?: string[];
  /** The top cause's checks, "made of total": "3 of 4" when one check could not be made. */
  checks?: string;
}

/**
 * What a case makes fail, by step id or by backend (`prometheus`; `kubernetes`, the API server's object and log reads;
 * `audit`): `refused` (the backend refuses the connection, worded as the service words it), `timeout` or `hang` (the
 * read never answers: the step times out), or any other text (the read fails with that message).
 */
export type Faults = Record<string, string>;

/** The backends a case can make fail as a whole, and the step kinds each serves. */
export const FAULT_BACKENDS = { prometheus: ["prometheus"], kubernetes: ["kubernetes", "logs"], audit: ["audit"] } as const;
export type FaultBackend = keyof typeof FAULT_BACKENDS;

export interface TestCase {
  name: string;
  /** The case's clock (RFC 3339): overrides the file's `at`. */
  at?: string;
  /** `npm run demo` fires this case's alert at the service, against this case's cluster. */
  demo?: boolean;
  alert?: AlertFixture;
  cluster?: ClusterFixture;
  /** Results of the playbook's PromQL steps, by step id; a step not listed returns no series. */
  prometheus?: Record<string, PrometheusFixture>;
  /** Rows of the playbook's audit-log steps, by step id; without it audit steps are skipped as unconfigured. */
  audit?: Record<string, Array<Record<string, string | number>>>;
  /** Input series in promtool's notation, added to the file's: the case's PromQL steps run on a real Prometheus (series.ts). */
  series?: InputSeries[];
  /** Between two samples of `series` (default the file's, else 1m). */
  interval?: string;
  /** Reads that fail in this case, by step id or backend (Faults). */
  faults?: Faults;
  expect: Expectation;
}

export interface TestFile {
  playbook: string;
  /**
   * The time every case runs at (RFC 3339), unless the case gives its own: "now-5m" in fixtures, the time functions
   * of conditions, the fake API server and Prometheus answers all use it. Default DEFAULT_TEST_TIME.
   */
  at?: string;
  /** Start every case from the shared base cluster (base-cluster.ts); default true. */
  baseCluster?: boolean;
  /** Defaults every case starts from. */
  alert?: AlertFixture;
  cluster?: ClusterFixture;
  prometheus?: Record<string, PrometheusFixture>;
  /** Input series every case starts from (series.ts); a case's series with the same labels replaces one. */
  series?: InputSeries[];
  interval?: string;
  cases: TestCase[];
}

/** The clock of a test that sets none: fixed, so a run today gives what a run next year gives. */
export const DEFAULT_TEST_TIME = "2026-11-23T10:00:00Z";

const RFC3339 = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$";
const timeSchema = { type: "string", nullable: true, pattern: RFC3339 } as const;

/** ObjectMeta's fields: a misspelt one (`label:`) would leave the object without what the case means it to have. */
const objectMetaSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    namespace: { type: "string" },
    generateName: { type: "string" },
    uid: { type: "string" },
    resourceVersion: { type: "string" },
    generation: { type: "number" },
    creationTimestamp: { type: "string" },
    deletionTimestamp: { type: "string" },
    deletionGracePeriodSeconds: { type: "number" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
    ownerReferences: {
      type: "array",
      items: {
        type: "object",
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          name: { type: "string" },
          uid: { type: "string" },
          controller: { type: "boolean" },
          blockOwnerDeletion: { type: "boolean" },
        },
        required: ["apiVersion", "kind", "name"],
        additionalProperties: false,
      },
    },
    finalizers: { type: "array", items: { type: "string" } },
    managedFields: { type: "array", items: { type: "object" } },
    selfLink: { type: "string" },
  },
  required: ["name"],
  additionalProperties: false,
} as const;

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
          metadata: objectMetaSchema,
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
    at: timeSchema,
    baseCluster: { type: "boolean", nullable: true },
    alert: alertSchema,
    cluster: clusterSchema,
    prometheus: prometheusSchema,
    series: seriesSchema,
    interval: intervalSchema,
    cases: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        properties: {
          name: { type: "string", minLength: 1 },
          at: timeSchema,
          demo: { type: "boolean", nullable: true },
          alert: alertSchema,
          cluster: clusterSchema,
          prometheus: prometheusSchema,
          audit: { type: "object", nullable: true, required: [], additionalProperties: { type: "array", items: { type: "object" } } },
          series: seriesSchema,
          interval: intervalSchema,
          faults: { type: "object", nullable: true, required: [], additionalProperties: { type: "string", minLength: 1 } },
          expect: {
            type: "object",
            properties: {
              cause: { type: "string" },
              summary: { type: "string", nullable: true },
              evidence: { type: "array", items: { type: "string" }, nullable: true },
              remediation: { type: "array", items: { type: "string" }, nullable: true },
              absent: { type: "array", items: { type: "string" }, nullable: true },
              ranked: { type: "array", items: { type: "string" }, minItems: 1, nullable: true },
              explains: { type: "array", items: { type: "string" }, nullable: true },
              ruledOut: { type: "array", items: { type: "string" }, nullable: true },
              notContains: {
                type: "object",
                nullable: true,
                properties: {
                  summary: { type: "array", items: { type: "string", minLength: 1 }, nullable: true },
                  evidence: { type: "array", items: { type: "string", minLength: 1 }, nullable: true },
                  remediation: { type: "array", items: { type: "string", minLength: 1 }, nullable: true },
                },
                additionalProperties: false,
              },
              notRun: { type: "array", items: { type: "string" }, nullable: true },
              partial: { type: "boolean", nullable: true },
              notChecked: { type: "array", items: { type: "string" }, nullable: true },
              couldNotRead: { type: "array", items: { type: "string" }, nullable: true },
              checks: { type: "string", nullable: true, pattern: "^[0-9]+ of [0-9]+$" },
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
