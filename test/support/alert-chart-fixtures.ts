// Alert rule expressions and the generatorURLs Prometheus puts on their alerts, for the chart tests.

/** The generatorURL Prometheus puts on an alert for this expression. */
export function generatorURL(expr: string): string {
  return `http://prometheus:9090/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`;
}

export const KUBERNETES_API_CLIENT_ERRORS =
  '(sum(rate(rest_client_requests_total{code=~"(4|5).."}[1m])) by (instance, job) / sum(rate(rest_client_requests_total[1m])) by (instance, job)) * 100 > 1 and sum(rate(rest_client_requests_total[1m])) by (instance, job) > 0';
export const KUBE_CLIENT_ERRORS = `(sum(rate(rest_client_requests_total{job="apiserver",code=~"5.."}[5m])) by (cluster, instance, job, namespace)
  /
sum(rate(rest_client_requests_total{job="apiserver"}[5m])) by (cluster, instance, job, namespace))
> 0.01`;
export const CERTIFICATE_EXPIRES_SOON =
  'apiserver_client_certificate_expiration_seconds_count{job="apiserver"} > 0 and histogram_quantile(0.01, sum by (job, le) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="apiserver"}[5m]))) < 24*60*60';
