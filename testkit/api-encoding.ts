// What a v1.36 kube-apiserver writes of a stored object, beyond what it was given: the object goes to etcd as protobuf
// and comes back as a Go struct, which encoding/json then writes by its field tags (k8s.io/api v0.36.3 types.go).
// So an empty list or map is gone (nil after the round trip: left out with `omitempty`, null without it), a zero
// number or "" in an `omitempty` field is left out, while a field without `omitempty` is written even when unset (0,
// "", false) and a struct field is written even when empty ({}; an unset metav1.Time inside one as null). Only the
// fields of the kinds playbooks read are covered, not every type of the API.
import type { KubeObject } from "./kube-object.ts";
import { child, isRecord, records, type Json } from "./json-paths.ts";

/** A field without `omitempty` (or a struct) that is unset is written as its zero value. */
function zeroIfUnset(o: Json, key: string, zero: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = zero;
}

/** An `omitempty` field holding its type's zero value is left out. */
function omitIfZero(o: Json, keys: string[]): void {
  for (const key of keys) if (o[key] === 0 || o[key] === "" || o[key] === false) delete o[key];
}

/** Kinds whose status is a Go struct, not a pointer: written as {} when unset, though it has `omitempty`. */
const STATUS_STRUCT = new Set([
  "/Pod",
  "/Service",
  "/Node",
  "/Namespace",
  "/ResourceQuota",
  "/ReplicationController",
  "apps/Deployment",
  "apps/ReplicaSet",
  "apps/DaemonSet",
  "apps/StatefulSet",
  "batch/Job",
  "batch/CronJob",
  "certificates.k8s.io/CertificateSigningRequest",
  "flowcontrol.apiserver.k8s.io/FlowSchema",
  "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
  "apiregistration.k8s.io/APIService",
]);

/** Status numbers without `omitempty`: written as 0 when unset. */
const STATUS_ALWAYS_WRITTEN: Record<string, string[]> = {
  "apps/ReplicaSet": ["replicas"],
  "apps/StatefulSet": ["replicas", "availableReplicas"],
  "apps/DaemonSet": ["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"],
};

/** Status numbers and strings with `omitempty` (not pointers): left out when 0 or "". */
const STATUS_OMITTED_WHEN_ZERO: Record<string, string[]> = {
  "/Pod": ["observedGeneration", "phase", "message", "reason", "nominatedNodeName", "hostIP", "podIP", "qosClass", "resize"],
  "/Node": ["phase"],
  "/Namespace": ["phase"],
  "apps/Deployment": ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"],
  "apps/ReplicaSet": ["fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"],
  "apps/DaemonSet": ["observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable"],
  "apps/StatefulSet": ["observedGeneration", "readyReplicas", "currentReplicas", "updatedReplicas", "currentRevision", "updateRevision"],
  "batch/Job": ["active", "succeeded", "failed", "completedIndexes"],
};

/** Spec fields with `omitempty` (not pointers) that fixtures write as false or 0: left out. */
const SPEC_OMITTED_WHEN_ZERO: Record<string, string[]> = {
  "/Pod": ["hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "nodeName", "priorityClassName", "hostname", "subdomain"],
  "/Node": ["unschedulable", "podCIDR", "providerID"],
};

/** The metav1.Time fields of each kind's status conditions: a struct, so an unset one is written as null. */
const CONDITION_TIMES: Record<string, string[]> = {
  "/Pod": ["lastProbeTime", "lastTransitionTime"],
  "/Node": ["lastHeartbeatTime", "lastTransitionTime"],
  "/Namespace": ["lastTransitionTime"],
  "/ReplicationController": ["lastTransitionTime"],
  "apps/Deployment": ["lastUpdateTime", "lastTransitionTime"],
  "apps/ReplicaSet": ["lastTransitionTime"],
  "apps/DaemonSet": ["lastTransitionTime"],
  "apps/StatefulSet": ["lastTransitionTime"],
  "batch/Job": ["lastProbeTime", "lastTransitionTime"],
  "certificates.k8s.io/CertificateSigningRequest": ["lastUpdateTime", "lastTransitionTime"],
  "flowcontrol.apiserver.k8s.io/FlowSchema": ["lastTransitionTime"],
  "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration": ["lastTransitionTime"],
  "apiregistration.k8s.io/APIService": ["lastTransitionTime"],
};

/** Lists without `omitempty`, by field name within a kind: written as null when empty. Every other list is left out. */
const LISTS_WRITTEN_WHEN_EMPTY: Record<string, Set<string>> = {
  "discovery.k8s.io/EndpointSlice": new Set(["endpoints", "ports", "addresses"]),
  "flowcontrol.apiserver.k8s.io/FlowSchema": new Set(["subjects", "verbs", "apiGroups", "resources", "namespaces", "nonResourceURLs"]),
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration": new Set(["admissionReviewVersions"]),
  "admissionregistration.k8s.io/MutatingWebhookConfiguration": new Set(["admissionReviewVersions"]),
};

/** Map fields (every one `omitempty`): left out when empty. A struct written {} stays. */
const MAP_FIELDS = new Set([
  "labels",
  "annotations",
  "data",
  "binaryData",
  "stringData",
  "nodeSelector",
  "matchLabels",
  "limits",
  "requests",
  "capacity",
  "allocatable",
  "hard",
  "used",
  "allocatedResources",
  "extra",
]);

/** Free-form maps whose keys are the user's: nothing inside them is a field. */
const FREE_FORM = new Set(["labels", "annotations", "data", "binaryData", "stringData"]);

/** Empty lists and maps do not survive the round trip through etcd. */
function dropEmpty(node: unknown, keptAsNull: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) dropEmpty(item, keptAsNull);
    return;
  }
  if (!isRecord(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (Array.isArray(value) && value.length === 0) {
      if (keptAsNull.has(key)) node[key] = null;
      else delete node[key];
    } else if (isRecord(value) && MAP_FIELDS.has(key) && Object.keys(value).length === 0) {
      delete node[key];
    } else if (!FREE_FORM.has(key)) {
      dropEmpty(value, keptAsNull);
    }
  }
}

