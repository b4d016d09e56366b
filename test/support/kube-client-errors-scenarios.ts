// Cluster states for the KubeClientErrors playbook: one healthy base, and one broken variant per diagnosis branch
// of rules/runbooks/KubeClientErrors.md. The tests and the benchmarks use them.
import type { KubeObject } from "../../testkit/kube-object.ts";
import type { ClusterState } from "../../testkit/fixture-cluster.ts";
import type { PromResponder, PromSeries } from "./fake-prometheus.ts";
import { event, flowSchema, pod, resourceQuota, serviceAccount } from "./kube-objects.ts";

export interface Scenario {
  name: string;
  /** The cause id the playbook must rank first. */
  expectedCause: string;
  description: string;
  alertLabels: Record<string, string>;
  alertStartsAt: string;
  cluster: ClusterState;
  prometheus: PromResponder[];
}

const CLIENT_IP = "10.244.1.17";
const APISERVER_IP = "172.18.0.2";

export const CLIENT_LABELS = {
  alertname: "KubeClientErrors",
  cluster: "demo",
  job: "kube-state-metrics",
  instance: `${CLIENT_IP}:8443`,
  namespace: "monitoring",
  severity: "warning",
};

const minutesAgo = (minutes: number, from = Date.now()) => new Date(from - minutes * 60_000).toISOString();

/** Prometheus queries of the playbook, by the part of the text that tells them apart. */
export const QUERY = {
  errorRatioByCode: /sum by \(code\) \(rate\(rest_client_requests_total/,
  errorsByHost: /topk\(5, sum by \(host, method, code\)/,
  clientsOverThreshold: /topk\(10, sum by \(job, instance\)/,
  errorHistory: /code=~"4\.\.\|5\.\.\|<error>"\}\[2m\]\)\)/,
  certExpiry: /apiserver_client_certificate_expiration_seconds_bucket/,
  apiserverErrorRatio: /apiserver_request_total\{code=~"5\.\."\}/,
  apiserverLatency: /apiserver_request_duration_seconds_bucket/,
  apfRejections: /apiserver_flowcontrol_rejected_requests_total/,
};

function baseObjects(now: number): KubeObject[] {
  return [
    pod({
      name: "kube-apiserver-control-plane",
      namespace: "kube-system",
      labels: { component: "kube-apiserver", tier: "control-plane" },
      podIP: APISERVER_IP,
      nodeName: "control-plane",
      containers: ["kube-apiserver"],
      creationTimestamp: minutesAgo(3 * 24 * 60, now),
    }),
    pod({
      name: "kube-state-metrics-6d4b9c7f8-x2x9q",
      namespace: "monitoring",
      labels: { "app.kubernetes.io/name": "kube-state-metrics", "pod-template-hash": "6d4b9c7f8" },
      annotations: { "kubectl.kubernetes.io/default-container": "kube-state-metrics" },
      podIP: CLIENT_IP,
      nodeName: "worker-1",
      containers: ["kube-state-metrics", "kube-rbac-proxy"],
      serviceAccountName: "kube-state-metrics",
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "kube-state-metrics-6d4b9c7f8", controller: true }],
      creationTimestamp: minutesAgo(2 * 24 * 60, now),
    }),
    serviceAccount({ name: "kube-state-metrics", namespace: "monitoring" }),
    resourceQuota({ name: "monitoring-quota", namespace: "monitoring", hard: { pods: "50" }, used: { pods: "12" } }),
    flowSchema({ name: "system-leader-election", priorityLevel: "leader-election", matchingPrecedence: 100 }),
    flowSchema({ name: "workload-low", priorityLevel: "workload-low", matchingPrecedence: 9000 }),
    event({
      namespace: "kube-system",
      involvedObject: { kind: "Pod", name: "coredns-5d78c9869d-abcde", namespace: "kube-system" },
      reason: "Pulled",
      message: 'Container image "registry.k8s.io/coredns/coredns:v1.10.1" already present on machine',
      type: "Normal",
      lastTimestamp: minutesAgo(90, now),
    }),
  ];
}

