// `npm run demo`: for each covered alert, serves a demo cluster holding a broken state (the `demo: true` case of
// rules/tests/<alert>.yaml: a Kubernetes API server on loopback and a Prometheus stand-in), runs the real service
// against it on embedded defaults (SQLite, console output as plain text), fires the alert through the HTTP receiver,
// and prints the diagnosis. Then the first demo once more with Prometheus unreachable: the diagnosis says what it could
// not check.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { loadPlaybooks } from "../src/engine/load-playbooks.ts";
import type { StepSources } from "../src/engine/run-playbook.ts";
import { createLogger } from "../src/logger.ts";
import { startService } from "../src/service.ts";
import { USER_AGENT } from "../src/version.ts";
import { ConsoleSink } from "../src/sinks/console.ts";
import { PrometheusSource } from "../src/sources/prometheus.ts";
import { loadTestFiles, payloadFor, prepareCase } from "../testkit/run-playbook-tests.ts";

const dataDir = mkdtempSync(join(tmpdir(), "alert-enricher-demo-"));
const token = randomBytes(24).toString("hex");
const demos: Array<{
  spec: Parameters<typeof prepareCase>[1];
  playbook: Parameters<typeof prepareCase>[0];
  testCase: Parameters<typeof prepareCase>[2];
  title?: string;
  breakPrometheus?: boolean;
}> = loadTestFiles("rules/tests", loadPlaybooks("rules")).flatMap(({ spec, playbook }) =>
  spec.cases.filter((c) => c.demo).map((testCase) => ({ spec, playbook, testCase })),
);
// The client-errors demo again, with nothing listening where Prometheus should be (port 1 on loopback).
const clientDemo = demos.find((d) => d.playbook.alertNames.includes("KubeClientErrors"));
if (clientDemo) demos.push({ ...clientDemo, title: "the same alert with Prometheus unreachable", breakPrometheus: true });
const unreachablePrometheus = new PrometheusSource({ url: "http://127.0.0.1:1", userAgent: USER_AGENT });

async function waitUntilDelivered(
  readDepth: () => Promise<{ notifications: number; deliveries: number }>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const depth = await readDepth();
    if (depth.notifications === 0 && depth.deliveries === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the diagnosis was not delivered within ${timeoutMs / 1000} s`);
}

let exitCode = 0;
for (const { spec, playbook, testCase, title, breakPrometheus } of demos) {
  const prepared = await prepareCase(playbook, spec, testCase, "alert-enricher/demo");
  const sources: StepSources = breakPrometheus
    ? { ...prepared.sources, prometheus: (request, signal) => unreachablePrometheus.query(request, signal) }
    : prepared.sources;
  const env = {
    KUBECONFIG: prepared.cluster.kubeconfigPath,
    PORT: "0",
    HOST: "127.0.0.1",
    WEBHOOK_BEARER_TOKEN: token,
    DATABASE_URL: `sqlite:${join(dataDir, "enricher.db")}`,
    RULES_DIR: "./rules",
    LOG_LEVEL: "warn",
  };
  // The demo is read by a person, also when piped to `less` or a file: plain text, never the JSON records a pod writes.
  const sinks = [new ConsoleSink({ format: "text" })];
  const service = await startService(loadConfig(env), { logger: createLogger("warn"), sources, sinks, pollIntervalMs: 50 });
  try {
    const payload = { ...payloadFor(prepared.alert), receiver: "demo", externalURL: "http://alertmanager.demo:9093" };
    process.stdout.write(
      `\n━━━ ${playbook.alertNames[0]}: ${title ?? testCase.name}\n▶ firing ${prepared.alert.labels.alertname} at ${service.url}/alerts\n\n`,
    );
    const response = await fetch(`${service.url}/alerts`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify(payload),
    });
    if (response.status !== 200) throw new Error(`the receiver answered ${response.status}: ${await response.text()}`);
    await waitUntilDelivered(() => service.store.queueDepth(), 30_000);
  } catch (error) {
    process.stderr.write(`demo failed: ${(error as Error).message}\n`);
    exitCode = 1;
  } finally {
    await service.stop();
    await prepared.close();
  }
}
rmSync(dataDir, { recursive: true, force: true });
process.exit(exitCode);
