// Figure 3: an alert storm. Many alerts on a few clients, in a short time: how many reads the service makes of the
// Kubernetes API and Prometheus, against what running every playbook on its own would make, and its peak memory.
import type { ClusterState } from "../src/playbook-tests/fixture-cluster.ts";
import { startDemoCluster, type DemoCluster } from "../test/support/demo-cluster.ts";
import { CLIENT_LABELS, scenarioNamed } from "../test/support/kube-client-errors-scenarios.ts";
import { pod } from "../test/support/kube-objects.ts";
import { notification, send, uniqueAlert } from "./lib/alerts.ts";
import { memoryOf, sampleMemory, sleep } from "./lib/processes.ts";
import { serviceCounters, startServiceChild, startTimedSlack } from "./lib/service.ts";

export interface StormOptions {
  instances: number;
  notifications: number;
  alertsPerNotification: number;
  /** The notifications are sent evenly over this long. */
  spreadMs: number;
  latencyMs: number;
  /** How long to wait, after the last send, for every message. */
  drainTimeoutMs: number;
}

export interface ReadCounts {
  kube: number;
  prom: number;
}

export interface StormResult {
  alerts: number;
  /** Reads the storm made. */
  storm: ReadCounts;
  /** Reads of one playbook run on its own in a warm service (discovery already cached), and of the first, cold one. */
  single: ReadCounts;
  singleCold: ReadCounts;
  /** Playbook runs the service counted, and Slack messages delivered (one per notification). */
  playbookRuns: number;
  messages: number;
  /** From the first send to the last message. */
  drainMs: number;
  /** From the last send to the last message: how far behind the service was when the storm ended. */
  lagMs: number;
  /** The service's peak resident set during the storm (VmHWM), the largest 50 ms sample, and after one lone run. */
  peakRssBytes: number;
  maxSampledRssBytes: number;
  singlePeakRssBytes: number;
  /** The service's resident set once ready, before any alert. */
  idleRssBytes: number;
}

const CLIENT_CONTAINER = "client";

/** The instance address of client `i`: a pod IP the storm's cluster holds a pod for. */
function clientIp(i: number): string {
  return `10.244.${10 + Math.floor(i / 200)}.${(i % 200) + 10}`;
}

/** The credentials-rejected demo cluster plus one client pod per instance, spread over five namespaces. */
export function stormCluster(instances: number): { cluster: ClusterState; prometheus: ReturnType<typeof scenarioNamed>["prometheus"] } {
  const scenario = scenarioNamed("credentials-rejected");
  const objects = [...scenario.cluster.objects];
  const logs: Record<string, string> = { ...scenario.cluster.logs };
  const clientLog = scenario.cluster.logs?.["monitoring/kube-state-metrics-6d4b9c7f8-x2x9q/kube-state-metrics"] ?? "";
  for (let i = 0; i < instances; i++) {
    const namespace = `team-${i % 5}`;
    const name = `client-${i}-7c9f8d6b5-${(i * 7919).toString(36).padStart(5, "x").slice(-5)}`;
    objects.push(
      pod({
        name,
        namespace,
        labels: { app: `client-${i}`, "pod-template-hash": "7c9f8d6b5" },
        podIP: clientIp(i),
        nodeName: `worker-${i % 3}`,
        containers: [CLIENT_CONTAINER],
        serviceAccountName: `client-${i % 10}`,
        creationTimestamp: new Date(Date.now() - 86_400_000).toISOString(),
      }),
    );
    logs[`${namespace}/${name}/${CLIENT_CONTAINER}`] = clientLog;
  }
  return { cluster: { objects, logs }, prometheus: scenario.prometheus };
}

function alertOn(instance: number) {
  return uniqueAlert({ ...CLIENT_LABELS, instance: `${clientIp(instance)}:8443`, namespace: `team-${instance % 5}` });
}

function counts(cluster: DemoCluster): ReadCounts {
  return { kube: cluster.kube.requests.length, prom: cluster.prometheus.queries.length };
}

function minus(a: ReadCounts, b: ReadCounts): ReadCounts {
  return { kube: a.kube - b.kube, prom: a.prom - b.prom };
}

