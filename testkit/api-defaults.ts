// The defaults a v1.36 kube-apiserver fills in when an object is created, so a fixture written without them reads back
// as the real server would serve it (and field selectors such as spec.restartPolicy or spec.schedulerName match).
// Taken from the defaulting functions and their generated callers in k8s.io/kubernetes pkg/apis/{core,apps,batch,
// discovery,networking,admissionregistration,flowcontrol}/v1 (defaults.go, zz_generated.defaults.go) and the
// aggregator's apiregistration/v1, plus the v1 round trip through the internal version (conversion.go) that fills
// spec.serviceAccount and status.podIP/podIPs. What Go's encoding then writes of the stored object is api-encoding.ts.
// Left out: volume sources nobody uses here (iSCSI, RBD, Azure disk, ScaleIO), resource quantities' rounding, and
// pod-level resources.
import type { KubeObject } from "./kube-object.ts";
import { child, isRecord, records, type Json } from "./json-paths.ts";

/** Go's zero value or a nil pointer: what a defaulting function replaces. */
function unset(value: unknown): boolean {
  return value === undefined || value === null || value === "" || value === 0;
}

/** A nil pointer only: an explicit 0 or "" in a pointer field is kept. */
function nil(value: unknown): boolean {
  return value === undefined || value === null;
}

function defaultTo(o: Json, key: string, value: unknown, isUnset: (v: unknown) => boolean = unset): void {
  if (isUnset(o[key])) o[key] = value;
}

/** parsers.ParseImageName's tag: "latest" when the reference names neither a tag nor a digest. */
function imageTag(image: string): string {
  // An empty reference does not parse: no tag.
  if (image === "") return "";
  const at = image.indexOf("@");
  const name = at === -1 ? image : image.slice(0, at);
  const lastPart = name.slice(name.lastIndexOf("/") + 1);
  const colon = lastPart.indexOf(":");
  if (colon !== -1) return lastPart.slice(colon + 1);
  return at === -1 ? "latest" : "";
}

function httpGet(action: unknown): void {
  if (!isRecord(action)) return;
  defaultTo(action, "path", "/");
  defaultTo(action, "scheme", "HTTP");
}

function probe(p: unknown): void {
  if (!isRecord(p)) return;
  defaultTo(p, "timeoutSeconds", 1);
  defaultTo(p, "periodSeconds", 10);
  defaultTo(p, "successThreshold", 1);
  defaultTo(p, "failureThreshold", 3);
  httpGet(p.httpGet);
  if (isRecord(p.grpc)) defaultTo(p.grpc, "service", "", nil);
}

function fieldRef(holder: unknown): void {
  if (isRecord(holder) && isRecord(holder.fieldRef)) defaultTo(holder.fieldRef, "apiVersion", "v1");
}

/** SetDefaults_Container and what zz_generated.defaults.go applies inside a container. */
function container(c: Json): void {
  if (unset(c.imagePullPolicy))
    c.imagePullPolicy = imageTag(typeof c.image === "string" ? c.image : "") === "latest" ? "Always" : "IfNotPresent";
  defaultTo(c, "terminationMessagePath", "/dev/termination-log");
  defaultTo(c, "terminationMessagePolicy", "File");
  for (const port of records(c.ports)) defaultTo(port, "protocol", "TCP");
  for (const env of records(c.env)) {
    if (!isRecord(env.valueFrom)) continue;
    fieldRef(env.valueFrom);
    if (isRecord(env.valueFrom.fileKeyRef)) defaultTo(env.valueFrom.fileKeyRef, "optional", false, nil);
  }
  probe(c.livenessProbe);
  probe(c.readinessProbe);
  probe(c.startupProbe);
  if (isRecord(c.lifecycle)) {
    if (isRecord(c.lifecycle.postStart)) httpGet(c.lifecycle.postStart.httpGet);
    if (isRecord(c.lifecycle.preStop)) httpGet(c.lifecycle.preStop.httpGet);
  }
}

const DEFAULT_MODE = 0o644;

