// Tests for an alert's chart: the hour of its rule's expression fetched from Prometheus, bounded, and only for a known rule.
import { afterEach, describe, expect, it } from "vitest";
import { fetchAlertChart } from "../../src/diagnosis/alert-chart.ts";
import { KnownAlertRules, readAlertRulesFile } from "../../src/diagnosis/alert-rules.ts";
import { PrometheusSource } from "../../src/sources/prometheus.ts";
import { SourceError } from "../../src/sources/source.ts";
import { generatorURL, KUBERNETES_API_CLIENT_ERRORS } from "../support/alert-chart-fixtures.ts";
import { makeAlert } from "../support/diagnosis-fixtures.ts";
import { type FakePrometheus, type PromSeries, startFakePrometheus } from "../support/fake-prometheus.ts";

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
