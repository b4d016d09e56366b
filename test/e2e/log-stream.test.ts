// The service's stdout as a pod's log pipeline reads it (`node src/main.ts` with stdout a pipe, the console sink the
// only sink): one JSON object per line, the diagnosis one record among them, no line per kubelet probe at info, and
// with LOG_LEVEL=debug one line per playbook step saying what it asked and how it went.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { killChildren, type NodeChild, REPO_ROOT, startNode } from "../support/node-process.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const MAIN = join(REPO_ROOT, "src", "main.ts");
const TOKEN = "log-stream-test-token-0123456789";
const PROBES = 5;

type LogRecord = Record<string, unknown>;

let dir: string;
let cluster: DemoCluster | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-log-stream-"));
  mkdirSync(join(dir, "home"));
});

afterEach(async () => {
  await killChildren();
  await cluster?.close();
  cluster = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the service, probes it as a kubelet would, fires one alert and returns its stdout once the diagnosis is out. */
async function runService(logLevel: string): Promise<{ child: NodeChild; records: LogRecord[] }> {
  const scenario = scenarioNamed("credentials-rejected");
  cluster = await startDemoCluster(scenario);
  const child = startNode([MAIN], {
    cwd: dir,
    timeoutMs: 30_000,
    env: {
      HOME: join(dir, "home"),
      DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
      RULES_DIR: join(REPO_ROOT, "rules"),
      HOST: "127.0.0.1",
      PORT: "0",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      LOG_LEVEL: logLevel,
      ...cluster.env,
    },
  });
  const ready = JSON.parse(await child.waitForLine((line) => line.includes('"alert-enricher ready"'), 20_000)) as { address: string };
  for (let i = 0; i < PROBES; i++) {
    expect((await fetch(`${ready.address}/healthz`)).status).toBe(200);
    await fetch(`${ready.address}/readyz`);
  }
  const stored = await fetch(`${ready.address}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(kubeClientErrorsPayload(scenario.alertLabels)),
  });
  expect(stored.status).toBe(200);
  await child.waitForLine((line) => line.includes('"msg":"diagnosis"'), 20_000);
  const lines = child
    .stdout()
    .split("\n")
    .filter((line) => line !== "");
  const records = lines.map((line) => {
    expect(() => JSON.parse(line), `not JSON: ${line}`).not.toThrow();
    return JSON.parse(line) as LogRecord;
  });
  return { child, records };
}

const probeLines = (records: LogRecord[]) => records.filter((r) => r.msg === "request" && ["/healthz", "/readyz"].includes(String(r.path)));

describe("the service's stdout on a pipe", () => {
  it("at info: every line is JSON, the diagnosis is one record with its headline, and probes write no line", async () => {
    const { records } = await runService("info");
    const diagnoses = records.filter((r) => r.msg === "diagnosis");
    expect(diagnoses).toHaveLength(1);
    expect(diagnoses[0]).toMatchObject({ service: "alert-enricher", component: "console", status: "firing", verdict: "cause" });
    expect(diagnoses[0]?.group).toEqual(expect.any(String));
    expect(diagnoses[0]?.cause).toEqual({ id: expect.any(String), title: expect.any(String) });
    // The whole plain-text diagnosis, one string: the readable view is kept, inside the record.
    expect(diagnoses[0]?.text).toEqual(expect.stringContaining("authentication fails"));
    expect(String(diagnoses[0]?.text).split("\n").length).toBeGreaterThan(10);
    expect(probeLines(records)).toEqual([]);
    expect(records.some((r) => r.msg === "playbook step")).toBe(false);
  });

  it("at debug: each probe and each playbook step has its line, the step with its target, status, duration and reason", async () => {
    const { records } = await runService("debug");
    expect(probeLines(records).length).toBeGreaterThanOrEqual(2 * PROBES);
    const steps = records.filter((r) => r.msg === "playbook step");
    expect(steps.length).toBeGreaterThan(5);
    for (const step of steps) {
      expect(step).toMatchObject({
        level: 20,
        playbook: "KubeClientErrors",
        alertname: "KubeClientErrors",
        notification: expect.any(String),
        step: expect.any(String),
        kind: expect.stringMatching(/^(kubernetes|logs|prometheus|audit)$/),
        status: expect.stringMatching(/^(ok|failed|timeout|skipped)$/),
        durationMs: expect.any(Number),
      });
      if (step.status !== "skipped") expect(step.target, String(step.step)).toMatch(/\S/);
      if (step.status === "failed" || step.status === "timeout") expect(step.reason, String(step.step)).toMatch(/\S/);
    }
    // Both backends were asked: an API path and a PromQL query appear as targets.
    expect(steps.some((s) => s.kind === "kubernetes" && String(s.target).includes("/api"))).toBe(true);
    expect(steps.some((s) => s.kind === "prometheus" && String(s.target).includes("rest_client_requests_total"))).toBe(true);
    expect(JSON.stringify(steps)).not.toContain(TOKEN);
  });
});
