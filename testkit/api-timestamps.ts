// Times as a real API server stores and serves them. A metav1.Time (creationTimestamp, conditions' times, an Event's
// firstTimestamp/lastTimestamp, ...) keeps whole seconds: it is stored as Unix seconds and written with
// time.RFC3339, in UTC, so "10:00:00.750Z" reads back "10:00:00Z". A metav1.MicroTime (an Event's eventTime and
// series.lastObservedTime, a Lease's acquireTime/renewTime) keeps microseconds and is written with exactly six
// fractional digits. The zero time is written as null. A string that is no RFC 3339 time could not have been stored.
import type { KubeObject } from "./kube-object.ts";

const TIME_FIELDS = new Set([
  "creationTimestamp",
  "deletionTimestamp",
  "lastTransitionTime",
  "lastProbeTime",
  "lastHeartbeatTime",
  "lastUpdateTime",
  "startedAt",
  "finishedAt",
  "startTime",
  "completionTime",
  "lastScheduleTime",
  "lastSuccessfulTime",
  "firstTimestamp",
  "lastTimestamp",
  "deprecatedFirstTimestamp",
  "deprecatedLastTimestamp",
]);

const MICRO_TIME_FIELDS = new Set(["eventTime", "lastObservedTime", "acquireTime", "renewTime"]);

/** Free-form maps whose keys are the user's, never field names: their values are left as they are. */
const FREE_FORM = new Set(["labels", "annotations", "data", "stringData", "binaryData"]);

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

const ZERO_TIME = "0001-01-01T00:00:00";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The server's form of a time field's value, or an Error message when it could not hold it. */
function serverTime(value: unknown, micro: boolean): { value: string | null } | { problem: string } {
  if (value === null || value === undefined) return { value: null };
  const match = typeof value === "string" ? RFC3339.exec(value) : null;
  if (!match) return { problem: `${JSON.stringify(value)} is not an RFC 3339 time` };
  const [, date, clock, fraction = "", zone = "Z"] = match;
  const parsed = new Date(`${date}T${clock}${zone.toUpperCase()}`);
  if (Number.isNaN(parsed.getTime())) return { problem: `${JSON.stringify(value)} is not an RFC 3339 time` };
  const utcSeconds = parsed.toISOString().slice(0, 19);
  const micros = `${fraction}000000`.slice(0, 6);
  if (utcSeconds === ZERO_TIME && (!micro || /^0+$/.test(micros))) return { value: null };
  return { value: micro ? `${utcSeconds}.${micros}Z` : `${utcSeconds}Z` };
}

function normalise(node: unknown, path: string, onProblem: (path: string, problem: string) => never): unknown {
  if (Array.isArray(node)) return node.map((item, i) => normalise(item, `${path}[${i}]`, onProblem));
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const at = path === "" ? key : `${path}.${key}`;
    const micro = MICRO_TIME_FIELDS.has(key);
    // managedFields entries carry their time as `time`.
    const isTime = micro || TIME_FIELDS.has(key) || (key === "time" && /\.managedFields\[\d+\]$/.test(path));
    if (isTime && value !== undefined) {
      const result = serverTime(value, micro);
      if ("problem" in result) onProblem(at, result.problem);
      out[key] = result.value;
    } else if (FREE_FORM.has(key)) {
      out[key] = value;
    } else {
      out[key] = normalise(value, at, onProblem);
    }
  }
  return out;
}

/**
 * The object with every time field as the server would serve it. Only the metadata of a custom resource: its other
 * fields are its own. Throws, naming the object and field, for a value no API server could have stored.
 */
export function withServerTimestamps(o: KubeObject, builtIn: boolean): KubeObject {
  const onProblem = (path: string, problem: string): never => {
    const where = o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
    throw new Error(`${o.kind} ${where}: ${path}: ${problem}; a real API server refuses to store it`);
  };
  if (builtIn) return normalise(o, "", onProblem) as KubeObject;
  return { ...o, metadata: normalise(o.metadata, "metadata", onProblem) as KubeObject["metadata"] };
}
