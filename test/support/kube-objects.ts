// Builders for Kubernetes objects shaped like `kubectl get -o json` output, for the fake API server's state.
import { createHash } from "node:crypto";
import type { KubeObject } from "../../testkit/kube-object.ts";

/** Used wherever a builder needs a time and none is given, so fixtures are reproducible. */
export const DEFAULT_TIMESTAMP = "2025-01-15T09:00:00Z";

function hashHex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A stable UUID derived from the object's identity. */
export function uidFor(kind: string, namespace: string | undefined, name: string): string {
  const h = hashHex(`${kind}/${namespace ?? ""}/${name}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function resourceVersionFor(kind: string, namespace: string | undefined, name: string): string {
  return String(100_000 + (Number.parseInt(hashHex(`rv/${kind}/${namespace ?? ""}/${name}`).slice(0, 6), 16) % 900_000));
}

function addSeconds(timestamp: string, seconds: number): string {
  return new Date(new Date(timestamp).getTime() + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function metadata(
  kind: string,
  options: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  },
): KubeObject["metadata"] {
  const meta: KubeObject["metadata"] = { name: options.name };
  if (options.namespace !== undefined) meta.namespace = options.namespace;
  meta.uid = uidFor(kind, options.namespace, options.name);
  meta.resourceVersion = resourceVersionFor(kind, options.namespace, options.name);
  meta.creationTimestamp = options.creationTimestamp ?? DEFAULT_TIMESTAMP;
  if (options.labels && Object.keys(options.labels).length > 0) meta.labels = { ...options.labels };
  if (options.annotations && Object.keys(options.annotations).length > 0) meta.annotations = { ...options.annotations };
  return meta;
}

// ---------------------------------------------------------------------------------------------------------------

export interface ContainerOptions {
  name: string;
  image?: string;
  /** Overrides the pod-level value for this container. */
  restarts?: number;
  waitingReason?: string;
  lastTerminationReason?: string;
  ready?: boolean;
}

export interface PodOptions {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  podIP?: string;
  nodeName?: string;
  /** Names or specs; defaults to one container named "app". */
  containers?: Array<string | ContainerOptions>;
  initContainers?: Array<string | ContainerOptions>;
  /** Defaults to Pending when a container waits to be created or pulled, else Running. */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
  /** Defaults for every container; a container's own options win. */
  restarts?: number;
  waitingReason?: string;
  lastTerminationReason?: string;
  creationTimestamp?: string;
  serviceAccountName?: string;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid?: string; controller?: boolean }>;
}

const EXIT_CODES: Record<string, number> = { OOMKilled: 137, Error: 1, Completed: 0, ContainerCannotRun: 128, StartError: 128 };
const NOT_YET_STARTED = new Set([
  "ContainerCreating",
  "PodInitializing",
  "ErrImagePull",
  "ImagePullBackOff",
  "CreateContainerConfigError",
  "InvalidImageName",
]);

function containerOptions(entry: string | ContainerOptions): ContainerOptions {
  return typeof entry === "string" ? { name: entry } : entry;
}

export function pod(options: PodOptions): KubeObject {
  const namespace = options.namespace ?? "default";
  const created = options.creationTimestamp ?? DEFAULT_TIMESTAMP;
  const started = addSeconds(created, 2);
  const nodeName = options.nodeName ?? "node-1";
  const serviceAccountName = options.serviceAccountName ?? "default";
  const podIP = options.podIP ?? "10.244.1.17";
  const uid = uidFor("Pod", namespace, options.name);
  const containers = (options.containers ?? ["app"]).map(containerOptions);
  const initContainers = (options.initContainers ?? []).map(containerOptions);

  const spec = (c: ContainerOptions): Record<string, unknown> => ({
    name: c.name,
    image: c.image ?? `registry.example.com/${c.name}:1.0.0`,
    imagePullPolicy: "IfNotPresent",
    resources: {},
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    volumeMounts: [{ name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true }],
  });

  const containerId = (c: ContainerOptions, attempt: number): string =>
    `containerd://${hashHex(`${uid}/${c.name}/${attempt}`).slice(0, 64)}`;

  const status = (c: ContainerOptions, isInit: boolean): Record<string, unknown> => {
    const restarts = c.restarts ?? options.restarts ?? 0;
    const waitingReason = c.waitingReason ?? options.waitingReason;
    // A container that has restarted always carries its previous run in lastState.
    const lastTerminationReason = c.lastTerminationReason ?? options.lastTerminationReason ?? (restarts > 0 ? "Error" : undefined);
    const image = spec(c).image as string;
    const neverStarted = waitingReason !== undefined && NOT_YET_STARTED.has(waitingReason);
    let state: Record<string, unknown>;
    if (waitingReason === "CrashLoopBackOff") {
      state = {
        waiting: {
          reason: waitingReason,
          message: `back-off 5m0s restarting failed container=${c.name} pod=${options.name}_${namespace}(${uid})`,
        },
      };
    } else if (waitingReason !== undefined) {
      state = { waiting: { reason: waitingReason } };
    } else if (isInit) {
      state = {
        terminated: {
          exitCode: 0,
          reason: "Completed",
          startedAt: started,
          finishedAt: addSeconds(started, 3),
          containerID: containerId(c, restarts),
        },
      };
    } else {
      state = { running: { startedAt: addSeconds(started, 5 + restarts * 30) } };
    }
    const lastState: Record<string, unknown> = {};
    if (lastTerminationReason !== undefined) {
      lastState.terminated = {
        exitCode: EXIT_CODES[lastTerminationReason] ?? 1,
        reason: lastTerminationReason,
        startedAt: addSeconds(started, restarts * 30),
        finishedAt: addSeconds(started, restarts * 30 + 25),
        containerID: containerId(c, Math.max(0, restarts - 1)),
      };
    }
    const ready = c.ready ?? (waitingReason === undefined && !isInit);
    const result: Record<string, unknown> = {
      name: c.name,
      image,
      imageID: neverStarted ? "" : `${image.replace(/:[^:/]+$/, "")}@sha256:${hashHex(image)}`,
      ready: isInit ? waitingReason === undefined : ready,
      restartCount: restarts,
      started: !isInit && waitingReason === undefined,
      state,
      lastState,
    };
    if (!neverStarted) result.containerID = containerId(c, restarts);
    return result;
  };

  const containerStatuses = containers.map((c) => status(c, false));
  const initContainerStatuses = initContainers.map((c) => status(c, true));
  const waitingToStart = [...containers, ...initContainers].some((c) => {
    const reason = c.waitingReason ?? options.waitingReason;
    return reason !== undefined && NOT_YET_STARTED.has(reason);
  });
  const phase = options.phase ?? (waitingToStart ? "Pending" : "Running");
  const unready = containerStatuses.filter((s) => s.ready !== true).map((s) => String(s.name));
  const allReady = unready.length === 0 && phase === "Running";
  const condition = (type: string, ok: boolean, extra: Record<string, string> = {}): Record<string, unknown> => ({
    type,
    status: ok ? "True" : "False",
    lastProbeTime: null,
    lastTransitionTime: started,
    ...extra,
  });
  const notReadyDetail = { reason: "ContainersNotReady", message: `containers with unready status: [${unready.join(" ")}]` };

  const meta = metadata("Pod", { ...options, namespace, creationTimestamp: created });
  if (options.ownerReferences) {
    meta.ownerReferences = options.ownerReferences.map((o) => ({
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: o.name,
      uid: o.uid ?? uidFor(o.kind, namespace, o.name),
      controller: o.controller ?? true,
      blockOwnerDeletion: true,
    }));
  }

  const podSpec: Record<string, unknown> = {
    containers: containers.map(spec),
    dnsPolicy: "ClusterFirst",
    enableServiceLinks: true,
    nodeName,
    preemptionPolicy: "PreemptLowerPriority",
    priority: 0,
    restartPolicy: "Always",
    schedulerName: "default-scheduler",
    securityContext: {},
    serviceAccount: serviceAccountName,
    serviceAccountName,
    terminationGracePeriodSeconds: 30,
    tolerations: [
      { effect: "NoExecute", key: "node.kubernetes.io/not-ready", operator: "Exists", tolerationSeconds: 300 },
      { effect: "NoExecute", key: "node.kubernetes.io/unreachable", operator: "Exists", tolerationSeconds: 300 },
    ],
    volumes: [
      {
        name: "kube-api-access",
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
          ],
        },
      },
    ],
  };
  if (initContainers.length > 0) podSpec.initContainers = initContainers.map(spec);

  const podStatus: Record<string, unknown> = {
    phase,
    conditions: [
      condition("PodReadyToStartContainers", true),
      condition("Initialized", true),
      condition("Ready", allReady, allReady ? {} : notReadyDetail),
      condition("ContainersReady", allReady, allReady ? {} : notReadyDetail),
      condition("PodScheduled", true),
    ],
    hostIP: "192.168.49.2",
    hostIPs: [{ ip: "192.168.49.2" }],
    podIP,
    podIPs: [{ ip: podIP }],
    qosClass: "BestEffort",
    startTime: started,
    containerStatuses,
  };
  if (initContainerStatuses.length > 0) podStatus.initContainerStatuses = initContainerStatuses;

  return { apiVersion: "v1", kind: "Pod", metadata: meta, spec: podSpec, status: podStatus };
}

