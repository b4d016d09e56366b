// PromQL: an instant query, or a range query over a window ending at the run's evaluation time.
import type { JSONSchemaType } from "ajv";
import type { ResultTable } from "../../model/diagnosis.ts";
import { describePromQuery, type PromQuery } from "../../sources/prometheus.ts";
import { DURATION, parseDuration, text } from "../rule-schema-parts.ts";
import { type StepKind, TABLE_ROWS } from "./step-kind.ts";

export interface PrometheusStepSpec {
  query: string;
  /** A range query over this long window ending now ("30m"); an instant query when absent. */
  range?: string;
  step?: string;
}

const schema: JSONSchemaType<PrometheusStepSpec> = {
  type: "object",
  properties: {
    query: text,
    range: { type: "string", pattern: DURATION, nullable: true },
    step: { type: "string", pattern: DURATION, nullable: true },
  },
  required: ["query"],
  additionalProperties: false,
};

function table(data: Record<string, unknown>): ResultTable | undefined {
  if (!Array.isArray(data.series) || data.series.length === 0) return undefined;
  const series = data.series as Array<{ labels?: Record<string, string>; value?: number; last?: number; min?: number; max?: number }>;
  const rows = series.slice(0, TABLE_ROWS).map((s) => {
    const labels = Object.entries(s.labels ?? {})
      .map(([k, v]) => `${k}="${v}"`)
      .join(", ");
    const value = s.value !== undefined ? String(s.value) : `last ${s.last}, min ${s.min}, max ${s.max}`;
    return [`{${labels}}`, value];
  });
  return { columns: ["series", "value"], rows, more: Math.max(0, series.length - TABLE_ROWS) };
}

export const prometheusStep: StepKind<PrometheusStepSpec, PromQuery> = {
  name: "prometheus",
  answeredBy: "Prometheus",
  schema,
  fields: { query: "promql" },
  empty: { series: [], count: 0, value: null },
  request: (spec, field) => ({
    query: field("query") ?? "",
    ...(spec.range ? { rangeMs: parseDuration(spec.range), stepMs: spec.step ? parseDuration(spec.step) : undefined } : {}),
  }),
  describe: describePromQuery,
  requestLine: (request) => request.query,
  reader: (sources) => sources.prometheus,
  absent: (data) => Array.isArray(data.series) && data.series.length === 0,
  table,
};
