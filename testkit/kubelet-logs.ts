// What a kubelet answers for a container's log, given the pod as stored and the logs a fixture holds: which instance
// it serves (its validateContainerLogStatus), then sinceTime/sinceSeconds, timestamps, tailLines and limitBytes. The
// fake API server answers log reads with it, and so does the stand-in kubelet behind the real API server in the tests,
// so both serve one behaviour. The API server has checked the options and the container's name before this runs.

/** ClusterState.logs: "namespace/pod/container" (or "namespace/pod"), and ".../previous" for the previous instance. */
export type FixtureLogs = Record<string, string>;

export interface LogOptions {
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  /** Lines stamped before this are left out (sinceTime, or now − sinceSeconds). */
  since?: Date;
}

export type KubeletLog = { status: 200; body: string } | { status: 400; message: string };

/** An RFC 3339 time and one space at a line's start: when the kubelet recorded the line. */
export const LOG_LINE_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))(?: |$)/;

interface PodLike {
  metadata: { name: string; namespace?: string };
  status?: unknown;
}

function path(o: unknown, dotted: string): unknown {
  let value = o;
  for (const part of dotted.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function text(o: unknown, dotted: string): string {
  const value = path(o, dotted);
  return typeof value === "string" ? value : "";
}

export function kubeletLog(logs: FixtureLogs, pod: PodLike, container: string, options: LogOptions): KubeletLog {
  const chosen = instanceLog(logs, pod, container, options.previous);
  if ("message" in chosen) return { status: 400, message: chosen.message };
  let lines = chosen.text === "" ? [] : chosen.text.replace(/\n$/, "").split("\n");
  const since = options.since;
  if (since !== undefined) {
    lines = lines.filter((line) => {
      const stamp = LOG_LINE_TIME.exec(line)?.[1];
      return stamp === undefined || new Date(stamp).getTime() >= since.getTime();
    });
  }
  if (!options.timestamps) lines = lines.map((line) => line.replace(LOG_LINE_TIME, ""));
  if (options.tailLines !== undefined) lines = options.tailLines === 0 ? [] : lines.slice(-options.tailLines);
  let body = lines.map((line) => `${line}\n`).join("");
  if (options.limitBytes !== undefined) body = Buffer.from(body).subarray(0, options.limitBytes).toString("utf8");
  return { status: 200, body };
}

/** Which instance's log the kubelet serves, or why it serves none. */
function instanceLog(logs: FixtureLogs, pod: PodLike, container: string, previous: boolean): { text: string } | { message: string } {
  const namespace = pod.metadata.namespace ?? "";
  const base = `${namespace}/${pod.metadata.name}/${container}`;
  const statuses = ["status.initContainerStatuses", "status.containerStatuses", "status.ephemeralContainerStatuses"]
    .map((p) => path(pod, p))
    .filter(Array.isArray)
    .flat();
  const quoted = `"${container}" in pod "${pod.metadata.name}"`;
  const current = logs[base] ?? logs[`${namespace}/${pod.metadata.name}`] ?? "";
  if (statuses.length === 0) {
    // A hand-written pod without any status: serve what the state holds rather than insist on kubelet bookkeeping.
    if (!previous) return { text: current };
    const old = logs[`${base}/previous`];
    return old === undefined ? { message: `previous terminated container ${quoted} not found` } : { text: old };
  }
  const status: unknown = statuses.find((s) => text(s, "name") === container);
  if (status === undefined) return { message: `container ${quoted} is not available` };
  const lastTerminatedId = text(status, "lastState.terminated.containerID");
  if (previous) {
    if (lastTerminatedId === "") return { message: `previous terminated container ${quoted} not found` };
    return { text: logs[`${base}/previous`] ?? "" };
  }
  if (path(status, "state.running") !== undefined) return { text: current };
  if (path(status, "state.terminated") !== undefined) {
    if (text(status, "state.terminated.containerID") !== "") return { text: current };
    if (lastTerminatedId !== "") return { text: logs[`${base}/previous`] ?? current };
    return { message: `container ${quoted} is terminated` };
  }
  // Waiting (e.g. CrashLoopBackOff) after an earlier run: the kubelet serves the last run's log.
  if (lastTerminatedId !== "") return { text: logs[`${base}/previous`] ?? current };
  const waiting = path(status, "state.waiting");
  const reason = text(status, "state.waiting.reason");
  if (waiting !== undefined) {
    if (reason === "ErrImagePull") return { message: `container ${quoted} is waiting to start: image can't be pulled` };
    if (reason === "ImagePullBackOff") return { message: `container ${quoted} is waiting to start: trying and failing to pull image` };
    return { message: `container ${quoted} is waiting to start: ${reason}` };
  }
  return { message: `container ${quoted} is waiting to start - no logs yet` };
}