// ---------------------------------------------------------------------------------------------------------------

export interface EventOptions {
  namespace?: string;
  /** Defaults to "<involved name>.<16 hex digits>", as the kubelet and controllers name events. */
  name?: string;
  involvedObject: { kind: string; name: string; namespace?: string; apiVersion?: string; uid?: string; fieldPath?: string };
  reason: string;
  message: string;
  type?: "Normal" | "Warning";
  lastTimestamp?: string;
  firstTimestamp?: string;
  count?: number;
  /** The reporting component ("kubelet", "default-scheduler"), optionally with its host. */
  source?: string | { component: string; host?: string };
}

const API_VERSION_BY_KIND: Record<string, string> = {
  Deployment: "apps/v1",
  ReplicaSet: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  Job: "batch/v1",
  CronJob: "batch/v1",
  HorizontalPodAutoscaler: "autoscaling/v2",
  PodDisruptionBudget: "policy/v1",
  Ingress: "networking.k8s.io/v1",
  NetworkPolicy: "networking.k8s.io/v1",
  EndpointSlice: "discovery.k8s.io/v1",
  CertificateSigningRequest: "certificates.k8s.io/v1",
  APIService: "apiregistration.k8s.io/v1",
  FlowSchema: "flowcontrol.apiserver.k8s.io/v1",
  PriorityLevelConfiguration: "flowcontrol.apiserver.k8s.io/v1",
};