function volume(v: Json): void {
  if (Object.keys(v).every((key) => key === "name")) v.emptyDir = {};
  if (isRecord(v.hostPath)) defaultTo(v.hostPath, "type", "", nil);
  for (const source of ["secret", "configMap", "downwardAPI", "projected"]) {
    if (isRecord(v[source])) defaultTo(v[source], "defaultMode", DEFAULT_MODE, nil);
  }
  if (isRecord(v.downwardAPI)) for (const item of records(v.downwardAPI.items)) fieldRef(item);
  if (isRecord(v.projected)) {
    for (const source of records(v.projected.sources)) {
      if (isRecord(source.downwardAPI)) for (const item of records(source.downwardAPI.items)) fieldRef(item);
      if (isRecord(source.serviceAccountToken)) defaultTo(source.serviceAccountToken, "expirationSeconds", 3600, nil);
    }
  }
  if (isRecord(v.ephemeral) && isRecord(v.ephemeral.volumeClaimTemplate)) {
    defaultTo(child(v.ephemeral.volumeClaimTemplate, "spec"), "volumeMode", "Filesystem", nil);
  }
}

/** SetDefaults_PodSpec and everything generated for a PodSpec, wherever it sits (a Pod or a template). */
function podSpec(spec: Json): void {
  defaultTo(spec, "dnsPolicy", "ClusterFirst");
  defaultTo(spec, "restartPolicy", "Always");
  defaultTo(spec, "securityContext", {}, nil);
  defaultTo(spec, "terminationGracePeriodSeconds", 30, nil);
  defaultTo(spec, "schedulerName", "default-scheduler");
  for (const v of records(spec.volumes)) volume(v);
  for (const list of ["initContainers", "containers", "ephemeralContainers"]) for (const c of records(spec[list])) container(c);
  // The round trip through the internal version: serviceAccount is served as an alias of serviceAccountName.
  if (unset(spec.serviceAccountName) && typeof spec.serviceAccount === "string") spec.serviceAccountName = spec.serviceAccount;
  if (typeof spec.serviceAccountName === "string" && spec.serviceAccountName !== "") spec.serviceAccount = spec.serviceAccountName;
  else delete spec.serviceAccount;
}

function podTemplate(holder: unknown): void {
  if (isRecord(holder)) podSpec(child(child(holder, "template"), "spec"));
}

/** SetDefaults_Pod: only a Pod, not a template. */
function pod(o: Json): void {
  const spec = child(o, "spec");
  for (const list of ["initContainers", "containers"]) {
    for (const c of records(spec[list])) {
      const resources = isRecord(c.resources) ? c.resources : undefined;
      if (!resources || !isRecord(resources.limits)) continue;
      const requests = child(resources, "requests");
      for (const [name, quantity] of Object.entries(resources.limits)) if (!(name in requests)) requests[name] = quantity;
    }
  }
  defaultTo(spec, "enableServiceLinks", true, nil);
  if (spec.hostNetwork === true) {
    for (const list of ["initContainers", "containers"]) {
      for (const c of records(spec[list])) for (const port of records(c.ports)) defaultTo(port, "hostPort", port.containerPort);
    }
  }
  podSpec(spec);
  // status.podIP and status.podIPs[0] are one field inside; a differing podIP wins, as for old kubelets.
  if (isRecord(o.status)) {
    const status = o.status;
    const ips = records(status.podIPs);
    const ip = typeof status.podIP === "string" ? status.podIP : "";
    if (ip !== "" && (ips.length === 0 || ips[0]?.ip !== ip)) status.podIPs = [{ ip }];
    const first = records(status.podIPs)[0]?.ip;
    if (typeof first === "string" && first !== "") status.podIP = first;
  }
}

function deployment(spec: Json): void {
  defaultTo(spec, "replicas", 1, nil);
  const strategy = child(spec, "strategy");
  defaultTo(strategy, "type", "RollingUpdate");
  if (strategy.type === "RollingUpdate") {
    const rollingUpdate = child(strategy, "rollingUpdate");
    defaultTo(rollingUpdate, "maxUnavailable", "25%", nil);
    defaultTo(rollingUpdate, "maxSurge", "25%", nil);
  }
  defaultTo(spec, "revisionHistoryLimit", 10, nil);
  defaultTo(spec, "progressDeadlineSeconds", 600, nil);
  podTemplate(spec);
}

function daemonSet(spec: Json): void {
  const strategy = child(spec, "updateStrategy");
  defaultTo(strategy, "type", "RollingUpdate");
  if (strategy.type === "RollingUpdate") {
    const rollingUpdate = child(strategy, "rollingUpdate");
    defaultTo(rollingUpdate, "maxUnavailable", 1, nil);
    defaultTo(rollingUpdate, "maxSurge", 0, nil);
  }
  defaultTo(spec, "revisionHistoryLimit", 10, nil);
  podTemplate(spec);
}

