// Figure 3: an alert storm. Many alert groups on a few clients in a short time: how many reads the service makes of
// the Kubernetes API and Prometheus against running every playbook on its own, its peak memory, and how soon each
// group is named in Slack against the physical floor that Slack's posting limit sets. Slack and PagerDuty are the
// tests' rate-limited stand-ins: they answer 429 with Retry-After as the real services do, and count what the service
// did with it.
import type { AlertmanagerPayload } from "../src/model/alertmanager.ts";
import type { ClusterState } from "../testkit/fixture-cluster.ts";
import { startDemoCluster, type DemoCluster } from "../test/support/demo-cluster.ts";
import { CLIENT_LABELS, scenarioNamed } from "../test/support/kube-client-errors-scenarios.ts";
import { pod } from "../test/support/kube-objects.ts";
import { startPagerDutyStandIn } from "../test/support/pagerduty-standin.ts";
import { SLACK_WEBHOOK_RATE_LIMIT } from "../test/support/slack-standin.ts";
import { SLACK_WEB_API_RATE_LIMITS, startSlackWebApiStandIn } from "../test/support/slack-web-api-standin.ts";
import type { RateLimitRecord } from "../test/support/standin-rate-limits.ts";
import { notification, send, uniqueAlert } from "./lib/alerts.ts";
import { postingFloorMs } from "./lib/posting-floor.ts";
import { memoryOf, sampleMemory, sleep } from "./lib/processes.ts";
import { serviceCounters, startServiceChild, startTimedSlack } from "./lib/service.ts";

export interface StormOptions {
  /** Alert groups, one per client (Alertmanager grouping by job), each sent once. */
  groups: number;
  alertsPerGroup: number;
  /** Client pods the alerts' instances cycle over. */
  instances: number;
  /** The groups' webhooks are sent evenly over this long. */
  spreadMs: number;
  latencyMs: number;
  /** How long to wait, after the last webhook, for every group to be named in Slack. */
  drainTimeoutMs: number;
}

export interface ReadCounts {
  kube: number;
  prom: number;
}

/** What reached Slack in one delivery mode, and how the service met Slack's limits. */
export interface SlackDelivery {
  /** Per group: whether a message or edit named it before the bench stopped waiting. */
  named: boolean[];
  /**
   * Per group: from its webhook to the first message or edit naming it; for a group not named, how long it had waited
   * when the bench stopped (a lower bound).
   */
  afterWebhookMs: number[];
  /** Per group: the least that wait can be with one message per group under the posting limit (postingFloorMs). */
  floorMs: number[];
  /** Top-level messages, thread replies, edits (chat.update) and files shared. */
  posted: number;
  replies: number;
  edited: number;
  files: number;
  /** 429s the stand-in sent, and requests that came back before their Retry-After had passed. */
  sent429: number;
  ignored429: number;
  /** Of the ignored: retries of the very request that got the 429 (the rest are other requests into a held channel). */
  earlyRetries: number;
  /** From the first webhook to the last group named, or to the end of the wait. */
  spanMs: number;
  /** How long the bench waited after the last webhook (all groups named, or drainTimeoutMs). */
  waitedMs: number;
}

export interface StormResult {
  alerts: number;
  /** Reads the storm made. */
  storm: ReadCounts;
  /** Reads of one playbook run on its own in a warm service (discovery already cached), and of the first, cold one. */
  single: ReadCounts;
  singleCold: ReadCounts;
  /** Playbook runs the service counted. */
  playbookRuns: number;
  /**
   * From the last webhook to the last group named: how far behind the service was when the storm ended. When a group
   * was not named in time, how long the bench waited (a lower bound), and `lagIsLowerBound` says so.
   */
  lagMs: number;
  lagIsLowerBound: boolean;
  /** The service's peak resident set during the storm (VmHWM), the largest 50 ms sample, and after one lone run. */
  peakRssBytes: number;
  maxSampledRssBytes: number;
  singlePeakRssBytes: number;
  /** The service's resident set once ready, before any alert. */
  idleRssBytes: number;
  /** Slack through its incoming webhook. */
  webhook: SlackDelivery;
  /** PagerDuty's Events API, configured beside the webhook: events accepted, and its limit's record. */
  pagerduty: { events: number; sent429: number; ignored429: number };
}

const CLIENT_CONTAINER = "client";
/** The bench's Events API integration key (32 characters, as PagerDuty's are). */
const ROUTING_KEY = "b3c4e5f60718293a4b5c6d7e8f901234";
/** How a message names group g: by its client, the alerts' job label (pods are named client-…, so they never match). */
const GROUP_NAME = /exporter-(\d+)(?!\d)/g;

/** The instance address of client pod `i`: a pod IP the storm's cluster holds a pod for. */
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

