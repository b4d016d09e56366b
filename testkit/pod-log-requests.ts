// A pod log read checked as the API server checks it before it asks the kubelet: the query converted in the order of
// PodLogOptions' fields, ValidatePodLogOptions' 422 with causes, and the container named or chosen.
import { KubeError } from "./api-errors.ts";
import { field, fieldText } from "./json-paths.ts";
import type { KubeObject } from "./kube-object.ts";
import { queryBool, queryInt64, queryTime } from "./query-parameters.ts";

export interface PodLogRequest {
  /** "" when the query names none. */
  container: string;
  previous: boolean;
  sinceSeconds: number | undefined;
  sinceTime: Date | undefined;
  timestamps: boolean;
  tailLines: number | undefined;
  limitBytes: number | undefined;
}

/** The log options of a query, or the 400 or 422 the API server answers them with. */
export function podLogRequest(podName: string, query: Record<string, string>): PodLogRequest {
  const container = query.container ?? "";
  // Converted in the order of PodLogOptions' fields: the first that does not convert is the one named.
  const previous = queryBool(query.previous);
  const sinceSeconds = queryInt64(query.sinceSeconds);
  const sinceTimeGiven = query.sinceTime !== undefined;
  const sinceTime = sinceTimeGiven ? queryTime(query.sinceTime ?? "") : undefined;
  const timestamps = queryBool(query.timestamps);
  const tailLines = queryInt64(query.tailLines);
  const limitBytes = queryInt64(query.limitBytes);
  if (queryBool(query.follow)) throw new KubeError(400, "the fake API server does not stream logs (follow=true)");

  // ValidatePodLogOptions: its failures come back as 422 Invalid, each also a cause.
  const causes: Array<{ reason: string; message: string; field: string }> = [];
  const invalid = (field: string, value: number, why: string) =>
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${value}: ${why}`, field });
  if (tailLines !== undefined && tailLines < 0) invalid("tailLines", tailLines, "must be greater than or equal to 0");
  if (limitBytes !== undefined && limitBytes < 1) invalid("limitBytes", limitBytes, "must be greater than 0");
  if (sinceSeconds !== undefined && sinceTimeGiven) {
    // field.NewPath("") prints as "[]".
    causes.push({
      reason: "FieldValueForbidden",
      message: "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
      field: "[]",
    });
  } else if (sinceSeconds !== undefined && sinceSeconds < 1) {
    invalid("sinceSeconds", sinceSeconds, "must be greater than 0");
  }
  if (causes.length > 0) {
    const problems = causes.map((c) => `${c.field}: ${c.message}`);
    const joined = problems.length === 1 ? problems[0] : `[${problems.join(", ")}]`;
    throw new KubeError(422, `PodLogOptions "${podName}" is invalid: ${joined}`, { name: podName, kind: "PodLogOptions", causes });
  }
  return { container, previous, sinceSeconds, sinceTime, timestamps, tailLines, limitBytes };
}

function containerNames(pod: KubeObject, list: "initContainers" | "containers" | "ephemeralContainers"): string[] {
  const containers = field(pod, `spec.${list}`);
  return Array.isArray(containers) ? containers.map((c) => fieldText(c, "name")) : [];
}

/** The container a log read is for: the one named, else the pod's only one; 400 as the API server says it otherwise. */
export function logContainer(pod: KubeObject, container: string): string {
  const regular = containerNames(pod, "containers");
  const all = [...containerNames(pod, "initContainers"), ...regular, ...containerNames(pod, "ephemeralContainers")];
  if (container === "") {
    if (regular.length === 1 && regular[0] !== undefined) return regular[0];
    if (regular.length === 0) throw new KubeError(400, `pod ${pod.metadata.name} does not have a container`);
    throw new KubeError(400, `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${all.join(" ")}]`);
  }
  if (!all.includes(container)) throw new KubeError(400, `container ${container} is not valid for pod ${pod.metadata.name}`);
  return container;
}
