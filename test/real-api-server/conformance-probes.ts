// The conformance suite's own objects, in a namespace of their own beside the cases' cluster: enough ConfigMaps and
// Events for several pages, pods in each state a log read cares about, and objects written without the defaults and
// with the millisecond times and empty lists a fixture author might write, to see what the real server makes of them.
import type { KubeObject } from "../../testkit/kube-object.ts";

export const PROBE_NAMESPACE = "conformance";
export const PROBE_NODE = "conformance-node";

const ns = PROBE_NAMESPACE;

function configMaps(): KubeObject[] {
  const tiers = ["web", "api", "db"];
  return Array.from({ length: 12 }, (_, i) => {
    const labels: Record<string, string> = { tier: tiers[i % 3] as string };
    if (i % 4 === 0) labels.release = "canary";
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `page-${String(i).padStart(2, "0")}`, namespace: ns, labels },
      data: { index: String(i) },
    };
  });
}

function container(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: `registry.example.com/${name}:1.0`, ...extra };
}

function running(name: string, startedAt: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    ready: true,
    restartCount: 0,
    image: `registry.example.com/${name}:1.0`,
    imageID: `registry.example.com/${name}@sha256:${"a".repeat(64)}`,
    containerID: `containerd://${name.padEnd(64, "0").slice(0, 64)}`,
    state: { running: { startedAt } },
    ...extra,
  };
}

function pods(): KubeObject[] {
  return [
    {
      // Written as a person writes a Pod: no restartPolicy, schedulerName, dnsPolicy, pull policy or probe defaults.
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "defaults-pod", namespace: ns, labels: { app: "defaults" } },
      spec: {
        nodeName: PROBE_NODE,
        hostNetwork: false,
        containers: [{ name: "app", image: "busybox", ports: [{ containerPort: 8080 }], livenessProbe: { httpGet: { port: 8080 } } }],
      },
      status: {
        phase: "Running",
        podIP: "10.244.9.10",
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-11-23T09:30:00.500Z" }],
        // A status as a hand-written fixture has it: no image, imageID or lastState.
        containerStatuses: [{ name: "app", ready: true, restartCount: 0, state: { running: { startedAt: "2026-11-23T09:30:00.250Z" } } }],
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "unscheduled", namespace: ns, labels: { app: "pending" } },
      spec: { containers: [container("app")] },
      status: {
        phase: "Pending",
        conditions: [
          { type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient cpu." },
        ],
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "two-containers", namespace: ns, labels: { app: "web", tier: "web" } },
      spec: { nodeName: PROBE_NODE, restartPolicy: "Always", containers: [container("app"), container("sidecar")] },
      status: {
        phase: "Running",
        podIP: "10.244.9.11",
        hostIP: "10.0.9.9",
        startTime: "2026-11-23T09:00:00Z",
        conditions: [{ type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: "2026-11-23T09:40:00Z" }],
        containerStatuses: [
          running("app", "2026-11-23T09:40:00Z", {
            restartCount: 1,
            lastState: {
              terminated: {
                exitCode: 1,
                reason: "Error",
                startedAt: "2026-11-23T09:00:05Z",
                finishedAt: "2026-11-23T09:39:58Z",
                containerID: `containerd://${"b".repeat(64)}`,
              },
            },
          }),
          running("sidecar", "2026-11-23T09:00:05Z"),
        ],
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "host-network", namespace: ns, labels: { app: "exporter" } },
      spec: {
        nodeName: PROBE_NODE,
        hostNetwork: true,
        restartPolicy: "OnFailure",
        schedulerName: "custom-scheduler",
        containers: [container("exporter", { ports: [{ containerPort: 9100 }] })],
      },
      status: { phase: "Running", podIP: "10.0.9.9" },
    },
  ];
}

