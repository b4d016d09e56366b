// Shows the fake Prometheus answers with Prometheus' envelopes and rejects the queries Prometheus' parser would.
import { afterEach, describe, expect, it } from "vitest";
import { type FakePrometheus, formatPromValue, type PromResponder, promqlParseError, startFakePrometheus } from "./fake-prometheus.ts";

let prom: FakePrometheus | undefined;

afterEach(async () => {
  await prom?.close();
  prom = undefined;
});

async function start(responders: PromResponder[], options: { latencyMs?: number; hang?: boolean } = {}): Promise<FakePrometheus> {
  prom = await startFakePrometheus(responders, options);
  return prom;
}

async function get(fake: FakePrometheus, path: string, params: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${fake.url}${path}?${new URLSearchParams(params)}`);
  return { status: response.status, body: await response.json() };
}

const RESTARTS: PromResponder = {
  match: "increase(kube_pod_container_status_restarts_total",
  vector: [
    { labels: { namespace: "shop", pod: "web-1" }, value: 3 },
    { labels: { namespace: "shop", pod: "web-2" }, value: Number.NaN },
  ],
};

/** A query the service might build, with a label value pasted in. */
function cpuQuery(podLiteral: string): string {
  return `sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop", pod="${podLiteral}"}[5m]))`;
}