/** Group g's notification: its client's alerts (job exporter-g), their instances cycling over the client pods. */
function groupNotification(group: number, options: Pick<StormOptions, "alertsPerGroup" | "instances">): AlertmanagerPayload {
  const job = `exporter-${group}`;
  const alerts = Array.from({ length: options.alertsPerGroup }, (_, j) => {
    const instance = (group * options.alertsPerGroup + j) % options.instances;
    return uniqueAlert({ ...CLIENT_LABELS, job, instance: `${clientIp(instance)}:8443`, namespace: `team-${instance % 5}` });
  });
  return {
    ...notification(alerts),
    groupLabels: { alertname: "KubeClientErrors", job },
    groupKey: `{}/{severity=~"warning|critical"}:{alertname="KubeClientErrors", job="${job}"}`,
  };
}

function counts(cluster: DemoCluster): ReadCounts {
  return { kube: cluster.kube.requests.length, prom: cluster.prometheus.queries.length };
}

function minus(a: ReadCounts, b: ReadCounts): ReadCounts {
  return { kube: a.kube - b.kube, prom: a.prom - b.prom };
}

/** Watches what reaches Slack and notes when each group is first named. */
function namingWatch(groups: number) {
  const namedAt: Array<number | undefined> = new Array<number | undefined>(groups).fill(undefined);
  return {
    namedAt,
    see(content: unknown) {
      const at = performance.now();
      for (const match of JSON.stringify(content).matchAll(GROUP_NAME)) {
        const group = Number(match[1]);
        if (group < groups && namedAt[group] === undefined) namedAt[group] = at;
      }
    },
    named: () => namedAt.filter((at) => at !== undefined).length,
  };
}

/** When the last group so far was named; NaN before any. */
function lastNamed(watch: ReturnType<typeof namingWatch>): number {
  const times = watch.namedAt.filter((at): at is number => at !== undefined);
  return times.length > 0 ? Math.max(...times) : Number.NaN;
}

/** Sends one webhook per group, evenly over `spreadMs`; resolves with each group's send time once all are acknowledged. */
async function sendStorm(url: string, options: StormOptions): Promise<number[]> {
  const start = performance.now();
  const sentAt: number[] = [];
  const sends: Array<Promise<string>> = [];
  const interval = options.spreadMs / options.groups;
  for (let group = 0; group < options.groups; group++) {
    const wait = start + group * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const payload = groupNotification(group, options);
    sentAt.push(performance.now());
    sends.push(send(url, payload));
  }
  await Promise.all(sends);
  return sentAt;
}

/** Waits until every group is named or `timeoutMs` after the last webhook; says how long it waited. */
async function waitForNames(watch: ReturnType<typeof namingWatch>, lastSentAt: number, timeoutMs: number): Promise<number> {
  const deadline = lastSentAt + timeoutMs;
  while (watch.named() < watch.namedAt.length && performance.now() < deadline) await sleep(20);
  return performance.now() - lastSentAt;
}

