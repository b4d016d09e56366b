import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type PrometheusRangeSeries, PrometheusSource } from "../../src/sources/prometheus.ts";
import { SourceError } from "../../src/sources/source.ts";
import { type FakePrometheus, type PromResponder, startFakePrometheus } from "../support/fake-prometheus.ts";

const USER_AGENT = "alert-enricher/test";
const BEARER = "prom-bearer-0123456789abcdef";

let fake: FakePrometheus | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function sourceFor(responders: PromResponder[], bearerToken?: string): Promise<PrometheusSource> {
  fake = await startFakePrometheus(responders);
  return new PrometheusSource({ url: fake.url, bearerToken, userAgent: USER_AGENT });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function sourceErrorOf(promise: Promise<unknown>): Promise<SourceError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}

const signal = () => new AbortController().signal;

describe("PrometheusSource instant queries", () => {
  it("returns the series, the first value and a one-line summary", async () => {
    const source = await sourceFor([{ match: "rest_client_requests_total", vector: [{ labels: { code: "401" }, value: 0.42 }] }]);
    const output = await source.query({ query: 'sum by (code) (rate(rest_client_requests_total{job="ksm"}[5m]))' }, signal());
    expect(output.data).toEqual({ series: [{ labels: { code: "401" }, value: 0.42 }], count: 1, value: 0.42 });
    expect(output.summary).toBe("1 series, value 0.42");
    expect(output.request).toBe('sum by (code) (rate(rest_client_requests_total{job="ksm"}[5m]))');
  });

  it("counts several series and says when there are none", async () => {
    const source = await sourceFor([
      {
        match: "up",
        vector: [
          { labels: { instance: "a:9100" }, value: 1 },
          { labels: { instance: "b:9100" }, value: 0 },
        ],
      },
    ]);
    const several = await source.query({ query: "up" }, signal());
    expect(several.data.count).toBe(2);
    expect(several.summary).toBe("2 series");
    const none = await source.query({ query: "absent_metric" }, signal());
    expect(none.data).toEqual({ series: [], count: 0, value: null });
    expect(none.summary).toBe("no series");
  });

  it("returns a scalar result as its value", async () => {
    const source = await sourceFor([{ match: "scalar(", scalar: 3.5 }]);
    const output = await source.query({ query: "scalar(sum(up))" }, signal());
    expect(output.data.value).toBe(3.5);
    expect(output.summary).toBe("scalar 3.5");
  });

  it("evaluates at the given time", async () => {
    const source = await sourceFor([]);
    await source.query({ query: "up" }, signal(), new Date("2025-01-15T09:00:00Z"));
    expect(fake?.queries[0]?.params.time).toBe(String(Date.parse("2025-01-15T09:00:00Z") / 1000));
  });
});

describe("PrometheusSource range queries", () => {
  it("returns each series' points with min, max, average and last value", async () => {
    const now = new Date("2025-01-15T09:30:00Z");
    const end = now.getTime() / 1000;
    const values: Array<[number, number]> = [
      [end - 240, 0.1],
      [end - 180, 0.5],
      [end - 120, 0.3],
      [end - 60, 0.2],
      [end, 0.4],
    ];
    const source = await sourceFor([{ match: "errors", matrix: [{ labels: { job: "ksm" }, values }] }]);
    const output = await source.query({ query: "errors", rangeMs: 10 * 60_000, stepMs: 60_000 }, signal(), now);
    const [series] = output.data.series as PrometheusRangeSeries[];
    expect(series?.labels).toEqual({ job: "ksm" });
    expect(series?.points).toEqual(values.map(([t, v]) => ({ t: new Date(t * 1000).toISOString(), v })));
    expect(series?.min).toBe(0.1);
    expect(series?.max).toBe(0.5);
    expect(series?.avg).toBeCloseTo(0.3);
    expect(series?.last).toBe(0.4);
    expect(output.summary).toBe("1 series");
    expect(output.request).toBe("errors  [range 10m, step 60s]");
    expect(fake?.queries[0]).toMatchObject({
      path: "/api/v1/query_range",
      params: { start: String(end - 600), end: String(end), step: "60" },
    });
  });

  it("says when a range has no series", async () => {
    const source = await sourceFor([]);
    const output = await source.query({ query: "errors", rangeMs: 30 * 60_000 }, signal());
    expect(output.data).toEqual({ series: [], count: 0 });
    expect(output.summary).toBe("no series");
  });
});