describe("the fake Prometheus", () => {
  it("answers an instant query with a vector envelope and string values", async () => {
    const fake = await start([RESTARTS]);
    const answer = await get(fake, "/api/v1/query", {
      query: 'increase(kube_pod_container_status_restarts_total{namespace="shop"}[1h])',
      time: "1736935200.5",
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: "success",
      data: {
        resultType: "vector",
        result: [
          { metric: { namespace: "shop", pod: "web-1" }, value: [1736935200.5, "3"] },
          { metric: { namespace: "shop", pod: "web-2" }, value: [1736935200.5, "NaN"] },
        ],
      },
    });
    expect(fake.queries).toEqual([expect.objectContaining({ path: "/api/v1/query", query: expect.stringContaining("restarts_total") })]);
  });

  it("matches a string responder after collapsing whitespace, and a RegExp responder on the query", async () => {
    const fake = await start([
      { match: /^up\{job="apiserver"\}$/, scalar: 1 },
      { match: "sum by (code)  (rate(apiserver_request_total[5m]))", vector: [{ labels: { code: "429" }, value: 12.5 }] },
    ]);
    const spread = await get(fake, "/api/v1/query", { query: "sum  by (code)\n  (rate(apiserver_request_total[5m]))", time: "100" });
    expect(spread.body).toMatchObject({ data: { result: [{ metric: { code: "429" }, value: [100, "12.5"] }] } });
    const scalar = await get(fake, "/api/v1/query", { query: 'up{job="apiserver"}', time: "100" });
    expect(scalar.body).toEqual({ status: "success", data: { resultType: "scalar", result: [100, "1"] } });
  });

  it("answers an empty result when nothing matches, as Prometheus does for absent series", async () => {
    const fake = await start([RESTARTS]);
    const answer = await get(fake, "/api/v1/query", { query: "kube_pod_info" });
    expect(answer.body).toMatchObject({ status: "success", data: { resultType: "vector", result: [] } });
  });

  it("accepts form-encoded POST queries", async () => {
    const fake = await start([RESTARTS]);
    const response = await fetch(`${fake.url}/api/v1/query`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: "increase(kube_pod_container_status_restarts_total[1h])", time: "200" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ data: { result: [{ value: [200, "3"] }, { value: [200, "NaN"] }] } });
    expect(fake.queries[0]?.params).toMatchObject({ time: "200" });
  });

  it("rejects an empty query like Prometheus' parser", async () => {
    const fake = await start([]);
    const answer = await get(fake, "/api/v1/query", { query: "  " });
    expect(answer).toEqual({
      status: 400,
      body: { status: "error", errorType: "bad_data", error: 'invalid parameter "query": 1:1: parse error: no expression found in input' },
    });
  });

  it("rejects a query whose label value was pasted in without escaping", async () => {
    const fake = await start([{ match: "container_cpu_usage_seconds_total", vector: [{ labels: { pod: "x" }, value: 1 }] }]);
    const injected = await get(fake, "/api/v1/query", { query: cpuQuery('x"}[5m]) or vector(1) #') });
    expect(injected.status).toBe(400);
    expect(injected.body).toMatchObject({
      status: "error",
      errorType: "bad_data",
      error: expect.stringContaining("parse error: unclosed left parenthesis"),
    });

    const escaped = await get(fake, "/api/v1/query", { query: cpuQuery('x\\"}[5m]) or vector(1) #') });
    expect(escaped.status).toBe(200);
    expect(escaped.body).toMatchObject({ status: "success", data: { resultType: "vector" } });
  });

  it("reports unbalanced brackets, unterminated strings and bad escapes", () => {
    expect(promqlParseError("sum(rate(x[5m])")).toMatch(/parse error: unclosed left parenthesis/);
    expect(promqlParseError("rate(x[5m]))")).toMatch(/^1:12: parse error: unexpected right parenthesis/);
    expect(promqlParseError('x{pod="a"')).toMatch(/unexpected end of input inside braces/);
    expect(promqlParseError("rate(x[5m)")).toMatch(/parse error/);
    expect(promqlParseError('x{pod="a}')).toMatch(/unterminated quoted string/);
    expect(promqlParseError('x{pod="a\\"}')).toMatch(/unterminated quoted string/);
    expect(promqlParseError('x{pod=~"a\\.b"}')).toMatch(/unknown escape sequence U\+002E '\.'/);
    expect(promqlParseError('x{pod=~"a\\\\.b"}')).toBeUndefined();
    expect(promqlParseError('x{pod=~"(a"}')).toMatch(/error parsing regexp/);
    expect(promqlParseError("x{pod=web}")).toMatch(/expected string/);
    expect(promqlParseError('{pod=""}')).toMatch(/at least one non-empty matcher/);
    expect(promqlParseError("rate(x[undefined])")).toMatch(/expected duration/);
    expect(promqlParseError("rate(x[$__rate_interval])")).toMatch(/unexpected character: '\$'/);
    expect(promqlParseError('sum(x{a="(", b=`)`}) # trailing ) comment')).toBeUndefined();
    expect(promqlParseError("max_over_time(rate(x[5m])[1h:1m])")).toBeUndefined();
  });

  it("synthesizes a flat matrix over the range from a vector responder", async () => {
    const fake = await start([RESTARTS]);
    const answer = await get(fake, "/api/v1/query_range", {
      query: "increase(kube_pod_container_status_restarts_total[5m])",
      start: "1000",
      end: "1120",
      step: "1m",
    });
    expect(answer.body).toEqual({
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          {
            metric: { namespace: "shop", pod: "web-1" },
            values: [
              [1000, "3"],
              [1060, "3"],
              [1120, "3"],
            ],
          },
          {
            metric: { namespace: "shop", pod: "web-2" },
            values: [
              [1000, "NaN"],
              [1060, "NaN"],
              [1120, "NaN"],
            ],
          },
        ],
      },
    });
  });

  it("keeps only the points of a matrix responder inside the range", async () => {
    const fake = await start([
      {
        match: "apiserver_flowcontrol_current_inqueue_requests",
        matrix: [
          {
            labels: { priority_level: "workload-low" },
            values: [
              [900, 1],
              [1000, 2],
              [1060, Number.POSITIVE_INFINITY],
            ],
          },
        ],
      },
    ]);
    const answer = await get(fake, "/api/v1/query_range", {
      query: "apiserver_flowcontrol_current_inqueue_requests",
      start: "1000",
      end: "1100",
      step: "60",
    });
    expect(answer.body).toMatchObject({
      data: {
        resultType: "matrix",
        result: [
          {
            values: [
              [1000, "2"],
              [1060, "+Inf"],
            ],
          },
        ],
      },
    });
  });

  it("refuses range queries over the resolution limit or with bad parameters", async () => {
    const fake = await start([RESTARTS]);
    const query = "increase(kube_pod_container_status_restarts_total[5m])";
    const tooFine = await get(fake, "/api/v1/query_range", { query, start: "0", end: "11001", step: "1" });
    expect(tooFine).toEqual({
      status: 400,
      body: {
        status: "error",
        errorType: "bad_data",
        error: "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
      },
    });
    expect((await get(fake, "/api/v1/query_range", { query, start: "0", end: "11000", step: "1" })).status).toBe(200);
    expect((await get(fake, "/api/v1/query_range", { query, start: "100", end: "50", step: "1" })).body).toMatchObject({
      error: "end timestamp must not be before start time",
    });
    expect((await get(fake, "/api/v1/query_range", { query, start: "0", end: "60", step: "0" })).body).toMatchObject({
      error: expect.stringContaining("zero or negative query resolution step widths"),
    });
    expect((await get(fake, "/api/v1/query_range", { query, start: "0", end: "60" })).body).toMatchObject({
      error: 'invalid parameter "step": cannot parse "" to a valid duration',
    });
  });

  it("answers buildinfo and readiness", async () => {
    const fake = await start([]);
    expect((await get(fake, "/api/v1/status/buildinfo", {})).body).toMatchObject({
      status: "success",
      data: { version: expect.any(String) },
    });
    expect((await fetch(`${fake.url}/-/ready`)).status).toBe(200);
  });

  it("can hang every request until closed", async () => {
    const fake = await start([], { hang: true });
    const outcome = await Promise.race([
      fetch(`${fake.url}/api/v1/query?query=up`).then(
        () => "answered",
        () => "dropped at close",
      ),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 200)),
    ]);
    expect(outcome).toBe("still waiting");
  });

  it("formats values as Prometheus does", () => {
    expect([1e21, 1.5e-7, -0.25, Number.NEGATIVE_INFINITY].map(formatPromValue)).toEqual([
      "1000000000000000000000",
      "0.00000015",
      "-0.25",
      "-Inf",
    ]);
  });
});

describe("the metric names the fake holds", () => {
  it("lists them at /api/v1/label/__name__/values, narrowed by a __name__ matcher as Prometheus narrows them", async () => {
    const fake = await start([]);
    fake.setMetricNames(["up", "apiserver_request_total", "rest_client_requests_total"]);
    expect(await get(fake, "/api/v1/label/__name__/values", {})).toEqual({
      status: 200,
      body: { status: "success", data: ["apiserver_request_total", "rest_client_requests_total", "up"] },
    });
    const narrowed = await get(fake, "/api/v1/label/__name__/values", { "match[]": '{__name__=~"up|rest_client_.*|missing"}' });
    expect(narrowed.body).toEqual({ status: "success", data: ["rest_client_requests_total", "up"] });
  });

  it("refuses a match[] it would not honour, rather than ignore it", async () => {
    const fake = await start([]);
    const refused = await get(fake, "/api/v1/label/__name__/values", { "match[]": '{job="apiserver"}' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ status: "error", errorType: "bad_data" });
  });
});
