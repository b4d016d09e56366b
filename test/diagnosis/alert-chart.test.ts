// Tests for what an alert's chart shows: the left side and threshold read from its generatorURL, and the hour fetched from Prometheus.
import { afterEach, describe, expect, it } from "vitest";
import { alertChartQuery, evaluateConstant, fetchAlertChart } from "../../src/diagnosis/alert-chart.ts";
import { KnownAlertRules, readAlertRulesFile } from "../../src/diagnosis/alert-rules.ts";
import { PrometheusSource } from "../../src/sources/prometheus.ts";
import { SourceError } from "../../src/sources/source.ts";
import { makeAlert } from "../support/diagnosis-fixtures.ts";
import { type FakePrometheus, type PromSeries, startFakePrometheus } from "../support/fake-prometheus.ts";

/** The generatorURL Prometheus puts on an alert for this expression. */
function generatorURL(expr: string): string {
  return `http://prometheus:9090/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`;
}

const KUBERNETES_API_CLIENT_ERRORS =
  '(sum(rate(rest_client_requests_total{code=~"(4|5).."}[1m])) by (instance, job) / sum(rate(rest_client_requests_total[1m])) by (instance, job)) * 100 > 1 and sum(rate(rest_client_requests_total[1m])) by (instance, job) > 0';
const KUBE_CLIENT_ERRORS = `(sum(rate(rest_client_requests_total{job="apiserver",code=~"5.."}[5m])) by (cluster, instance, job, namespace)
  /
sum(rate(rest_client_requests_total{job="apiserver"}[5m])) by (cluster, instance, job, namespace))
> 0.01`;
const CERTIFICATE_EXPIRES_SOON =
  'apiserver_client_certificate_expiration_seconds_count{job="apiserver"} > 0 and histogram_quantile(0.01, sum by (job, le) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="apiserver"}[5m]))) < 24*60*60';

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
    expect(evaluateConstant("1e3 / 4 % 100")).toBe(50);
    expect(evaluateConstant("0x10")).toBe(16);
    expect(evaluateConstant("up")).toBeUndefined();
    expect(evaluateConstant("1 / 0")).toBeUndefined();
    expect(evaluateConstant("process.exit(1)")).toBeUndefined();
    expect(evaluateConstant("5m")).toBeUndefined();
    expect(evaluateConstant("(1")).toBeUndefined();
  });
});

/** The service knows this rule, under the alert name makeAlert gives unless told. */
function known(expr: string, alert = "KubeClientErrors"): { rules: KnownAlertRules } {
  return { rules: new KnownAlertRules([{ alert, expr }]) };
}

