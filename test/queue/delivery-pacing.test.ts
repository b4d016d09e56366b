// Deliveries against the rate-limited Slack and PagerDuty stand-ins, through the delivery worker and its loops: a 429
// holds its destination for every loop, a channel's headlines go before thread details, PagerDuty's window is kept.
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { createDeliveryWorker } from "../../src/queue/delivery-worker.ts";
import type { Poller } from "../../src/queue/poller.ts";
import type { Sink } from "../../src/sinks/sink.ts";
import { SlackWebApiSink } from "../../src/sinks/slack-web-api.ts";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { startSlackStandIn } from "../support/slack-standin.ts";
import { startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const silent = pino({ level: "silent" });
let store: SqliteStore;
const pollers: Poller[] = [];
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const poller of pollers.splice(0)) await poller.stop();
  for (const close of closers.splice(0)) await close();
  await store?.close();
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `count` alert groups, each diagnosed, with one delivery to `sink`. */
async function diagnosedGroups(count: number, sink: string): Promise<void> {
  store = openSqliteStore(":memory:");
  await store.migrate();
  for (let i = 0; i < count; i++) {
    const groupKey = `{}:{group="${i}"}`;
    const { id } = await store.insertNotification({
      dedupKey: `k${i}`,
      payload: kubeClientErrorsPayload({ pod: `p${i}` }, { groupKey }),
      receivedAt: new Date(),
      dedupWindowMs: 0,
    });
    await store.claimNotification("w", 60_000);
    const diagnosis: Diagnosis = makeDiagnosis({ notificationId: id, groupKey, groupLabels: { alertname: `Group${i}` } });
    await store.completeNotification(id, diagnosis, [sink]);
  }
}

function startWorker(sink: Sink): void {
  const worker = createDeliveryWorker({
    store,
    sinks: [sink],
    metrics: createMetrics(),
    logger: silent,
    workerId: "w",
    pollIntervalMs: 20,
  });
  pollers.push(worker);
  worker.start();
}

describe("delivery against rate limits", () => {
  it("a webhook's 429 holds every delivery loop until its Retry-After has passed: none ignored, all delivered", async () => {
    const slack = await startSlackStandIn();
    closers.push(slack.close);
    await diagnosedGroups(8, "slack");
    // Paced faster than the stand-in's one a second, so its burst of three runs out and it answers 429.
    startWorker(new SlackWebhookSink({ webhookUrl: slack.webhookUrl, postIntervalMs: 300 }));
    await until(async () => (await store.queueDepth()).deliveries === 0, 9000);
    expect(slack.messages).toHaveLength(8);
    expect(slack.rateLimits.sent429).toBe(1);
    expect(slack.rateLimits.ignored429).toBe(0);
    // The delivery that met the 429 came back once its wait had passed, not after a backoff of its own on top.
    const requests = slack.rateLimits.requests;
    const first = requests.findIndex((r) => r.limited);
    expect(requests[first + 1]!.at - requests[first]!.at).toBeLessThan(requests[first]!.announcedWaitMs! + 400);
  });

  it("a delivery rate-limited again and again waits what each answer asked, without a backoff that grows per attempt", async () => {
    await diagnosedGroups(1, "slack");
    const attempts: number[] = [];
    const start = Date.now();
    const sink: Sink = {
      name: "slack",
      async deliver() {
        attempts.push(Date.now() - start);
        if (attempts.length <= 5) return { status: "retry", code: "rate_limited", error: "429", retryAfterMs: 100, rateLimited: true };
        return { status: "delivered" };
      },
    };
    startWorker(sink);
    await until(async () => (await store.queueDepth()).deliveries === 0, 4000);
    expect(attempts).toHaveLength(6);
    // An exponential backoff from 1 s would put the sixth attempt 15 s or more after the first.
    expect(attempts[5]! - attempts[0]!).toBeLessThan(2000);
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(100);
  });

  it("in Web API mode, 20 groups at once: every headline is posted before any thread reply beyond the first few, no 429", async () => {
    // Slack's pace scaled up twentyfold (20 posts a second, the same burst of 3) so 40 posts take two seconds, not 44.
    const slack = await startSlackWebApiStandIn({ rateLimits: { "chat.postMessage": { perSecond: 20, burst: 3 } } });
    closers.push(slack.close);
    await diagnosedGroups(20, "slack");
    startWorker(new SlackWebApiSink({ botToken: slack.token, apiUrl: slack.apiUrl, channel: slack.channelId, postIntervalMs: 55 }));
    await until(async () => (await store.queueDepth()).deliveries === 0, 9000);
    const posts = slack.callsTo("chat.postMessage").filter((c) => c.error === undefined);
    expect(posts).toHaveLength(40);
    const isReply = posts.map((c) => typeof c.body.thread_ts === "string");
    const lastHeadline = isReply.lastIndexOf(false);
    const repliesBeforeLastHeadline = isReply.slice(0, lastHeadline).filter(Boolean).length;
    // Only replies of the groups claimed before the rest were in hand may come before a headline.
    expect(repliesBeforeLastHeadline).toBeLessThanOrEqual(3);
    expect(slack.parents()).toHaveLength(20);
    expect(slack.rateLimits.sent429).toBe(0);
  });
});
