// Alertmanager webhook payloads for tests, starting from one captured from a real Alertmanager 0.25.
import { readFileSync } from "node:fs";
import type { Alert, AlertmanagerPayload } from "../../src/model/alertmanager.ts";

export const realPayload = (): AlertmanagerPayload =>
  JSON.parse(readFileSync(new URL("../fixtures/alertmanager-0.25-webhook.json", import.meta.url), "utf8")) as AlertmanagerPayload;

export function kubeClientErrorsPayload(
  labels: Record<string, string> = {},
  overrides: Partial<AlertmanagerPayload> = {},
): AlertmanagerPayload {
  const alertLabels = {
    alertname: "KubeClientErrors",
    cluster: "demo",
    job: "kube-state-metrics",
    instance: "10.244.1.17:8443",
    namespace: "monitoring",
    severity: "warning",
    ...labels,
  };
  const alert: Alert = {
    status: "firing",
    labels: alertLabels,
    annotations: {
      summary: "Kubernetes API server client is experiencing errors.",
      description: `Kubernetes API server client '${alertLabels.job}/${alertLabels.instance}' is experiencing 4.2% errors.`,
      runbook_url: "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubeclienterrors",
    },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "http://prometheus.demo:9090/graph?g0.expr=rest_client_requests_total&g0.tab=1",
    fingerprint: "7e3c1a9b0d2f4e6a",
  };
  return {
    receiver: "enricher",
    status: "firing",
    alerts: [alert],
    groupLabels: { alertname: "KubeClientErrors" },
    commonLabels: alertLabels,
    commonAnnotations: alert.annotations,
    externalURL: "http://alertmanager.demo:9093",
    version: "4",
    groupKey: '{}/{severity=~"warning|critical"}:{alertname="KubeClientErrors"}',
    truncatedAlerts: 0,
    ...overrides,
  };
}
