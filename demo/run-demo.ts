// `npm run demo`: starts a demo cluster (fake Kubernetes API and Prometheus holding a broken state), runs the real
// service against it on embedded defaults (SQLite, console output), fires one alert through the HTTP receiver, and
// prints the diagnosis.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { createLogger, startService } from "../src/main.ts";
import { startDemoCluster } from "../test/support/demo-cluster.ts";
import { scenarioNamed } from "../test/support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../test/support/payloads.ts";

const DEMOS = [{ scenario: "credentials-rejected", payload: kubeClientErrorsPayload }];

const dataDir = mkdtempSync(join(tmpdir(), "alert-enricher-demo-"));
const token = randomBytes(24).toString("hex");

async function waitUntilDelivered(
  readDepth: () => Promise<{ notifications: number; deliveries: number }>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const depth = await readDepth();
    if (depth.notifications === 0 && depth.deliveries === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the diagnosis was not delivered within ${timeoutMs / 1000} s`);
}

let exitCode = 0;
for (const demo of DEMOS) {
  const scenario = scenarioNamed(demo.scenario);
  const cluster = await startDemoCluster(scenario);
  const env = {
    ...cluster.env,
    PORT: "0",
    HOST: "127.0.0.1",
    WEBHOOK_BEARER_TOKEN: token,
    DATABASE_URL: `sqlite:${join(dataDir, "enricher.db")}`,
    RULES_DIR: "./rules",
    LOG_LEVEL: "warn",
  };
  const service = await startService(loadConfig(env), { logger: createLogger("warn"), pollIntervalMs: 100 });
  try {
    const payload = demo.payload(scenario.alertLabels);
    process.stdout.write(
      `\n▶ demo cluster: ${scenario.description}\n▶ firing ${payload.alerts[0]?.labels.alertname} at ${service.url}/alerts\n\n`,
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
    await cluster.close();
  }
}
rmSync(dataDir, { recursive: true, force: true });
process.exit(exitCode);
