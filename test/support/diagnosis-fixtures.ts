// Realistic Diagnosis values for tests: a KubeClientErrors run where kube-state-metrics' credentials are rejected, plus a huge one.
import type { Alert } from "../../src/model/alertmanager.ts";
import type { AlertDiagnosis, Cause, Diagnosis, StepRecord } from "../../src/model/diagnosis.ts";

export const FIXTURE_GROUP_KEY = '{}/{severity=~"warning|critical"}:{alertname="KubeClientErrors"}';
export const FIXTURE_REMEDIATION = "kubectl -n monitoring rollout restart deployment/kube-state-metrics";
export const FIXTURE_CAUSE = "Client credentials rejected by the API server (401)";

export function makeAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    status: "firing",
    labels: {
      alertname: "KubeClientErrors",
      cluster: "prod-eu-1",
      namespace: "monitoring",
      instance: "10.244.1.17:8443",
      job: "kube-state-metrics",
      severity: "warning",
    },
    annotations: {
      summary: "Kubernetes API server client is experiencing errors.",
      description: "Kubernetes API server client 'kube-state-metrics/10.244.1.17:8443' is experiencing 4.2% errors.",
      runbook_url: "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubeclienterrors",
    },
    startsAt: "2026-08-20T10:00:00.123Z",
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "http://prometheus:9090/graph?g0.expr=rest_client_requests_total&g0.tab=1",
    fingerprint: "4f1c2d3e5a6b7c8d",
    ...overrides,
  };
}

export function makeCause(overrides: Partial<Cause> = {}): Cause {
  return {
    id: "credentials-rejected",
    title: "Client credentials rejected",
    summary: FIXTURE_CAUSE,
    confidence: 0.86,
    evidence: [
      {
        step: "error-codes",
        text: 'rest_client_requests_total{code="401"} is 97% of the client\'s errors over 15m',
        at: "2026-08-20T10:14:00Z",
      },
      { step: "client-logs", text: 'kube-state-metrics-7d9f8b6c5-x2x4k logged "Unauthorized" 212 times in the last 500 lines' },
      { step: "events", text: "ServiceAccount token Secret kube-state-metrics-token was rotated at 09:58", at: "2026-08-20T09:58:12Z" },
      { step: "pods", text: "Pod kube-state-metrics-7d9f8b6c5-x2x4k started 3 d ago, before the rotation" },
    ],
    remediation: [FIXTURE_REMEDIATION, "kubectl -n monitoring get pods -l app.kubernetes.io/name=kube-state-metrics -w"],
    runbookRef: "Playbook 1",
    ...overrides,
  };
}

export function makeSteps(): StepRecord[] {
  return [
    {
      id: "error-codes",
      title: "Which status codes the client gets",
      kind: "prometheus",
      status: "ok",
      durationMs: 84,
      request: 'sum by (code) (rate(rest_client_requests_total{job="kube-state-metrics"}[15m]))',
      summary: "3 series",
      runbookRef: "Playbook 1",
    },
    {
      id: "pods",
      title: "The client's pods",
      kind: "kubernetes",
      status: "ok",
      durationMs: 122,
      request: "GET /api/v1/namespaces/monitoring/pods?labelSelector=app.kubernetes.io/name%3Dkube-state-metrics",
      summary: "1 pod",
    },
    {
      id: "events",
      title: "Recent events in the namespace",
      kind: "kubernetes",
      status: "ok",
      durationMs: 97,
      request: "GET /apis/events.k8s.io/v1/namespaces/monitoring/events",
      summary: "14 events, 2 relevant",
    },
    {
      id: "client-logs",
      title: "The client's logs",
      kind: "logs",
      status: "ok",
      durationMs: 310,
      request: "GET /api/v1/namespaces/monitoring/pods/kube-state-metrics-7d9f8b6c5-x2x4k/log?tailLines=500",
      summary: "500 lines, 212 matching",
    },
  ];
}

