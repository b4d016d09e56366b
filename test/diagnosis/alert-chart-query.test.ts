// Tests for what an alert's chart shows: the left side, the threshold and the comparison read from its rule's expression.
import { describe, expect, it } from "vitest";
import { alertChartQuery, evaluateConstant } from "../../src/diagnosis/alert-chart-query.ts";
import {
  CERTIFICATE_EXPIRES_SOON,
  generatorURL,
  KUBE_CLIENT_ERRORS,
  KUBERNETES_API_CLIENT_ERRORS,
} from "../support/alert-chart-fixtures.ts";

describe("alertChartQuery", () => {
  it("charts the error percentage of KubernetesApiClientErrors against its 1% threshold, not the traffic guard after `and`", () => {
    expect(alertChartQuery(generatorURL(KUBERNETES_API_CLIENT_ERRORS))).toEqual({
      query:
        '(sum(rate(rest_client_requests_total{code=~"(4|5).."}[1m])) by (instance, job) / sum(rate(rest_client_requests_total[1m])) by (instance, job)) * 100',
      threshold: 1,
      comparison: ">",
    });
  });

  it("charts the KubeClientErrors ratio from the kubernetes-mixin against 0.01, over several lines", () => {
    const chart = alertChartQuery(generatorURL(KUBE_CLIENT_ERRORS));
    expect(chart?.threshold).toBe(0.01);
    expect(chart?.comparison).toBe(">");
    expect(chart?.query).toMatch(/^\(sum\(rate\(rest_client_requests_total\{job="apiserver",code=~"5.."\}\[5m\]\)\)/);
    expect(chart?.query).toMatch(/by \(cluster, instance, job, namespace\)\)$/);
  });

  it("charts the certificate rule's quantile against `24*60*60` = 86400 s, passing over the `count > 0` guard before `and`", () => {
    expect(alertChartQuery(generatorURL(CERTIFICATE_EXPIRES_SOON))).toEqual({
      query:
        'histogram_quantile(0.01, sum by (job, le) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="apiserver"}[5m])))',
      threshold: 86400,
      comparison: "<",
    });
  });

  it("charts the first operand of `and` when every operand is only a guard", () => {
    expect(alertChartQuery(generatorURL("a > 0 and on(job) b != 0"))).toEqual({ query: "a", threshold: 0, comparison: ">" });
  });

  it("ignores comparison characters inside range selectors, label matchers and string literals", () => {
    const chart = alertChartQuery(generatorURL('sum(rate(http_requests_total{code=~"a>b", path!="<=x"}[5m])) by (code) >= 5'));
    expect(chart).toEqual({
      query: 'sum(rate(http_requests_total{code=~"a>b", path!="<=x"}[5m])) by (code)',
      threshold: 5,
      comparison: ">=",
    });
    expect(alertChartQuery(generatorURL('label_replace(up, "x", ">1", "", "") == 0'))?.query).toBe('label_replace(up, "x", ">1", "", "")');
  });

  it("splits at the last top-level comparison and keeps `bool` out of the threshold", () => {
    expect(alertChartQuery(generatorURL("up > bool 0.5"))).toEqual({ query: "up", threshold: 0.5, comparison: ">" });
    expect(alertChartQuery(generatorURL("(foo > 3) != 1"))).toEqual({ query: "(foo > 3)", threshold: 1, comparison: "!=" });
  });

  it("gives no chart for an `or`, which has no single left side", () => {
    expect(alertChartQuery(generatorURL("a > 1 or b > 2"))).toBeUndefined();
    expect(alertChartQuery(generatorURL("(a > 1 OR b > 2)"))).toBeUndefined();
  });

  it("takes the left operand of `unless` and unwraps parentheses around the whole expression", () => {
    expect(alertChartQuery(generatorURL("(up{job='x'} == 0) unless on(instance) maintenance == 1"))).toEqual({
      query: "up{job='x'}",
      threshold: 0,
      comparison: "==",
    });
  });

  it("turns the comparison round when the constant is written first", () => {
    expect(alertChartQuery(generatorURL("0.05 < rate(errors_total[5m])"))).toEqual({
      query: "rate(errors_total[5m])",
      threshold: 0.05,
      comparison: ">",
    });
  });

  it("charts an expression compared with another series without a threshold", () => {
    expect(alertChartQuery(generatorURL("node_filesystem_avail_bytes < on(instance) node_filesystem_size_bytes * 0.1"))).toEqual({
      query: "node_filesystem_avail_bytes",
    });
  });

  it("charts an expression without a comparison as it is", () => {
    expect(alertChartQuery(generatorURL("absent(up)"))).toEqual({ query: "absent(up)" });
  });

  it("reads past the comments kubernetes-mixin rules open with, unwrapping the parentheses after them", () => {
    const expr = `# Without min_over_time, failed scrapes could create false negatives.
(
  predict_linear(prometheus_notifications_queue_length{job="prometheus-k8s"}[5m], 60 * 30)
>
  min_over_time(prometheus_notifications_queue_capacity{job="prometheus-k8s"}[5m])
)`;
    expect(alertChartQuery(generatorURL(expr))).toEqual({
      query: 'predict_linear(prometheus_notifications_queue_length{job="prometheus-k8s"}[5m], 60 * 30)',
    });
    expect(
      alertChartQuery(generatorURL("# Alertmanager reloads\nmax_over_time(alertmanager_config_last_reload_successful[5m]) == 0")),
    ).toEqual({
      query: "max_over_time(alertmanager_config_last_reload_successful[5m])",
      threshold: 0,
      comparison: "==",
    });
  });

  it("keeps the threshold of a comparison followed by a comment", () => {
    expect(alertChartQuery(generatorURL("up > 1 # more than one"))).toEqual({ query: "up", threshold: 1, comparison: ">" });
  });

  it("gives no chart for a generatorURL without an expression, or with an unbalanced one", () => {
    expect(alertChartQuery("")).toBeUndefined();
    expect(alertChartQuery("http://prometheus:9090/graph?g0.tab=1")).toBeUndefined();
    expect(alertChartQuery(generatorURL("sum(rate(x[5m]) > 1"))).toBeUndefined();
  });
});

describe("evaluateConstant", () => {
  it("evaluates constant arithmetic and nothing else", () => {
    expect(evaluateConstant("24*60*60")).toBe(86400);
    expect(evaluateConstant("0.01")).toBe(0.01);
    expect(evaluateConstant("-(1 + 2) * 3")).toBe(-9);
    expect(evaluateConstant("2 ^ 3 ^ 2")).toBe(512);
    expect(evaluateConstant("-2 ^ 2")).toBe(-4);
    expect(evaluateConstant("1e3 / 4 % 100")).toBe(50);
    expect(evaluateConstant("0x10")).toBe(16);
    expect(evaluateConstant("up")).toBeUndefined();
    expect(evaluateConstant("1 / 0")).toBeUndefined();
    expect(evaluateConstant("process.exit(1)")).toBeUndefined();
    expect(evaluateConstant("5m")).toBeUndefined();
    expect(evaluateConstant("(1")).toBeUndefined();
  });
});
