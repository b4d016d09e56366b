// Figures 2 and 4: time to notify (webhook sent → the Slack stand-in has the message), one notification at a time,
// on the demo cluster with every API call slowed down, and on a cluster whose API server never answers.
import type { CompiledPlaybook } from "../src/engine/load-playbooks.ts";
import type { FakeKubeOptions } from "../testkit/fixture-cluster.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { startDemoCluster } from "../test/support/demo-cluster.ts";
import { scenarioNamed } from "../test/support/kube-client-errors-scenarios.ts";
import { notification, send, uniqueAlert } from "./lib/alerts.ts";
import { longestChain } from "./lib/critical-path.ts";
import { startServiceChild, startTimedSlack } from "./lib/service.ts";
import { percentile } from "./lib/stats.ts";

export interface NotifyOptions {
  /** Added to every Kubernetes API and Prometheus answer. */
  latencyMs: number;
  /** Notifications sent and timed, one after the other. */
  count: number;
  /** Sent first and not timed (JIT, client-node's discovery cache, connection pools). */
  warmup: number;
  /** How long to wait for each message. */
  perNotificationTimeoutMs: number;
  kube?: FakeKubeOptions;
  env?: Record<string, string>;
}

export interface NotifyResult {
  timesMs: number[];
  p50Ms: number;
  p95Ms: number;
  /** The first (cold) notification's time, when there was a warm-up. */
  coldMs?: number;
  /** Kubernetes API requests and Prometheus queries made per timed notification, on average. */
  kubePerNotification: number;
  promPerNotification: number;
  /** The steps of the last diagnosis that read something (status other than skipped), and how each ended. */
  stepStatuses: Map<string, string>;
}

export async function measureTimeToNotify(options: NotifyOptions): Promise<NotifyResult> {
  const scenario = scenarioNamed("credentials-rejected");
  const cluster = await startDemoCluster(scenario, { latencyMs: options.latencyMs, ...options.kube }, { latencyMs: options.latencyMs });
  // Notifications follow one another as soon as the last message arrived, faster than Slack's one message per second
  // would allow; this figure is the service's own latency, not pacing (the storm measures that), so the limit is raised.
  const slack = await startTimedSlack({ rateLimit: { perSecond: 100, burst: 100 } });
  const budgetMs = (options.count + options.warmup) * options.perNotificationTimeoutMs + 30_000;
  const service = await startServiceChild({ ...cluster.env, SLACK_WEBHOOK_URL: slack.standIn.webhookUrl, ...options.env }, budgetMs);
  try {
    const timesMs: number[] = [];
    let coldMs: number | undefined;
    let lastId = "";
    let kubeBefore = 0;
    let promBefore = 0;
    for (let i = 0; i < options.warmup + options.count; i++) {
      if (i === options.warmup) {
        kubeBefore = cluster.kube.requests.length;
        promBefore = cluster.prometheus.queries.length;
      }
      const expected = slack.arrivals.length + 1;
      const sentAt = performance.now();
      lastId = await send(service.url, notification([uniqueAlert(scenario.alertLabels)]));
      await slack.waitForMessages(expected, options.perNotificationTimeoutMs);
      const took = (slack.arrivals[expected - 1] as number) - sentAt;
      if (i < options.warmup) coldMs ??= took;
      else timesMs.push(took);
    }
    const stepStatuses = new Map<string, string>();
    const store = openSqliteStore(service.databasePath, { readOnly: true });
    try {
      const diagnosis = await store.getDiagnosis(lastId);
      for (const step of diagnosis?.alerts[0]?.steps ?? []) stepStatuses.set(step.id, step.status);
    } finally {
      await store.close();
    }
    return {
      timesMs,
      p50Ms: percentile(timesMs, 50),
      p95Ms: percentile(timesMs, 95),
      ...(coldMs !== undefined ? { coldMs } : {}),
      kubePerNotification: (cluster.kube.requests.length - kubeBefore) / options.count,
      promPerNotification: (cluster.prometheus.queries.length - promBefore) / options.count,
      stepStatuses,
    };
  } finally {
    await service.stop();
    await slack.standIn.close();
    await cluster.close();
  }
}

/** The critical path of `playbook` over all its steps, and over the steps that read in a run (`statuses`). */
export function criticalPaths(playbook: CompiledPlaybook, statuses: Map<string, string>): { all: string[]; run: string[] } {
  const read = new Set([...statuses].filter(([, status]) => status !== "skipped").map(([id]) => id));
  return { all: longestChain(playbook), run: longestChain(playbook, read) };
}