export function event(options: EventOptions): KubeObject {
  const involved = options.involvedObject;
  const namespace = options.namespace ?? involved.namespace ?? "default";
  const lastTimestamp = options.lastTimestamp ?? DEFAULT_TIMESTAMP;
  const count = options.count ?? 1;
  const firstTimestamp = options.firstTimestamp ?? (count > 1 ? addSeconds(lastTimestamp, -60 * (count - 1)) : lastTimestamp);
  const name =
    options.name ?? `${involved.name}.${hashHex(`${involved.kind}/${involved.name}/${options.reason}/${firstTimestamp}`).slice(0, 16)}`;
  const source =
    typeof options.source === "string" ? { component: options.source } : (options.source ?? { component: "kubelet", host: "node-1" });
  const involvedObject: Record<string, unknown> = {
    kind: involved.kind,
    namespace: involved.namespace ?? namespace,
    name: involved.name,
    uid: involved.uid ?? uidFor(involved.kind, involved.namespace ?? namespace, involved.name),
    apiVersion: involved.apiVersion ?? API_VERSION_BY_KIND[involved.kind] ?? "v1",
    resourceVersion: resourceVersionFor(involved.kind, involved.namespace ?? namespace, involved.name),
  };
  if (involved.fieldPath !== undefined) involvedObject.fieldPath = involved.fieldPath;
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: metadata("Event", { name, namespace, creationTimestamp: firstTimestamp }),
    involvedObject,
    reason: options.reason,
    message: options.message,
    source,
    firstTimestamp,
    lastTimestamp,
    count,
    type: options.type ?? "Normal",
    eventTime: null,
    reportingComponent: source.component,
    reportingInstance: source.host ?? "",
  };
}

// ---------------------------------------------------------------------------------------------------------------

export function serviceAccount(options: {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  secrets?: string[];
  imagePullSecrets?: string[];
  automountServiceAccountToken?: boolean;
  creationTimestamp?: string;
}): KubeObject {
  const sa: KubeObject = {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: metadata("ServiceAccount", { ...options, namespace: options.namespace ?? "default" }),
  };
  if (options.secrets) sa.secrets = options.secrets.map((name) => ({ name }));
  if (options.imagePullSecrets) sa.imagePullSecrets = options.imagePullSecrets.map((name) => ({ name }));
  if (options.automountServiceAccountToken !== undefined) sa.automountServiceAccountToken = options.automountServiceAccountToken;
  return sa;
}