describe("fetchAlertChart", () => {
  let fake: FakePrometheus | undefined;

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  /** A series of the last hour at one-minute steps, ending now. */
  function lastHour(labels: Record<string, string>, value: (minute: number) => number): PromSeries {
    const now = Math.floor(Date.now() / 1000);
    return { labels, values: Array.from({ length: 61 }, (_, i) => [now - (60 - i) * 60, value(i)] as [number, number]) };
  }

  function source(url: string): PrometheusSource {
    return new PrometheusSource({ url, userAgent: "alert-enricher/test" });
  }

  it("runs the alert's left side over the last hour at one-minute steps and returns its series with the threshold", async () => {
    fake = await startFakePrometheus([
      {
        match: "rest_client_requests_total",
        matrix: [lastHour({ job: "kube-state-metrics", instance: "10.244.1.17:8443" }, (m) => m / 10)],
      },
    ]);
    const alert = makeAlert({ generatorURL: generatorURL(KUBERNETES_API_CLIENT_ERRORS) });
    const chart = await fetchAlertChart(alert, source(fake.url), known(KUBERNETES_API_CLIENT_ERRORS));

    expect(chart?.threshold).toBe(1);
    expect(chart?.comparison).toBe(">");
    expect(chart?.startsAt).toBe(alert.startsAt);
    expect(chart?.series).toHaveLength(1);
    expect(chart?.series[0]?.labels).toEqual({ job: "kube-state-metrics", instance: "10.244.1.17:8443" });
    expect(chart?.series[0]?.points.length).toBeGreaterThanOrEqual(60);
    expect(chart?.series[0]?.points.at(-1)?.v).toBe(6);
    const [query] = fake.queries;
    expect(query?.path).toBe("/api/v1/query_range");
    expect(query?.query).toBe(chart?.query);
    expect(query?.params.step).toBe("60");
    expect(Number(query?.params.end) - Number(query?.params.start)).toBe(3600);
  });

  it("keeps at most 10 series, the alert's own first and then the highest", async () => {
    const many = Array.from({ length: 25 }, (_, i) => lastHour({ job: `client-${i}`, instance: `10.0.0.${i}:443` }, () => i));
    const own = lastHour({ job: "kube-state-metrics", instance: "10.244.1.17:8443" }, () => 0.5);
    fake = await startFakePrometheus([{ match: "rest_client_requests_total", matrix: [...many, own] }]);
    const chart = await fetchAlertChart(
      makeAlert({ generatorURL: generatorURL(KUBERNETES_API_CLIENT_ERRORS) }),
      source(fake.url),
      known(KUBERNETES_API_CLIENT_ERRORS),
    );

    expect(chart?.series).toHaveLength(10);
    expect(chart?.series[0]?.labels.job).toBe("kube-state-metrics");
    expect(chart?.series.slice(1).map((s) => s.labels.job)).toEqual([24, 23, 22, 21, 20, 19, 18, 17, 16].map((i) => `client-${i}`));
  });

  it("keeps the lowest series when the alert fires below its threshold", async () => {
    const series = [3e6, 5e4, 9e5, 2e4].map((v, i) => lastHour({ job: "apiserver", instance: `cp-${i}` }, () => v));
    fake = await startFakePrometheus([{ match: "histogram_quantile", matrix: series }]);
    const expr =
      "histogram_quantile(0.01, sum by (job, le, instance) (rate(apiserver_client_certificate_expiration_seconds_bucket[5m]))) < 24*60*60";
    const chart = await fetchAlertChart(
      makeAlert({ labels: { alertname: "KubernetesClientCertificateExpiresSoon" }, generatorURL: generatorURL(expr) }),
      source(fake.url),
      { ...known(expr, "KubernetesClientCertificateExpiresSoon"), maxSeries: 2 },
    );
    expect(chart?.threshold).toBe(86400);
    expect(chart?.series.map((s) => s.labels.instance)).toEqual(["cp-3", "cp-1"]);
  });

  it("gives no chart when the expression has no series in the last hour", async () => {
    fake = await startFakePrometheus([]);
    const errors: Error[] = [];
    const alert = makeAlert({ generatorURL: generatorURL("sum(rate(x[5m])) by (job) > 1") });
    expect(
      await fetchAlertChart(alert, source(fake.url), { ...known("sum(rate(x[5m])) by (job) > 1"), onError: (error) => errors.push(error) }),
    ).toBeUndefined();
    expect(fake.queries.map((q) => q.query)).toEqual(["sum(rate(x[5m])) by (job)"]);
    expect(errors).toEqual([]);
  });

  it("gives no chart, and says why, when Prometheus rejects the query or cannot be reached", async () => {
    fake = await startFakePrometheus([]);
    const errors: Error[] = [];
    const onError = (error: Error) => errors.push(error);
    expect(
      await fetchAlertChart(makeAlert({ generatorURL: generatorURL('{job=""} > 1') }), source(fake.url), {
        ...known('{job=""} > 1'),
        onError,
      }),
    ).toBeUndefined();
    expect(
      await fetchAlertChart(makeAlert({ generatorURL: generatorURL("up == 0") }), source("http://127.0.0.1:9"), {
        ...known("up == 0"),
        onError,
      }),
    ).toBeUndefined();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(SourceError);
    expect(errors[0]?.message).toContain("rejected the query");
    expect(errors[1]?.message).toContain("could not be reached");
  });

  it("gives up when Prometheus does not answer within the timeout", async () => {
    fake = await startFakePrometheus([], { hang: true });
    const errors: Error[] = [];
    const started = Date.now();
    const chart = await fetchAlertChart(makeAlert({ generatorURL: generatorURL("up == 0") }), source(fake.url), {
      ...known("up == 0"),
      timeoutMs: 200,
      onError: (error) => errors.push(error),
    });
    expect(chart).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("does not query Prometheus for an alert whose expression cannot be charted", async () => {
    fake = await startFakePrometheus([]);
    const chart = await fetchAlertChart(
      makeAlert({ generatorURL: generatorURL("a > 1 or b > 1") }),
      source(fake.url),
      known("a > 1 or b > 1"),
    );
    expect(chart).toBeUndefined();
    expect(fake.queries).toEqual([]);
  });

  const shipped = new KnownAlertRules(
    readAlertRulesFile(new URL("../../docker/prometheus/alert-enricher-alerts.rules.yml", import.meta.url).pathname),
  );
  /** The KubeClientErrors rule as Prometheus 2.42 prints it into its alerts' generatorURL. */
  const PRINTED_KUBE_CLIENT_ERRORS =
    '(sum by (cluster, instance, job, namespace) (rate(rest_client_requests_total{code=~"5..",job="apiserver"}[5m])) / sum by (cluster, instance, job, namespace) (rate(rest_client_requests_total{job="apiserver"}[5m]))) > 0.01';

  it("sends Prometheus nothing for a generatorURL whose expression is no rule the service knows, and says why", async () => {
    fake = await startFakePrometheus([]);
    const reasons: string[] = [];
    const hostile = makeAlert({ generatorURL: generatorURL('count by (__name__) ({__name__=~".+"}) > 0') });
    expect(await fetchAlertChart(hostile, source(fake.url), { rules: shipped, onSkip: (r) => reasons.push(r) })).toBeUndefined();
    expect(fake.queries).toEqual([]);
    expect(reasons).toEqual(["the expression in its generatorURL is not the one of the known KubeClientErrors rule"]);
  });

  it("sends Prometheus nothing for a known rule's expression on an alert of another name", async () => {
    fake = await startFakePrometheus([]);
    const reasons: string[] = [];
    const alert = makeAlert({ labels: { alertname: "KubeAPIErrorBudgetBurn" }, generatorURL: generatorURL(PRINTED_KUBE_CLIENT_ERRORS) });
    expect(await fetchAlertChart(alert, source(fake.url), { rules: shipped, onSkip: (r) => reasons.push(r) })).toBeUndefined();
    expect(fake.queries).toEqual([]);
    expect(reasons).toEqual(["no known alert rule is named KubeAPIErrorBudgetBurn"]);
  });

  it("charts a shipped rule from the generatorURL Prometheus gives its alert, querying the rule's own text", async () => {
    fake = await startFakePrometheus([
      { match: "rest_client_requests_total", matrix: [lastHour({ job: "kube-state-metrics", instance: "10.244.1.17:8443" }, () => 0.05)] },
    ]);
    const chart = await fetchAlertChart(makeAlert({ generatorURL: generatorURL(PRINTED_KUBE_CLIENT_ERRORS) }), source(fake.url), {
      rules: shipped,
    });
    expect(chart?.threshold).toBe(0.01);
    expect(chart?.series).toHaveLength(1);
    expect(fake.queries.map((q) => q.query)).toEqual([
      '(sum(rate(rest_client_requests_total{job="apiserver",code=~"5.."}[5m])) by (cluster, instance, job, namespace) / sum(rate(rest_client_requests_total{job="apiserver"}[5m])) by (cluster, instance, job, namespace))',
    ]);
  });

  it("bounds the chart query: at most 6 hours at 360 points, 200 series, 2 MiB", async () => {
    const many = (count: number, label = "") =>
      Array.from({ length: count }, (_, i) => lastHour({ job: `client-${i}${label}`, instance: `10.0.${i >> 8}.${i & 255}:443` }, () => i));
    fake = await startFakePrometheus([{ match: "rest_client_requests_total", matrix: many(250) }]);
    const errors: Error[] = [];
    const alert = makeAlert({ generatorURL: generatorURL(PRINTED_KUBE_CLIENT_ERRORS) });
    const week = 7 * 24 * 3_600_000;
    const options = { rules: shipped, rangeMs: week, stepMs: 1000, onError: (e: Error) => errors.push(e) };
    expect(await fetchAlertChart(alert, source(fake.url), options)).toBeUndefined();
    const [query] = fake.queries;
    expect(Number(query?.params.end) - Number(query?.params.start)).toBe(6 * 3600);
    expect(query?.params.step).toBe("60");
    expect(errors[0]?.message).toBe("Prometheus answered 250 series, more than the 200 this query may keep");

    fake.setResponders([{ match: "rest_client_requests_total", matrix: many(180, "x".repeat(12_000)) }]);
    expect(await fetchAlertChart(alert, source(fake.url), options)).toBeUndefined();
    expect(errors[1]?.message).toBe("Prometheus answered more than 2 MiB, the most this query may read");
  });
});
