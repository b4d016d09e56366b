// Kubernetes API reads: get one object by name, or list with selectors, paginated and capped.
import type { JSONSchemaType } from "ajv";
import type { ResultTable } from "../../model/diagnosis.ts";
import { describeKubernetesRead, type KubernetesRead, kubernetesRequestLine } from "../../sources/kubernetes.ts";
import { optionalText } from "../rule-schema-parts.ts";
import { cell, type StepKind, TABLE_ROWS } from "./step-kind.ts";

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

const schema: JSONSchemaType<KubernetesStepSpec> = {
  type: "object",
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
};

function table(data: Record<string, unknown>): ResultTable | undefined {
  if (!Array.isArray(data.items) || data.items.length === 0) return undefined;
  const items = data.items as Array<{
    metadata?: { namespace?: string; name?: string; creationTimestamp?: string };
    status?: Record<string, unknown>;
  }>;
  const rows = items.slice(0, TABLE_ROWS).map((item) => {
    const conditions = Array.isArray(item.status?.conditions) ? (item.status.conditions as Array<{ type?: string; status?: string }>) : [];
    const state = cell(item.status?.phase) || conditions.map((c) => `${c.type}=${c.status}`).join(" ");
    return [cell(item.metadata?.namespace), cell(item.metadata?.name), state, cell(item.metadata?.creationTimestamp)];
  });
  return { columns: ["namespace", "name", "status", "created"], rows, more: Math.max(0, items.length - TABLE_ROWS) };
}

export const kubernetesStep: StepKind<KubernetesStepSpec, KubernetesRead> = {
  name: "kubernetes",
  answeredBy: "API server",
  schema,
  fields: { namespace: "objectName", name: "objectName", labelSelector: "labelSelector", fieldSelector: "fieldSelector" },
  empty: { items: [], count: 0 },
  request: (spec, field, limits) => ({
    apiVersion: spec.apiVersion,
    kind: spec.kind,
    namespace: field("namespace"),
    name: field("name"),
    labelSelector: field("labelSelector"),
    fieldSelector: field("fieldSelector"),
    limit: Math.min(spec.limit ?? limits.listLimit, limits.listLimit),
    sortBy: spec.sortBy,
  }),
  describe: describeKubernetesRead,
  requestLine: kubernetesRequestLine,
  reader: (sources) => sources.kubernetes,
  absent: (data) => data.found === false || (Array.isArray(data.items) && data.items.length === 0 && data.found !== true),
  table,
};