describe("PrometheusSource failures", () => {
  it("reports Prometheus' errorType and error when it rejects a query", async () => {
    const source = await sourceFor([]);
    const error = await sourceErrorOf(source.query({ query: "sum(rate(x[5m])" }, signal()));
    expect(error.message).toContain("Prometheus rejected the query");
    expect(error.message).toContain("bad_data");
    expect(error.message).toContain("parse error: unclosed left parenthesis");
  });

  it("reports the HTTP status when the answer is not a Prometheus envelope", async () => {
    fake = await startFakePrometheus([]);
    const source = new PrometheusSource({ url: `${fake.url}/no-such-prefix`, userAgent: USER_AGENT });
    const error = await sourceErrorOf(source.query({ query: "up" }, signal()));
    expect(error.message).toBe("Prometheus rejected the query (HTTP 404)");
  });

  it("names only the host when Prometheus cannot be reached", async () => {
    const port = await closedPort();
    const source = new PrometheusSource({
      url: `http://scraper:pa55word@127.0.0.1:${port}/prometheus/api-prefix`,
      bearerToken: BEARER,
      userAgent: USER_AGENT,
    });
    const error = await sourceErrorOf(source.query({ query: "up" }, signal()));
    expect(error.message).toContain(`Prometheus at 127.0.0.1:${port} could not be reached`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).not.toContain("pa55word");
    expect(error.message).not.toContain("scraper");
    expect(error.message).not.toContain("api-prefix");
    expect(error.message).not.toContain(BEARER);
  });

  it("gives up when the caller's signal aborts a query Prometheus never answers", async () => {
    fake = await startFakePrometheus([], { hang: true });
    const source = new PrometheusSource({ url: fake.url, userAgent: USER_AGENT });
    const controller = new AbortController();
    const pending = source.query({ query: "up" }, controller.signal);
    controller.abort();
    await expect(pending).rejects.toThrow();
  });
});

describe("PrometheusSource bounds", () => {
  /** `count` flat series over the range, each with a long label, as a careless `count by (__name__)` answers. */
  const wide = (count: number): PromResponder => ({
    match: "everything",
    vector: Array.from({ length: count }, (_, i) => ({ labels: { __name__: `metric_${i}_${"x".repeat(200)}` }, value: i })),
  });

  it("refuses an answer over maxBytes while reading it, and does not count that as Prometheus in trouble", async () => {
    const source = await sourceFor([wide(200)]);
    const error = await sourceErrorOf(
      source.query({ query: "everything", rangeMs: 3_600_000, stepMs: 60_000, maxBytes: 64 * 1024 }, signal()),
    );
    expect(error.message).toBe("Prometheus answered more than 64 KiB, the most this query may read");
    expect(error.backendTrouble).toBe(false);
    // The same query without the bound is read whole.
    const output = await source.query({ query: "everything", rangeMs: 3_600_000, stepMs: 60_000 }, signal());
    expect(output.data.count).toBe(200);
  });

  it("refuses more series than maxSeries", async () => {
    const source = await sourceFor([wide(30)]);
    const error = await sourceErrorOf(source.query({ query: "everything", rangeMs: 600_000, maxSeries: 10 }, signal()));
    expect(error.message).toBe("Prometheus answered 30 series, more than the 10 this query may keep");
    expect(error.backendTrouble).toBe(false);
    await expect(source.query({ query: "everything", rangeMs: 600_000, maxSeries: 30 }, signal())).resolves.toMatchObject({
      data: { count: 30 },
    });
  });
});

describe("PrometheusSource requests", () => {
  it("sends the bearer token as an Authorization header and never puts it in an error", async () => {
    const source = await sourceFor([], BEARER);
    await source.query({ query: "up" }, signal());
    expect(fake?.queries[0]?.authorization).toBe(`Bearer ${BEARER}`);
    const error = await sourceErrorOf(source.query({ query: "sum(" }, signal()));
    expect(error.message).not.toContain(BEARER);
    expect(fake?.queries.every((q) => !JSON.stringify(q.params).includes(BEARER))).toBe(true);
  });

  it("sends no Authorization header without a token", async () => {
    const source = await sourceFor([]);
    await source.query({ query: "up" }, signal());
    expect(fake?.queries[0]?.authorization).toBeUndefined();
  });

  it("identifies itself as alert-enricher", async () => {
    const source = await sourceFor([]);
    await source.query({ query: "up" }, signal());
    await source.query({ query: "up", rangeMs: 60_000 }, signal());
    expect(fake?.queries.map((q) => q.userAgent)).toEqual([USER_AGENT, USER_AGENT]);
  });

  it("sends the query in a form body, so long queries fit", async () => {
    const source = await sourceFor([]);
    const query = `up{job=~"${"a|".repeat(3000)}b"}`;
    await source.query({ query }, signal());
    expect(fake?.queries[0]?.query).toBe(query);
  });
});
