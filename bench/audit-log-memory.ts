// `node bench/audit-log-memory.ts`: issue #11 item 4, measured on the running service. One notification of ten
// KubeAPIErrorBudgetBurn alerts (the playbook reads the audit log in three steps per alert) against a 32 MiB audit log
// (AUDIT_LOG_PATH), the service wired as in production (createSources). Prints the peak RSS over the idle service's,
// the slowest /healthz answer while the notification was diagnosed (polled every 50 ms), how often the log was
// opened, and how long the diagnosis took.
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import fs from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { loadPlaybooks } from "../src/engine/load-playbooks.ts";
import { createLogger } from "../src/logger.ts";
import { startService } from "../src/service.ts";
import type { Alert } from "../src/model/alertmanager.ts";
import { loadTestFiles, payloadFor, prepareCase } from "../testkit/run-playbook-tests.ts";
import { startFakePrometheus } from "../test/support/fake-prometheus.ts";

const MiB = 1024 * 1024;
const TOKEN = "bench-token-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "audit-bench-"));
const logPath = join(dir, "audit.log");

// Count the log's opens: the old source opened it with fs/promises' open, the streaming one does too.
let opens = 0;
const realOpen = fs.open;
fs.open = (async (...args: Parameters<typeof fs.open>) => {
  if (args[0] === logPath) opens++;
  return realOpen(...args);
}) as typeof fs.open;
syncBuiltinESMExports();

async function writeLog(bytes: number): Promise<void> {
  const out = createWriteStream(logPath);
  const now = Date.now();
  let written = 0;
  for (let n = 0; written < bytes; n++) {
    const ci = n % 3 === 0;
    const agent = ci ? "ci-runner/1.4.2 (linux/amd64) kubernetes/4c94112" : `script-${n % 20_000}/0.${n % 7} (linux/amd64)`;
    const user = ci ? "system:serviceaccount:ci:ci-runner" : `user-${n % 50}@example.com`;
    const received = now - 60_000 - (n % 3000) * 1000;
    const resource = ci ? "jobs" : ["pods", "configmaps", "secrets", "events"][n % 4];
    const base = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"${n}","requestURI":"/apis/batch/v1/namespaces/ci/${resource}","verb":"list","user":{"username":"${user}","groups":["system:authenticated"]},"sourceIPs":["10.244.3.17"],"userAgent":"${agent}","objectRef":{"resource":"${resource}","namespace":"ci","apiGroup":"batch","apiVersion":"v1"},"requestReceivedTimestamp":"${new Date(received).toISOString()}"`;
    const lines = `${base},"stage":"RequestReceived","stageTimestamp":"${new Date(received).toISOString()}"}\n${base},"stage":"ResponseComplete","responseStatus":{"metadata":{},"code":200},"stageTimestamp":"${new Date(received + (ci ? 9000 : 40)).toISOString()}","annotations":{"authorization.k8s.io/decision":"allow"}}\n`;
    written += lines.length;
    if (!out.write(lines)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

await writeLog(32 * MiB + 1);
const playbooks = loadPlaybooks("rules");
const file = loadTestFiles("rules/tests", playbooks).find(
  (f) => f.playbook.alertNames.includes("KubeAPIErrorBudgetBurn") && f.spec.cases.some((c) => c.demo),
);
const testCase = file?.spec.cases.find((c) => c.demo);
if (file === undefined || testCase === undefined) throw new Error("no KubeAPIErrorBudgetBurn demo case");
const prepared = await prepareCase(file.playbook, file.spec, testCase, "alert-enricher/bench");
const prometheus = await startFakePrometheus([]);
const service = await startService(
  loadConfig({
    KUBECONFIG: prepared.cluster.kubeconfigPath,
    PROMETHEUS_URL: prometheus.url,
    ...(process.env.BENCH_NO_AUDIT ? {} : { AUDIT_LOG_PATH: logPath }),
    PORT: "0",
    HOST: "127.0.0.1",
    WEBHOOK_BEARER_TOKEN: TOKEN,
    DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
    LOG_LEVEL: "silent",
  }),
  { logger: createLogger("silent"), sinks: [], pollIntervalMs: 20 },
);

// Ten alerts of one group, as the kubernetes-mixin's four burn-rate windows and several clusters give them.
const one = payloadFor(prepared.alert);
const alerts: Alert[] = Array.from({ length: 10 }, (_, i) => ({
  ...prepared.alert,
  fingerprint: `bench${i}`,
  labels: { ...prepared.alert.labels, cluster: `prod-${i}` },
}));
const payload = { ...one, alerts, groupKey: '{}:{alertname="KubeAPIErrorBudgetBurn"}' };

await new Promise((r) => setTimeout(r, 500));
const idleRss = process.memoryUsage().rss;
let peakRss = idleRss;
let slowestHealthz = 0;
let polling = true;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
const healthz = (async () => {
  while (polling) {
    const started = performance.now();
    await fetch(`${service.url}/healthz`);
    slowestHealthz = Math.max(slowestHealthz, performance.now() - started);
    await new Promise((r) => setTimeout(r, 50));
  }
})();

const started = performance.now();
const response = await fetch(`${service.url}/alerts`, {
  method: "POST",
  headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
  body: JSON.stringify(payload),
});
if (response.status !== 200) throw new Error(`the receiver answered ${response.status}`);
for (;;) {
  const depth = await service.store.queueDepth();
  if (depth.notifications === 0) break;
  await new Promise((r) => setTimeout(r, 20));
}
const elapsed = performance.now() - started;
polling = false;
await healthz;
clearInterval(sampler);

process.stdout.write(
  `${JSON.stringify({
    idleRssMiB: Math.round(idleRss / MiB),
    peakRssMiB: Math.round(peakRss / MiB),
    growthMiB: Math.round((peakRss - idleRss) / MiB),
    slowestHealthzMs: Math.round(slowestHealthz),
    auditLogOpens: opens,
    diagnosisSeconds: Math.round(elapsed / 100) / 10,
  })}\n`,
);
await service.stop();
await prometheus.close();
await prepared.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
