// The files the real API server's sandbox and the test process share (kube-apiserver-sandbox.ts, kube-apiserver.ts).

/** What the stand-in kubelet serves, read again on every request: `{ logs: ClusterState.logs, pods: [Pod] }` as JSON. */
export const KUBELET_STATE_FILE = "kubelet-state.json";