function delivery(
  watch: ReturnType<typeof namingWatch>,
  sentAt: number[],
  floorMs: number[],
  waitedMs: number,
  slack: { posted: number; replies: number; edited: number; files: number; rateLimits: RateLimitRecord },
): SlackDelivery {
  const first = sentAt[0] ?? Number.NaN;
  const stoppedAt = (sentAt.at(-1) ?? Number.NaN) + waitedMs;
  return {
    named: watch.namedAt.map((at) => at !== undefined),
    afterWebhookMs: watch.namedAt.map((at, group) => (at ?? stoppedAt) - (sentAt[group] ?? Number.NaN)),
    floorMs,
    posted: slack.posted,
    replies: slack.replies,
    edited: slack.edited,
    files: slack.files,
    sent429: slack.rateLimits.sent429,
    ignored429: slack.rateLimits.ignored429,
    earlyRetries: slack.rateLimits.requests.filter((r) => r.retryEarlyByMs !== undefined).length,
    spanMs: (watch.named() === watch.namedAt.length ? lastNamed(watch) : stoppedAt) - first,
    waitedMs,
  };
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
    for (const group of [0, 1]) {
      const before = counts(cluster);
      await send(service.url, groupNotification(group, { alertsPerGroup: 1, instances: options.instances }));
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

/** Report pages on, as in production: a storm's messages link each group's full report (README, "Storms"). */
const playbookEnv = (options: StormOptions) => ({
  MAX_PLAYBOOK_RUNS_PER_NOTIFICATION: String(Math.max(10, options.alertsPerGroup)),
  PUBLIC_URL: "https://enricher.example.com",
  REPORT_SIGNING_SECRET: "bench-storm-report-secret-0123456789",
});

/** The storm through Slack's incoming webhook and PagerDuty's Events API, both with their published limits. */
export async function measureStorm(options: StormOptions): Promise<StormResult> {
  const alerts = options.groups * options.alertsPerGroup;
  const env = playbookEnv(options);
  // The reference shares nothing: READ_CACHE_SECONDS=0, and its two runs are one after the other, never in flight together.
  const single = await singleRun(options, { ...env, READ_CACHE_SECONDS: "0" });

  const state = stormCluster(options.instances);
  const cluster = await startDemoCluster(state, { latencyMs: options.latencyMs }, { latencyMs: options.latencyMs });
  const watch = namingWatch(options.groups);
  const slack = await startTimedSlack({ onMessage: (message) => watch.see(message) });
  const pagerduty = await startPagerDutyStandIn();
  const service = await startServiceChild(
    {
      ...cluster.env,
      SLACK_WEBHOOK_URL: slack.standIn.webhookUrl,
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pagerduty.eventsUrl,
      ...env,
    },
    options.spreadMs + options.drainTimeoutMs + 30_000,
  );
  try {
    const idleRssBytes = memoryOf(service.child.pid)?.rss ?? Number.NaN;
    const memory = sampleMemory(service.child.pid, 50);
    const before = counts(cluster);
    const sentAt = await sendStorm(service.url, options);
    const lastSentAt = sentAt.at(-1) ?? Number.NaN;
    const waitedMs = await waitForNames(watch, lastSentAt, options.drainTimeoutMs);
    await sleep(100);
    const storm = minus(counts(cluster), before);
    const rss = memory.stop();
    const serviceRuns = (await serviceCounters(service.url)).get("enricher_playbook_runs_total") ?? 0;
    if (watch.named() < options.groups) {
      process.stderr.write(
        `storm: ${watch.named()} of ${options.groups} groups named in Slack within ${options.drainTimeoutMs / 1000} s of the last webhook\n`,
      );
    }
    return {
      alerts,
      storm,
      single: single.warm,
      singleCold: single.cold,
      playbookRuns: serviceRuns,
      lagMs: watch.named() === options.groups ? lastNamed(watch) - lastSentAt : waitedMs,
      lagIsLowerBound: watch.named() < options.groups,
      peakRssBytes: rss.hwm,
      maxSampledRssBytes: rss.maxSampledRss,
      singlePeakRssBytes: single.peakRssBytes,
      idleRssBytes,
      webhook: delivery(watch, sentAt, postingFloorMs(sentAt, SLACK_WEBHOOK_RATE_LIMIT), waitedMs, {
        posted: slack.standIn.messages.length,
        replies: 0,
        edited: 0,
        files: 0,
        rateLimits: slack.standIn.rateLimits,
      }),
      pagerduty: {
        events: pagerduty.events.length,
        sent429: pagerduty.rateLimits.sent429,
        ignored429: pagerduty.rateLimits.ignored429,
      },
    };
  } finally {
    await service.stop();
    await pagerduty.close();
    await slack.standIn.close();
    await cluster.close();
  }
}

/** The same storm through the Slack Web API (a message per group, its thread, edits, charts), with Slack's limits. */
export async function measureStormWebApi(options: StormOptions): Promise<SlackDelivery> {
  const state = stormCluster(options.instances);
  const cluster = await startDemoCluster(state, { latencyMs: options.latencyMs }, { latencyMs: options.latencyMs });
  const watch = namingWatch(options.groups);
  const slack = await startSlackWebApiStandIn({
    onChange: ({ message }) => watch.see([message.text, message.blocks, message.attachments]),
  });
  const service = await startServiceChild(
    { ...cluster.env, SLACK_BOT_TOKEN: slack.token, SLACK_CHANNEL: slack.channelId, SLACK_API_URL: slack.apiUrl, ...playbookEnv(options) },
    options.spreadMs + options.drainTimeoutMs + 30_000,
  );
  try {
    const sentAt = await sendStorm(service.url, options);
    const waitedMs = await waitForNames(watch, sentAt.at(-1) ?? Number.NaN, options.drainTimeoutMs);
    if (watch.named() < options.groups) {
      process.stderr.write(
        `storm (Web API): ${watch.named()} of ${options.groups} groups named in Slack within ${options.drainTimeoutMs / 1000} s of the last webhook\n`,
      );
    }
    const posted = slack.parents().length;
    return delivery(watch, sentAt, postingFloorMs(sentAt, SLACK_WEB_API_RATE_LIMITS["chat.postMessage"]), waitedMs, {
      posted,
      replies: slack.messages.length - posted,
      edited: slack.messages.reduce((sum, m) => sum + m.updates.length, 0),
      files: slack.files.filter((f) => f.completed).length,
      rateLimits: slack.rateLimits,
    });
  } finally {
    await service.stop();
    await slack.close();
    await cluster.close();
  }
}