/** Every container's resources is a struct: written as {} when unset. */
function containerResources(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) containerResources(item);
    return;
  }
  if (!isRecord(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (["containers", "initContainers", "ephemeralContainers"].includes(key)) {
      for (const c of records(value)) zeroIfUnset(c, "resources", {});
    } else if (key !== "status" && key !== "metadata") {
      containerResources(value);
    }
  }
}

/** A pod template's (and a job template's) metadata is a struct: written as {} when unset. */
function templateMetadata(o: Json, key: string): void {
  const spec = isRecord(o.spec) ? o.spec : undefined;
  if (key === "batch/CronJob") {
    const jobTemplate = spec && isRecord(spec.jobTemplate) ? spec.jobTemplate : undefined;
    if (!jobTemplate) return;
    zeroIfUnset(jobTemplate, "metadata", {});
    const jobSpec = isRecord(jobTemplate.spec) ? jobTemplate.spec : undefined;
    if (jobSpec && isRecord(jobSpec.template)) zeroIfUnset(jobSpec.template, "metadata", {});
    return;
  }
  if (spec && isRecord(spec.template)) zeroIfUnset(spec.template, "metadata", {});
}

/** ContainerState: each state a pointer; inside, exitCode has no `omitempty` and the times are structs. */
function containerState(state: Json): void {
  if (isRecord(state.running)) zeroIfUnset(state.running, "startedAt", null);
  if (isRecord(state.terminated)) {
    const terminated = state.terminated;
    zeroIfUnset(terminated, "exitCode", 0);
    zeroIfUnset(terminated, "startedAt", null);
    zeroIfUnset(terminated, "finishedAt", null);
    omitIfZero(terminated, ["signal", "reason", "message", "containerID"]);
  }
  if (isRecord(state.waiting)) omitIfZero(state.waiting, ["reason", "message"]);
}

/** ContainerStatus: name, ready, restartCount, image and imageID have no `omitempty`; state and lastState are structs. */
function containerStatuses(status: Json): void {
  for (const list of ["initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"]) {
    for (const s of records(status[list])) {
      zeroIfUnset(s, "name", "");
      containerState(child(s, "state"));
      containerState(child(s, "lastState"));
      zeroIfUnset(s, "ready", false);
      zeroIfUnset(s, "restartCount", 0);
      zeroIfUnset(s, "image", "");
      zeroIfUnset(s, "imageID", "");
      omitIfZero(s, ["containerID"]);
    }
  }
}

const NODE_INFO_FIELDS = [
  "machineID",
  "systemUUID",
  "bootID",
  "kernelVersion",
  "osImage",
  "containerRuntimeVersion",
  "kubeletVersion",
  "kubeProxyVersion",
  "operatingSystem",
  "architecture",
];

/** NodeStatus: nodeInfo and daemonEndpoints are structs whose fields have no `omitempty`. */
function nodeStatus(status: Json): void {
  const info = child(status, "nodeInfo");
  for (const field of NODE_INFO_FIELDS) zeroIfUnset(info, field, "");
  zeroIfUnset(child(child(status, "daemonEndpoints"), "kubeletEndpoint"), "Port", 0);
}

/**
 * The built-in object `o` as the server writes it back: what did not survive the round trip left out, what Go writes
 * anyway filled in. The input is not changed.
 */
export function withGoEncoding(o: KubeObject): KubeObject {
  const slash = o.apiVersion.indexOf("/");
  const key = `${slash === -1 ? "" : o.apiVersion.slice(0, slash)}/${o.kind}`;
  const copy = structuredClone(o) as unknown as Json;
  dropEmpty(copy, LISTS_WRITTEN_WHEN_EMPTY[key] ?? new Set());
  if (key === "/Service" && isRecord(copy.spec) && isRecord(copy.spec.selector) && Object.keys(copy.spec.selector).length === 0) {
    delete copy.spec.selector;
  }
  if (isRecord(copy.spec)) omitIfZero(copy.spec, SPEC_OMITTED_WHEN_ZERO[key] ?? []);
  if (STATUS_STRUCT.has(key)) {
    const status = child(copy, "status");
    for (const counter of STATUS_ALWAYS_WRITTEN[key] ?? []) zeroIfUnset(status, counter, 0);
    if (key === "/Service") zeroIfUnset(status, "loadBalancer", {});
  }
  const status = isRecord(copy.status) ? copy.status : undefined;
  if (status) {
    omitIfZero(status, STATUS_OMITTED_WHEN_ZERO[key] ?? []);
    // These condition types have `omitempty` on reason and message too (metav1.Condition, which others use, has not).
    const times = CONDITION_TIMES[key];
    for (const condition of times ? records(status.conditions) : []) {
      for (const time of times ?? []) zeroIfUnset(condition, time, null);
      omitIfZero(condition, ["reason", "message"]);
    }
    if (key === "/Pod") containerStatuses(status);
    if (key === "/Node") nodeStatus(status);
  }
  templateMetadata(copy, key);
  containerResources(copy.spec);
  return copy as unknown as KubeObject;
}