export function resourceQuota(options: {
  name: string;
  namespace?: string;
  hard: Record<string, string>;
  used?: Record<string, string>;
  labels?: Record<string, string>;
  creationTimestamp?: string;
}): KubeObject {
  const used = Object.fromEntries(Object.keys(options.hard).map((key) => [key, options.used?.[key] ?? "0"]));
  return {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: metadata("ResourceQuota", { ...options, namespace: options.namespace ?? "default" }),
    spec: { hard: { ...options.hard } },
    status: { hard: { ...options.hard }, used },
  };
}

export type FlowSchemaSubject =
  | { kind: "User"; user: { name: string } }
  | { kind: "Group"; group: { name: string } }
  | { kind: "ServiceAccount"; serviceAccount: { namespace: string; name: string } };

export function flowSchema(options: {
  name: string;
  priorityLevel: string;
  matchingPrecedence?: number;
  subjects?: FlowSchemaSubject[];
  distinguisherMethod?: "ByUser" | "ByNamespace";
  creationTimestamp?: string;
}): KubeObject {
  const created = options.creationTimestamp ?? DEFAULT_TIMESTAMP;
  return {
    apiVersion: "flowcontrol.apiserver.k8s.io/v1",
    kind: "FlowSchema",
    metadata: { ...metadata("FlowSchema", { ...options, creationTimestamp: created }), generation: 1 },
    spec: {
      distinguisherMethod: { type: options.distinguisherMethod ?? "ByUser" },
      matchingPrecedence: options.matchingPrecedence ?? 1000,
      priorityLevelConfiguration: { name: options.priorityLevel },
      rules: [
        {
          subjects: options.subjects ?? [{ kind: "Group", group: { name: "system:authenticated" } }],
          resourceRules: [{ apiGroups: ["*"], clusterScope: true, namespaces: ["*"], resources: ["*"], verbs: ["*"] }],
          nonResourceRules: [{ nonResourceURLs: ["*"], verbs: ["*"] }],
        },
      ],
    },
    status: {
      conditions: [
        {
          type: "Dangling",
          status: "False",
          reason: "Found",
          message: `This FlowSchema references the PriorityLevelConfiguration object named "${options.priorityLevel}" and it exists`,
          lastTransitionTime: created,
        },
      ],
    },
  };
}

export function secret(options: {
  name: string;
  namespace?: string;
  type?: string;
  /** Plain-text values; the builder base64-encodes them as the API serves them. */
  data?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}): KubeObject {
  const data = Object.fromEntries(Object.entries(options.data ?? {}).map(([key, value]) => [key, Buffer.from(value).toString("base64")]));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: metadata("Secret", { ...options, namespace: options.namespace ?? "default" }),
    type: options.type ?? "Opaque",
    data,
  };
}

export function namespace(options: {
  name: string;
  labels?: Record<string, string>;
  phase?: "Active" | "Terminating";
  creationTimestamp?: string;
}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: metadata("Namespace", { ...options, labels: { "kubernetes.io/metadata.name": options.name, ...options.labels } }),
    spec: { finalizers: ["kubernetes"] },
    status: { phase: options.phase ?? "Active" },
  };
}

export function node(options: {
  name: string;
  labels?: Record<string, string>;
  ready?: boolean;
  unschedulable?: boolean;
  internalIP?: string;
  creationTimestamp?: string;
}): KubeObject {
  const created = options.creationTimestamp ?? DEFAULT_TIMESTAMP;
  const ready = options.ready ?? true;
  const spec: Record<string, unknown> = { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24"] };
  if (options.unschedulable) spec.unschedulable = true;
  const nodeCondition = (type: string, status: string, reason: string, message: string): Record<string, unknown> => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: created,
    lastTransitionTime: created,
  });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: metadata("Node", {
      ...options,
      creationTimestamp: created,
      labels: { "kubernetes.io/hostname": options.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", ...options.labels },
    }),
    spec,
    status: {
      addresses: [
        { type: "InternalIP", address: options.internalIP ?? "192.168.49.2" },
        { type: "Hostname", address: options.name },
      ],
      conditions: [
        nodeCondition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        nodeCondition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        nodeCondition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ready
          ? nodeCondition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
          : nodeCondition("Ready", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."),
      ],
      nodeInfo: {
        kubeletVersion: "v1.31.4",
        containerRuntimeVersion: "containerd://1.7.24",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}