/** One playbook on its own, twice in a fresh service: the first run pays for discovery, the second is the reference. */
async function singleRun(
  options: StormOptions,
  env: Record<string, string>,
): Promise<{ cold: ReadCounts; warm: ReadCounts; peakRssBytes: number }> {
  const state = stormCluster(options.instances);
  const cluster = await startDemoCluster(state, { latencyMs: options.latencyMs }, { latencyMs: options.latencyMs });
  const slack = await startTimedSlack();
  const service = await startServiceChild({ ...cluster.env, SLACK_WEBHOOK_URL: slack.standIn.webhookUrl, ...env }, 60_000);
  try {
    const runs: ReadCounts[] = [];
    for (const instance of [0, 1]) {
      const before = counts(cluster);
      await send(service.url, notification([alertOn(instance)]));
      await slack.waitForMessages(runs.length + 1, 20_000);
      // The message leaves once the diagnosis is stored: a read still in flight then would be the playbook's too.
      await sleep(100);
      runs.push(minus(counts(cluster), before));
    }
    return { cold: runs[0] as ReadCounts, warm: runs[1] as ReadCounts, peakRssBytes: memoryOf(service.child.pid)?.hwm ?? Number.NaN };
  } finally {
    await service.stop();
    await slack.standIn.close();
    await cluster.close();
  }
}

export async function measureStorm(options: StormOptions): Promise<StormResult> {
  const alerts = options.notifications * options.alertsPerNotification;
  const env = { MAX_PLAYBOOK_RUNS_PER_NOTIFICATION: String(Math.max(10, options.alertsPerNotification)) };
  // The reference shares nothing: READ_CACHE_SECONDS=0, and its two runs are one after the other, never in flight together.
  const single = await singleRun(options, { ...env, READ_CACHE_SECONDS: "0" });

  const state = stormCluster(options.instances);
  const cluster = await startDemoCluster(state, { latencyMs: options.latencyMs }, { latencyMs: options.latencyMs });
  const slack = await startTimedSlack();
  const service = await startServiceChild(
    { ...cluster.env, SLACK_WEBHOOK_URL: slack.standIn.webhookUrl, ...env },
    options.spreadMs + options.drainTimeoutMs + 30_000,
  );
  try {
    const idleRssBytes = memoryOf(service.child.pid)?.rss ?? Number.NaN;
    const memory = sampleMemory(service.child.pid, 50);
    const before = counts(cluster);
    const start = performance.now();
    const sends: Array<Promise<string>> = [];
    const interval = options.spreadMs / options.notifications;
    for (let n = 0; n < options.notifications; n++) {
      const due = start + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const batch = Array.from({ length: options.alertsPerNotification }, (_, j) =>
        alertOn((n * options.alertsPerNotification + j) % options.instances),
      );
      sends.push(send(service.url, notification(batch)));
    }
    const lastSentAt = performance.now();
    await Promise.all(sends);
    let drainError: Error | undefined;
    try {
      await slack.waitForMessages(options.notifications, options.drainTimeoutMs);
    } catch (error) {
      drainError = error as Error;
    }
    const lastArrival = slack.arrivals.at(-1) ?? Number.NaN;
    const drainMs = lastArrival - start;
    const lagMs = lastArrival - lastSentAt;
    await sleep(100);
    const storm = minus(counts(cluster), before);
    const rss = memory.stop();
    const serviceRuns = (await serviceCounters(service.url)).get("enricher_playbook_runs_total") ?? 0;
    if (drainError) process.stderr.write(`storm: ${drainError.message}\n`);
    return {
      alerts,
      storm,
      single: single.warm,
      singleCold: single.cold,
      playbookRuns: serviceRuns,
      messages: slack.arrivals.length,
      drainMs,
      lagMs,
      peakRssBytes: rss.hwm,
      maxSampledRssBytes: rss.maxSampledRss,
      singlePeakRssBytes: single.peakRssBytes,
      idleRssBytes,
    };
  } finally {
    await service.stop();
    await slack.standIn.close();
    await cluster.close();
  }
}
