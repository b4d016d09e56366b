// `node --expose-gc bench/chart-memory.ts`: issue #11 item 8, measured. Two parts, one process:
//  A. The service (createSources, a demo cluster) receives 20 notifications of 10 KubeClientErrors alerts whose
//     generatorURL carries 200 distinct `count by (__name__) ({__name__=~".+", …})` expressions; the Prometheus
//     stand-in answers any such query with about 503 KiB. Counted: the queries that reached Prometheus, the peak RSS.
//  B. The shared-read cache alone: 200 distinct PromQL reads of about 503 KiB each through the wired sources (as
//     playbook steps of many alert instances make them), then a minute with no reads at all.
// Printed: RSS and heap (after a full GC) when idle, at the peak, right after the reads and a minute later.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { createSources, startService } from "../src/service.ts";
import type { Alert } from "../src/model/alertmanager.ts";
import { startDemoCluster } from "../test/support/demo-cluster.ts";
import type { PromSeries } from "../test/support/fake-prometheus.ts";
import { scenarioNamed } from "../test/support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../test/support/payloads.ts";

const MiB = 1024 * 1024;
const TOKEN = "bench-token-0123456789abcdef";
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const mem = () => {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMiB: Math.round(rss / MiB), heapMiB: Math.round(heapUsed / MiB) };
};

// About 503 KiB of matrix: 380 series of an hour at one-minute steps, each named at length.
const now = Math.floor(Date.now() / 1000);
const wide: PromSeries[] = Array.from({ length: 380 }, (_, i) => ({
  labels: { __name__: `metric_${i}_${"x".repeat(220)}` },
  values: Array.from({ length: 61 }, (_, k): [number, number] => [now - (60 - k) * 60, k]),
}));

const dir = mkdtempSync(join(tmpdir(), "chart-bench-"));
const scenario = scenarioNamed("credentials-rejected");
const cluster = await startDemoCluster({ ...scenario, prometheus: [{ match: /__name__|wide_/, matrix: wide }, ...scenario.prometheus] });
const env = { ...cluster.env, ALLOW_UNAUTHENTICATED: "true", LOG_LEVEL: "silent" };
const service = await startService(
  loadConfig({ ...env, PORT: "0", HOST: "127.0.0.1", WEBHOOK_BEARER_TOKEN: TOKEN, DATABASE_URL: `sqlite:${join(dir, "enricher.db")}` }),
  { logger: createLogger("silent"), sinks: [], pollIntervalMs: 20 },
);
await new Promise((r) => setTimeout(r, 500));
const idle = mem();
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);

// A: 20 notifications of 10 alerts, each alert with its own expression.
const template = kubeClientErrorsPayload(scenario.alertLabels);
for (let n = 0; n < 20; n++) {
  const alerts: Alert[] = Array.from({ length: 10 }, (_, i) => {
    const k = n * 10 + i;
    const expr = `count by (__name__) ({__name__=~".+", bench!="${k}"}) > 0`;
    return {
      ...(template.alerts[0] as Alert),
      fingerprint: `f${k}`,
      labels: { ...template.alerts[0]?.labels, instance: `10.244.1.${17 + i}:8443` },
      generatorURL: `http://prometheus.demo:9090/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`,
    };
  });
  const response = await fetch(`${service.url}/alerts`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ ...template, alerts, groupKey: `{}:{alertname="KubeClientErrors",n="${n}"}` }),
  });
  if (response.status !== 200) throw new Error(`the receiver answered ${response.status}`);
}
for (;;) {
  if ((await service.store.queueDepth()).notifications === 0) break;
  await new Promise((r) => setTimeout(r, 50));
}
const hostileQueries = cluster.prometheus.queries.filter((q) => q.query.includes("__name__")).length;
const afterAlerts = mem();

// B: the cache alone.
const sources = createSources(loadConfig(env));
for (let k = 0; k < 200; k++) {
  await sources.prometheus({ query: `sum by (__name__) (wide_${k})`, rangeMs: 3_600_000, stepMs: 60_000 }, new AbortController().signal, {
    stepId: "bench",
  });
}
const afterReads = mem();
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 60_000));
const minuteLater = mem();

process.stdout.write(
  `${JSON.stringify({
    idle,
    A: { hostileChartQueries: hostileQueries, peakRssMiB: Math.round(peakRss / MiB), afterAlerts },
    B: { afterReads, minuteLater },
  })}\n`,
);
await service.stop();
await cluster.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
