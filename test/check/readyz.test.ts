// /readyz and the backend gauges as an operator sees them: a dead Prometheus does not make the pod unready (Alertmanager
// must still deliver), but /readyz names it and since when, the gauges show it, and the start-time preflight's lines
// are there too.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, startService } from "../../src/service.ts";
import { freePort } from "../../testkit/loopback-server.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const TOKEN = "readyz-token-0123456789abcdef";

let dir: string | undefined;
let cluster: DemoCluster | undefined;
let service: RunningService | undefined;

afterEach(async () => {
  await service?.stop();
  await cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  service = cluster = dir = undefined;
});

interface Readyz {
  status: string;
  backends: Record<string, { state: string; since?: string; until?: string; lastError?: string }>;
  check?: { state?: string; failed?: number; lines?: Array<{ status: string; check: string; detail: string }> };
}

async function readyz(url: string): Promise<{ code: number; body: Readyz }> {
  const response = await fetch(`${url}/readyz`);
  return { code: response.status, body: (await response.json()) as Readyz };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("/readyz with a dead backend", () => {
  it("stays 200, shows Prometheus unreachable then its circuit open, the API server ok, and the preflight's failure", async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-readyz-"));
    cluster = await startDemoCluster(scenarioNamed("credentials-rejected"));
    const deadPort = await freePort();
    const config = loadConfig({
      ...cluster.env,
      PROMETHEUS_URL: `http://127.0.0.1:${deadPort}`,
      PORT: "0",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
      CIRCUIT_BREAKER_FAILURES: "3",
    });
    // No sink: the diagnosis is not what this test looks at.
    service = await startService(config, { logger: createLogger("silent"), pollIntervalMs: 50, preflight: true, sinks: [] });
    const before = await readyz(service.url);
    expect(before.code).toBe(200);
    expect(before.body.backends).toEqual({ kubernetes: { state: "ok" }, prometheus: { state: "ok" } });

    const summary = await service.preflight;
    expect(summary?.failed).toBe(1);
    const afterCheck = await readyz(service.url);
    expect(afterCheck.body.check?.lines).toContainEqual({
      status: "FAIL",
      check: "prometheus",
      detail: `cannot reach Prometheus at 127.0.0.1:${deadPort} (ECONNREFUSED); check PROMETHEUS_URL and that it is reachable from here`,
    });
    expect(afterCheck.body.check?.lines?.find((l) => l.check === "kubernetes")?.status).toBe("ok");

    const sent = await fetch(`${service.url}/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels)),
    });
    expect(sent.status).toBe(200);
    const { code, body } = await until(
      () => readyz(service?.url ?? ""),
      (r) => r.body.backends.prometheus?.state === "circuit_open" && r.body.backends.kubernetes?.since !== undefined,
    );
    expect(code).toBe(200);
    expect(body.status).toBe("ready");
    const prometheus = body.backends.prometheus;
    expect(prometheus?.lastError).toContain(`Prometheus at 127.0.0.1:${deadPort} could not be reached: ECONNREFUSED`);
    expect(Date.parse(prometheus?.until ?? "")).toBeGreaterThan(Date.parse(prometheus?.since ?? ""));
    expect(body.backends.kubernetes?.state).toBe("ok");
    expect(body.backends.kubernetes?.since).toMatch(/^\d{4}-\d\d-\d\dT/);

    const metrics = await service.metrics.registry.metrics();
    expect(metrics).toContain('enricher_backend_up{backend="prometheus"} 0');
    expect(metrics).toContain('enricher_backend_circuit_open{backend="prometheus"} 1');
    expect(metrics).toContain('enricher_backend_up{backend="kubernetes"} 1');
    expect(metrics).toContain('enricher_backend_circuit_open{backend="kubernetes"} 0');
  });
});