export function makeAlertDiagnosis(overrides: Partial<AlertDiagnosis> = {}): AlertDiagnosis {
  return {
    alert: makeAlert(),
    playbook: "kube-client-errors",
    causes: [
      makeCause(),
      makeCause({
        id: "apiserver-throttling",
        title: "API server throttling the client (429)",
        summary: "The API server answers kube-state-metrics with 429 under API Priority and Fairness",
        confidence: 0.09,
        evidence: [{ step: "error-codes", text: "429 is 2% of the client's errors" }],
        remediation: ["kubectl get flowschemas"],
      }),
      makeCause({
        id: "network",
        title: "Network errors reaching the API server",
        summary: "Connections from kube-state-metrics to the API server fail",
        confidence: 0.05,
        evidence: [],
        remediation: [],
      }),
    ],
    steps: makeSteps(),
    logExcerpts: [
      {
        step: "client-logs",
        pod: "kube-state-metrics-7d9f8b6c5-x2x4k",
        container: "kube-state-metrics",
        pattern: "Unauthorized",
        line: "E0820 10:13:58.412 reflector.go:147] Failed to watch *v1.Pod: failed to list *v1.Pod: Unauthorized",
      },
    ],
    partial: false,
    links: {
      runbook: "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubeclienterrors",
      graph: "http://prometheus:9090/graph?g0.expr=rest_client_requests_total&g0.tab=1",
      silence: "http://alertmanager:9093/#/silences/new?filter=%7Balertname%3D%22KubeClientErrors%22%7D",
      report: "https://enricher.example.com/reports/n-0001",
    },
    startedAt: "2026-08-20T10:15:01.000Z",
    finishedAt: "2026-08-20T10:15:01.640Z",
    ...overrides,
  };
}

export function makeDiagnosis(overrides: Partial<Diagnosis> = {}): Diagnosis {
  return {
    notificationId: "n-0001",
    groupKey: FIXTURE_GROUP_KEY,
    receiver: "enricher",
    status: "firing",
    groupLabels: { alertname: "KubeClientErrors" },
    commonLabels: { alertname: "KubeClientErrors", cluster: "prod-eu-1", namespace: "monitoring", severity: "warning" },
    externalURL: "http://alertmanager:9093",
    truncatedAlerts: 0,
    alerts: [makeAlertDiagnosis()],
    createdAt: "2026-08-20T10:15:01.700Z",
    ...overrides,
  };
}

/** The diagnosis as Alertmanager would send it once every alert has resolved. */
export function makeResolvedDiagnosis(): Diagnosis {
  const alert = makeAlert({ status: "resolved", endsAt: "2026-08-20T10:42:00.000Z" });
  return makeDiagnosis({ status: "resolved", alerts: [makeAlertDiagnosis({ alert })] });
}

/** Far beyond every limit: 60 causes with 10 kB summaries and 200 evidence items each, 5 alerts, huge log excerpts. */
export function makeHugeDiagnosis(): Diagnosis {
  const big = (label: string, size: number) => `${label} <!channel> & `.padEnd(size, "x");
  const causes = Array.from({ length: 60 }, (_, i) =>
    makeCause({
      id: `cause-${i}`,
      title: big(`Cause ${i}`, 500),
      summary: big(`Summary ${i}`, 10_000),
      confidence: 1 - i / 60,
      evidence: Array.from({ length: 200 }, (_, j) => ({ step: "error-codes", text: big(`Evidence ${i}.${j}`, 600) })),
      remediation: [big(`kubectl -n monitoring rollout restart deployment/kube-state-metrics ${i}`, 5000), "kubectl get pods"],
    }),
  );
  const alerts = Array.from({ length: 5 }, (_, i) =>
    makeAlertDiagnosis({
      alert: makeAlert({
        labels: { ...makeAlert().labels, instance: big(`10.244.1.${i}:8443`, 3000), pod: `kube-state-metrics-${i}` },
        fingerprint: `4f1c2d3e5a6b7c${i}0`,
      }),
      causes,
      partial: true,
      logExcerpts: Array.from({ length: 50 }, (_, j) => ({
        step: "client-logs",
        pod: `kube-state-metrics-${i}`,
        pattern: "Unauthorized",
        line: big(`line ${j}`, 20_000),
      })),
    }),
  );
  return makeDiagnosis({ alerts, truncatedAlerts: 3 });
}
