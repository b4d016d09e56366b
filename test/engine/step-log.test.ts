// The debug line per playbook step: what it asked, how it went, why it failed, and nothing of a credential.
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { logSteps } from "../../src/engine/step-log.ts";
import type { StepRecord } from "../../src/model/diagnosis.ts";
import { makeSteps } from "../support/diagnosis-fixtures.ts";

function bufferedLogger(level: string) {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  const logger = pino({ level }, stream);
  return {
    logger,
    records: () =>
      text
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

const context = { notification: "n-0001", playbook: "KubeClientErrors", alertname: "KubeClientErrors" };

const timedOut: StepRecord = {
  id: "apiserver_latency",
  title: "API server latency",
  kind: "prometheus",
  status: "timeout",
  outcome: "unknown",
  durationMs: 5003,
  request: "histogram_quantile(0.99, sum by (le) (rate(apiserver_request_duration_seconds_bucket[5m])))",
  summary: "Prometheus did not answer in 5 s",
  error: "Prometheus did not answer a query in 5 s",
};

describe("logSteps", () => {
  it("at debug, writes one line per step with its id, kind, target, status, duration, and the reason of a failure", () => {
    const { logger, records } = bufferedLogger("debug");
    const steps = [...makeSteps(), timedOut];
    logSteps(logger, context, steps);
    const lines = records();
    expect(lines).toHaveLength(steps.length);
    expect(lines[0]).toMatchObject({
      level: 20,
      msg: "playbook step",
      ...context,
      step: "error-codes",
      kind: "prometheus",
      target: 'sum by (code) (rate(rest_client_requests_total{job="kube-state-metrics"}[15m]))',
      status: "ok",
      durationMs: 84,
      summary: "3 series",
    });
    expect(lines[0]).not.toHaveProperty("reason");
    expect(lines.at(-1)).toMatchObject({
      step: "apiserver_latency",
      status: "timeout",
      outcome: "unknown",
      durationMs: 5003,
      reason: "Prometheus did not answer a query in 5 s",
    });
  });

  it("writes nothing at info", () => {
    const { logger, records } = bufferedLogger("info");
    logSteps(logger, context, [...makeSteps(), timedOut]);
    expect(records()).toEqual([]);
  });

  it("does not write a credential that reached a request or an error", () => {
    const { logger, records } = bufferedLogger("debug");
    const token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlc2lnbmF0dXJl";
    logSteps(logger, context, [
      {
        ...timedOut,
        status: "failed",
        request: `GET /api/v1/namespaces/ci/secrets?token=${token}`,
        error: `the API server answered 401 to Authorization: Bearer ${token}`,
      },
    ]);
    const [line] = records();
    expect(line?.reason).toEqual(expect.stringContaining("401"));
    expect(JSON.stringify(line)).not.toContain(token);
  });
});