function events(): KubeObject[] {
  const reasons = ["BackOff", "Unhealthy", "Pulled", "Started", "FailedScheduling"];
  const core = Array.from({ length: 14 }, (_, i): KubeObject => {
    const pod = i % 2 === 0 ? "two-containers" : "unscheduled";
    const reason = reasons[i % reasons.length] as string;
    const warning = reason === "BackOff" || reason === "Unhealthy" || reason === "FailedScheduling";
    const minute = String(10 + i).padStart(2, "0");
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${pod}.${String(i).padStart(4, "0")}`, namespace: ns },
      involvedObject: {
        kind: "Pod",
        namespace: ns,
        name: pod,
        apiVersion: "v1",
        ...(i % 3 === 0 ? { fieldPath: "spec.containers{app}" } : {}),
      },
      reason,
      message: `${reason} for ${pod} (${i})`,
      source: reason === "FailedScheduling" ? { component: "default-scheduler" } : { component: "kubelet", host: PROBE_NODE },
      // Milliseconds, as a fixture author might write them: the server keeps whole seconds.
      firstTimestamp: `2026-11-23T09:${minute}:00.000Z`,
      lastTimestamp: `2026-11-23T09:${minute}:30.750Z`,
      count: 1 + i,
      type: warning ? "Warning" : "Normal",
    };
  });
  const newStyle: KubeObject = {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: "two-containers.new-style", namespace: ns },
    eventTime: "2026-11-23T09:58:00.123456Z",
    reportingController: "example.com/operator",
    reportingInstance: "operator-0",
    action: "Reconcile",
    reason: "ReconcileFailed",
    regarding: { kind: "Pod", namespace: ns, name: "two-containers", apiVersion: "v1" },
    note: "could not reconcile",
    type: "Warning",
  };
  return [...core, newStyle];
}

function workloads(): KubeObject[] {
  const template = (labels: Record<string, string>, restartPolicy?: string) => ({
    metadata: { labels },
    spec: { ...(restartPolicy ? { restartPolicy } : {}), containers: [container("web")] },
  });
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: ns, labels: { app: "web" } },
      spec: { selector: { matchLabels: { app: "web" } }, template: template({ app: "web" }) },
      status: {
        replicas: 1,
        readyReplicas: 0,
        unavailableReplicas: 1,
        conditions: [
          { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", lastTransitionTime: "2026-11-23T09:00:00Z" },
        ],
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "web-5c9f", namespace: ns, labels: { app: "web", "pod-template-hash": "5c9f" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web", "pod-template-hash": "5c9f" } },
        template: template({ app: "web", "pod-template-hash": "5c9f" }),
      },
      status: { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 0, availableReplicas: 0 },
    },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "report", namespace: ns },
      spec: { template: template({ app: "report" }, "Never") },
      status: { active: 1, failed: 0, startTime: "2026-11-23T09:50:00Z" },
    },
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "nightly", namespace: ns },
      spec: {
        schedule: "0 2 * * *",
        jobTemplate: { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [container("report")] } } } },
      },
      status: { active: [] },
    },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "credentials", namespace: ns }, data: { user: "YWRtaW4=" } },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns },
      spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
    },
  ];
}

/** The suite's own objects; none of them is a playbook case's. */
export function probeObjects(): KubeObject[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: {} }, spec: { finalizers: ["kubernetes"] } },
    {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: PROBE_NODE, labels: { "kubernetes.io/hostname": PROBE_NODE } },
      spec: { unschedulable: false },
      status: {
        capacity: { cpu: "4", memory: "16Gi", pods: "110" },
        addresses: [{ type: "InternalIP", address: "10.0.9.9" }],
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "kubelet is posting ready status",
            lastHeartbeatTime: "2026-11-23T09:59:59.250Z",
            lastTransitionTime: "2026-11-23T08:00:00Z",
          },
        ],
        nodeInfo: { kubeletVersion: "v1.36.3", operatingSystem: "linux", architecture: "amd64" },
      },
    },
    ...configMaps(),
    ...pods(),
    ...events(),
    ...workloads(),
  ];
}

const line = (time: string, text: string) => `${time} ${text}`;

/** Logs for the probe pods, as ClusterState.logs; each line stamped as the kubelet stamps it. */
export const PROBE_LOGS: Record<string, string> = {
  [`${ns}/two-containers/app`]: [
    line("2026-11-23T09:40:01Z", "starting web server"),
    line("2026-11-23T09:45:00Z", "GET /healthz 200"),
    line("2026-11-23T09:52:00Z", "GET /api/orders 500 upstream timeout"),
    line("2026-11-23T09:58:00Z", "GET /api/orders 200"),
    line("2026-11-23T09:59:30Z", "GET /healthz 200"),
  ].join("\n"),
  [`${ns}/two-containers/app/previous`]: [
    line("2026-11-23T09:39:50Z", "connecting to database"),
    line("2026-11-23T09:39:58Z", "fatal: connection refused"),
  ].join("\n"),
  [`${ns}/two-containers/sidecar`]: line("2026-11-23T09:00:06Z", "proxy ready"),
  [`${ns}/defaults-pod/app`]: "hello\n",
};