function statefulSet(spec: Json): void {
  defaultTo(spec, "podManagementPolicy", "OrderedReady");
  const strategy = child(spec, "updateStrategy");
  if (unset(strategy.type)) {
    strategy.type = "RollingUpdate";
    child(strategy, "rollingUpdate");
  }
  if (strategy.type === "RollingUpdate" && isRecord(strategy.rollingUpdate)) defaultTo(strategy.rollingUpdate, "partition", 0, nil);
  const retention = child(spec, "persistentVolumeClaimRetentionPolicy");
  defaultTo(retention, "whenDeleted", "Retain");
  defaultTo(retention, "whenScaled", "Retain");
  defaultTo(spec, "replicas", 1, nil);
  defaultTo(spec, "revisionHistoryLimit", 10, nil);
  podTemplate(spec);
  for (const claim of records(spec.volumeClaimTemplates)) {
    defaultTo(child(claim, "status"), "phase", "Pending");
    defaultTo(child(claim, "spec"), "volumeMode", "Filesystem", nil);
  }
}

function job(o: Json): void {
  const spec = child(o, "spec");
  if (nil(spec.completions) && nil(spec.parallelism)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  defaultTo(spec, "parallelism", 1, nil);
  defaultTo(spec, "backoffLimit", nil(spec.backoffLimitPerIndex) ? 6 : 2_147_483_647, nil);
  const template = isRecord(spec.template) ? spec.template : undefined;
  const templateLabels = isRecord(template?.metadata) ? template.metadata.labels : undefined;
  const metadata = child(o, "metadata");
  if (isRecord(templateLabels) && (!isRecord(metadata.labels) || Object.keys(metadata.labels).length === 0)) {
    metadata.labels = { ...templateLabels };
  }
  defaultTo(spec, "completionMode", "NonIndexed", nil);
  defaultTo(spec, "suspend", false, nil);
  defaultTo(spec, "podReplacementPolicy", nil(spec.podFailurePolicy) ? "TerminatingOrFailed" : "Failed", nil);
  defaultTo(spec, "manualSelector", false, nil);
  podFailurePolicy(spec);
  podTemplate(spec);
}

function podFailurePolicy(jobSpec: Json): void {
  if (!isRecord(jobSpec.podFailurePolicy)) return;
  for (const rule of records(jobSpec.podFailurePolicy.rules))
    for (const pattern of records(rule.onPodConditions)) defaultTo(pattern, "status", "True");
}

function cronJob(spec: Json): void {
  defaultTo(spec, "concurrencyPolicy", "Allow");
  defaultTo(spec, "suspend", false, nil);
  defaultTo(spec, "successfulJobsHistoryLimit", 3, nil);
  defaultTo(spec, "failedJobsHistoryLimit", 1, nil);
  // Only the pod template and the failure policy's patterns: SetDefaults_Job is not applied to the job template.
  const jobSpec = child(child(spec, "jobTemplate"), "spec");
  podFailurePolicy(jobSpec);
  podTemplate(jobSpec);
}

function service(spec: Json, status: unknown): void {
  defaultTo(spec, "sessionAffinity", "None");
  if (spec.sessionAffinity === "None") delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === "ClientIP")
    defaultTo(child(child(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds", 10_800, nil);
  defaultTo(spec, "type", "ClusterIP");
  for (const port of records(spec.ports)) {
    defaultTo(port, "protocol", "TCP");
    defaultTo(port, "targetPort", port.port);
  }
  const externalIPs = Array.isArray(spec.externalIPs) ? spec.externalIPs : [];
  const externallyAccessible =
    spec.type === "LoadBalancer" || spec.type === "NodePort" || (spec.type === "ClusterIP" && externalIPs.length > 0);
  if (externallyAccessible) defaultTo(spec, "externalTrafficPolicy", "Cluster");
  if (["NodePort", "LoadBalancer", "ClusterIP"].includes(String(spec.type))) defaultTo(spec, "internalTrafficPolicy", "Cluster", nil);
  if (spec.type === "LoadBalancer") {
    defaultTo(spec, "allocateLoadBalancerNodePorts", true, nil);
    const ingress = isRecord(status) && isRecord(status.loadBalancer) ? records(status.loadBalancer.ingress) : [];
    for (const entry of ingress) if (!unset(entry.ip)) defaultTo(entry, "ipMode", "VIP", nil);
  }
}

function webhooks(o: Json, mutating: boolean): void {
  for (const hook of records(o.webhooks)) {
    defaultTo(hook, "failurePolicy", "Fail", nil);
    defaultTo(hook, "matchPolicy", "Equivalent", nil);
    defaultTo(hook, "namespaceSelector", {}, nil);
    defaultTo(hook, "objectSelector", {}, nil);
    defaultTo(hook, "timeoutSeconds", 10, nil);
    if (mutating) defaultTo(hook, "reinvocationPolicy", "Never", nil);
    if (isRecord(hook.clientConfig) && isRecord(hook.clientConfig.service)) defaultTo(hook.clientConfig.service, "port", 443, nil);
    for (const rule of records(hook.rules)) defaultTo(rule, "scope", "*", nil);
  }
}

function priorityLevel(spec: Json): void {
  if (isRecord(spec.limited)) {
    const limited = spec.limited;
    defaultTo(limited, "nominalConcurrencyShares", 30, nil);
    defaultTo(limited, "lendablePercent", 0, nil);
    const queuing = isRecord(limited.limitResponse) ? limited.limitResponse.queuing : undefined;
    if (isRecord(queuing)) {
      defaultTo(queuing, "handSize", 8);
      defaultTo(queuing, "queues", 64);
      defaultTo(queuing, "queueLengthLimit", 50);
    }
  }
  if (isRecord(spec.exempt)) {
    defaultTo(spec.exempt, "nominalConcurrencyShares", 0, nil);
    defaultTo(spec.exempt, "lendablePercent", 0, nil);
  }
}

function networkPolicy(spec: Json): void {
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
    const egress = Array.isArray(spec.egress) ? spec.egress : [];
    spec.policyTypes = egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
  }
  for (const direction of ["ingress", "egress"]) {
    for (const rule of records(spec[direction])) for (const port of records(rule.ports)) defaultTo(port, "protocol", "TCP", nil);
  }
}

/** "group/Kind" of a built-in kind → its defaulting, applied to a copy of the object. */
const DEFAULTS: Record<string, (o: Json) => void> = {
  "/Pod": pod,
  "/Service": (o) => service(child(o, "spec"), o.status),
  "/Secret": (o) => defaultTo(o, "type", "Opaque"),
  "/Namespace": (o) => {
    const metadata = child(o, "metadata");
    if (typeof metadata.name === "string" && metadata.name !== "") child(metadata, "labels")["kubernetes.io/metadata.name"] = metadata.name;
    defaultTo(child(o, "status"), "phase", "Active");
  },
  "/Node": (o) => {
    const status = isRecord(o.status) ? o.status : undefined;
    if (status && nil(status.allocatable) && isRecord(status.capacity)) status.allocatable = { ...status.capacity };
  },
  "/Endpoints": (o) => {
    for (const subset of records(o.subsets)) for (const port of records(subset.ports)) defaultTo(port, "protocol", "TCP");
  },
  "apps/Deployment": (o) => deployment(child(o, "spec")),
  "apps/ReplicaSet": (o) => {
    const spec = child(o, "spec");
    defaultTo(spec, "replicas", 1, nil);
    podTemplate(spec);
  },
  "apps/DaemonSet": (o) => daemonSet(child(o, "spec")),
  "apps/StatefulSet": (o) => statefulSet(child(o, "spec")),
  "batch/Job": job,
  "batch/CronJob": (o) => cronJob(child(o, "spec")),
  "discovery.k8s.io/EndpointSlice": (o) => {
    for (const port of records(o.ports)) {
      defaultTo(port, "name", "", nil);
      defaultTo(port, "protocol", "TCP", nil);
    }
  },
  "networking.k8s.io/NetworkPolicy": (o) => networkPolicy(child(o, "spec")),
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration": (o) => webhooks(o, false),
  "admissionregistration.k8s.io/MutatingWebhookConfiguration": (o) => webhooks(o, true),
  "flowcontrol.apiserver.k8s.io/FlowSchema": (o) => defaultTo(child(o, "spec"), "matchingPrecedence", 1000),
  "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration": (o) => priorityLevel(child(o, "spec")),
  "apiregistration.k8s.io/APIService": (o) => {
    const spec = isRecord(o.spec) ? o.spec : undefined;
    if (spec && isRecord(spec.service)) defaultTo(spec.service, "port", 443, nil);
  },
};

/** The object with its kind's defaults filled in, as a real API server sets them on create. The input is not changed. */
export function withApiDefaults(o: KubeObject): KubeObject {
  const slash = o.apiVersion.indexOf("/");
  const key = `${slash === -1 ? "" : o.apiVersion.slice(0, slash)}/${o.kind}`;
  const copy = structuredClone(o) as unknown as Json;
  DEFAULTS[key]?.(copy);
  return copy as unknown as KubeObject;
}