const HEALTHY_LOG = [
  'I1123 09:00:01.000000       1 server.go:180] "Starting kube-state-metrics"',
  'I1123 09:00:02.000000       1 builder.go:275] "Active resources" activeStoreNames="pods,nodes,deployments"',
  "I1123 09:00:03.000000       1 server.go:340] Started metrics server on 0.0.0.0:8080",
].join("\n");

function state(objects: KubeObject[], clientLog: string = HEALTHY_LOG): ClusterState {
  return {
    objects,
    logs: {
      "monitoring/kube-state-metrics-6d4b9c7f8-x2x9q/kube-state-metrics": clientLog,
      "monitoring/kube-state-metrics-6d4b9c7f8-x2x9q/kube-rbac-proxy": "",
    },
  };
}

const errorRatio = (code: string, value: number): PromResponder => ({
  match: QUERY.errorRatioByCode,
  vector: [{ labels: { code }, value }],
});
const history = (values: number[], now: number): PromSeries => ({
  labels: {},
  values: values.map((v, i) => [Math.floor(now / 1000) - (values.length - 1 - i) * 60, v] as [number, number]),
});

export function kubeClientErrorsScenarios(now = Date.now()): Scenario[] {
  const startsAt = minutesAgo(1, now);
  const base = baseObjects(now);
  const scenario = (s: Omit<Scenario, "alertLabels" | "alertStartsAt"> & { alertLabels?: Record<string, string> }): Scenario => ({
    alertLabels: CLIENT_LABELS,
    alertStartsAt: startsAt,
    ...s,
  });
  return [
    scenario({
      name: "credentials-rejected",
      expectedCause: "authentication_failure",
      description: "kube-state-metrics' ServiceAccount was deleted; its token is rejected with 401",
      cluster: state(
        base.filter((o) => o.kind !== "ServiceAccount"),
        [
          HEALTHY_LOG,
          "E1123 09:41:07.118273       1 reflector.go:147] k8s.io/client-go/tools/cache/reflector.go:229: " +
            "Failed to watch *v1.Pod: failed to list *v1.Pod: Unauthorized",
          "E1123 09:41:08.201771       1 reflector.go:147] Failed to watch *v1.Node: failed to list *v1.Node: Unauthorized " +
            "(token eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl)",
        ].join("\n"),
      ),
      prometheus: [
        errorRatio("401", 0.42),
        { match: QUERY.errorsByHost, vector: [{ labels: { host: "10.96.0.1:443", method: "GET", code: "401" }, value: 3.1 }] },
      ],
    }),
    scenario({
      name: "rbac-refused",
      expectedCause: "authorization_failure",
      description: "kube-state-metrics lost its ClusterRoleBinding; list calls are answered 403",
      cluster: state(
        base,
        [
          HEALTHY_LOG,
          "E1123 09:41:07.118273       1 reflector.go:147] failed to list *v1.Secret: secrets is forbidden: " +
            'User "system:serviceaccount:monitoring:kube-state-metrics" cannot list resource "secrets" in API group "" at the cluster scope',
        ].join("\n"),
      ),
      prometheus: [
        errorRatio("403", 0.05),
        { match: QUERY.errorsByHost, vector: [{ labels: { host: "10.96.0.1:443", method: "GET", code: "403" }, value: 0.4 }] },
      ],
    }),
    scenario({
      name: "apiserver-crashlooping",
      expectedCause: "apiserver_unhealthy",
      description: "the API server restarts (etcd unreachable) and answers 5xx",
      cluster: state([
        pod({
          name: "kube-apiserver-control-plane",
          namespace: "kube-system",
          labels: { component: "kube-apiserver", tier: "control-plane" },
          podIP: APISERVER_IP,
          nodeName: "control-plane",
          containers: [{ name: "kube-apiserver", restarts: 4, lastTerminationReason: "Error", ready: false }],
          creationTimestamp: minutesAgo(3, now),
        }),
        ...base.filter((o) => o.metadata.name !== "kube-apiserver-control-plane"),
        event({
          namespace: "kube-system",
          involvedObject: { kind: "Pod", name: "kube-apiserver-control-plane", namespace: "kube-system" },
          reason: "Unhealthy",
          message: "Readiness probe failed: HTTP probe failed with statuscode: 500",
          type: "Warning",
          count: 12,
          lastTimestamp: minutesAgo(2, now),
          source: "kubelet",
        }),
      ]),
      prometheus: [
        errorRatio("503", 0.06),
        { match: QUERY.apiserverErrorRatio, vector: [{ labels: {}, value: 0.08 }] },
        {
          match: QUERY.apiserverLatency,
          vector: [
            { labels: { verb: "LIST" }, value: 4.2 },
            { labels: { verb: "GET" }, value: 0.3 },
          ],
        },
      ],
    }),
    scenario({
      name: "throttled-by-apf",
      // The server side's rejections explain the client's throttling, so they lead (explains: throttled).
      expectedCause: "apf_rejecting",
      description: "API Priority and Fairness rejects kube-state-metrics' requests (queue-full)",
      cluster: state(
        base,
        [
          HEALTHY_LOG,
          "I1123 09:41:07.118273       1 request.go:697] Waited for 1.196s due to client-side throttling, not priority and fairness, " +
            "request: GET:https://10.96.0.1:443/api/v1/pods",
        ].join("\n"),
      ),
      prometheus: [
        errorRatio("429", 0.03),
        {
          match: QUERY.apfRejections,
          vector: [{ labels: { flow_schema: "workload-low", priority_level: "workload-low", reason: "queue-full" }, value: 2.5 }],
        },
      ],
    }),
    scenario({
      name: "egress-blocked",
      expectedCause: "network_failure",
      description: "a default-deny egress NetworkPolicy created 4 minutes before the alert cuts kube-state-metrics off",
      cluster: state(
        [
          ...base,
          {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: {
              name: "default-deny-egress",
              namespace: "monitoring",
              creationTimestamp: minutesAgo(5, now),
              uid: "np-1",
              resourceVersion: "4242",
            },
            spec: { podSelector: {}, policyTypes: ["Egress"] },
          },
        ],
        [
          HEALTHY_LOG,
          "E1123 09:41:07.118273       1 reflector.go:147] failed to list *v1.Pod: " +
            'Get "https://10.96.0.1:443/api/v1/pods?limit=500": dial tcp 10.96.0.1:443: i/o timeout',
        ].join("\n"),
      ),
      prometheus: [errorRatio("<error>", 0.1)],
    }),
    scenario({
      name: "control-plane-events",
      expectedCause: "client_error_events",
      description: "kube-system events report request timeouts while the client sees 500s",
      cluster: state([
        ...base,
        event({
          namespace: "kube-system",
          involvedObject: { kind: "Endpoints", name: "kube-dns", namespace: "kube-system" },
          reason: "FailedToUpdateEndpoint",
          message:
            "Failed to update endpoint kube-system/kube-dns: Timeout: request did not complete within requested timeout - context deadline exceeded",
          type: "Warning",
          lastTimestamp: minutesAgo(3, now),
          source: "endpoint-controller",
        }),
      ]),
      prometheus: [errorRatio("500", 0.02)],
    }),
    scenario({
      name: "steady-errors",
      expectedCause: "persistent_errors",
      description: "500s at a steady 5% for 30 minutes, nothing else wrong",
      cluster: state(base),
      prometheus: [
        errorRatio("500", 0.05),
        {
          match: QUERY.errorHistory,
          matrix: [
            history(
              Array.from({ length: 31 }, () => 0.05),
              now,
            ),
          ],
        },
      ],
    }),
    scenario({
      name: "intermittent-errors",
      expectedCause: "intermittent_errors",
      description: "500s that come and go",
      cluster: state(base),
      prometheus: [
        errorRatio("500", 0.03),
        {
          match: QUERY.errorHistory,
          matrix: [
            history(
              Array.from({ length: 31 }, (_, i) => (i % 5 === 0 ? 0.06 : 0)),
              now,
            ),
          ],
        },
      ],
    }),
    scenario({
      name: "nothing-found",
      expectedCause: "no_correlation",
      description: "the cluster looks healthy now",
      cluster: state(base),
      prometheus: [],
    }),
  ];
}

export function scenarioNamed(name: string, now = Date.now()): Scenario {
  const found = kubeClientErrorsScenarios(now).find((s) => s.name === name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found;
}
