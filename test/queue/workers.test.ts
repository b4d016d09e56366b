import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { createDeliveryWorker, retryDelayMs } from "../../src/queue/delivery-worker.ts";
import { createNotificationWorker } from "../../src/queue/notification-worker.ts";
import { createPoller, type Poller } from "../../src/queue/poller.ts";
import type { Sink, SinkOutcome } from "../../src/sinks/sink.ts";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { startSlackStandIn } from "../support/slack-standin.ts";

const silent = pino({ level: "silent" });
let store: SqliteStore;
const pollers: Poller[] = [];

afterEach(async () => {
  for (const poller of pollers.splice(0)) await poller.stop();
  await store?.close();
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

const diagnosisFor = (id: string): Diagnosis => ({
  notificationId: id,
  groupKey: "g",
  receiver: "r",
  status: "firing",
  groupLabels: {},
  commonLabels: {},
  externalURL: "",
  truncatedAlerts: 0,
  alerts: [],
  createdAt: new Date().toISOString(),
});

describe("the notification worker", () => {
  it("delivers a notification that keeps crashing its playbook without playbooks after three attempts, so it is never dropped", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    await store.insertNotification({ dedupKey: "k", payload: kubeClientErrorsPayload(), receivedAt: new Date(), dedupWindowMs: 0 });
    const calls: boolean[] = [];
    const worker = createNotificationWorker({
      store,
      sinks: ["console"],
      logger: silent,
      workerId: "w",
      leaseMs: 20,
      concurrency: 1,
      pollIntervalMs: 5,
      diagnose: async (notification, plainOnly) => {
        calls.push(plainOnly);
        if (!plainOnly) throw new Error("engine bug");
        return diagnosisFor(notification.id);
      },
    });
    pollers.push(worker);
    worker.start();
    await until(async () => (await store.queueDepth()).deliveries === 1);
    expect(calls).toEqual([false, false, false, true]);
  });
});

/** One notification per alert group, diagnosed, with a delivery to each of `sinks` (in that order). */
async function diagnosedGroups(count: number, sinks: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const payload = kubeClientErrorsPayload({ pod: `p${i}` }, { groupKey: `{}:{group="${i}"}` });
    const { id } = await store.insertNotification({
      dedupKey: `k${i}-${ids.length}-${Date.now()}`,
      payload,
      receivedAt: new Date(),
      dedupWindowMs: 0,
    });
    await store.claimNotification("w", 60_000);
    await store.completeNotification(id, diagnosisFor(id), sinks);
    ids.push(id);
  }
  return ids;
}

/** A sink that records when each delivery reached it, relative to `since`. */
function recordingSink(name: string, since: () => number): Sink & { arrivals: number[] } {
  const arrivals: number[] = [];
  return {
    name,
    arrivals,
    async deliver() {
      arrivals.push(Date.now() - since());
      return { status: "delivered" };
    },
  };
}

describe("the delivery worker", () => {
  it("a sink that never answers holds up only its own deliveries: another sink's deliveries for 10 groups all go out at once", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    // Slack accepts the connection and never answers: each attempt ends only at the sink's own 10 s timeout.
    const hanging: Array<() => void> = [];
    const slack: Sink = {
      name: "slack",
      deliver: () =>
        new Promise<SinkOutcome>((resolve) => {
          const timeout: SinkOutcome = { status: "retry", code: "timeout", error: "no response within 10000 ms" };
          const timer = setTimeout(() => resolve(timeout), 10_000);
          hanging.push(() => {
            clearTimeout(timer);
            resolve(timeout);
          });
        }),
    };
    let start = 0;
    const pagerduty = recordingSink("pagerduty", () => start);
    // The sinks in the order service.ts configures them, so each group's Slack delivery is the older row.
    await diagnosedGroups(10, ["slack", "pagerduty"]);
    const worker = createDeliveryWorker({ store, sinks: [slack, pagerduty], metrics: createMetrics(), logger: silent, workerId: "w" });
    pollers.push(worker);
    try {
      start = Date.now();
      worker.start();
      await until(() => pagerduty.arrivals.length === 10, 2000).catch(() => undefined);
      expect(pagerduty.arrivals).toHaveLength(10);
      expect(Math.max(...pagerduty.arrivals)).toBeLessThan(2000);
      // The hung sink holds its own two loops, no more.
      expect(hanging).toHaveLength(2);
    } finally {
      const stopped = worker.stop();
      for (const release of hanging) release();
      await stopped;
    }
  });

  it("wakes the loops of every sink, and a draining stop sends every sink's due deliveries", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    const start = Date.now();
    const sinks = ["slack", "pagerduty", "pagerduty-notes"].map((name) => recordingSink(name, () => start));
    // Polls too rarely to matter: only wake() and the drain can get the deliveries out in time.
    const worker = createDeliveryWorker({ store, sinks, metrics: createMetrics(), logger: silent, workerId: "w", pollIntervalMs: 60_000 });
    pollers.push(worker);
    worker.start();
    await new Promise((r) => setTimeout(r, 50));
    await diagnosedGroups(2, ["slack", "pagerduty", "pagerduty-notes"]);
    worker.wake();
    await until(() => sinks.every((sink) => sink.arrivals.length === 2), 2000);

    await diagnosedGroups(3, ["slack", "pagerduty", "pagerduty-notes"]);
    await worker.stop({ drain: true });
    expect(sinks.map((sink) => sink.arrivals.length)).toEqual([5, 5, 5]);
    expect((await store.queueDepth()).deliveries).toBe(0);
  });

  it("keeps the lease of a delivery that takes longer than a lease, so a second replica does not send it again", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    await diagnosedGroups(1, ["slack"]);
    const sent: string[] = [];
    // A delivery waiting in a busy channel's queue: five leases long.
    const slow = (replica: string): Sink => ({
      name: "slack",
      deliver: async () => {
        sent.push(replica);
        await new Promise((r) => setTimeout(r, 250));
        return { status: "delivered" };
      },
    });
    const options = { store, metrics: createMetrics(), logger: silent, leaseMs: 50, pollIntervalMs: 5 };
    const first = createDeliveryWorker({ ...options, sinks: [slow("first")], workerId: "replica-1" });
    pollers.push(first);
    first.start();
    await until(() => sent.length === 1);
    const second = createDeliveryWorker({ ...options, sinks: [slow("second")], workerId: "replica-2" });
    pollers.push(second);
    second.start();
    await until(async () => (await store.queueDepth()).deliveries === 0);
    expect(sent).toEqual(["first"]);
  });

  it("fails deliveries left for a sink that is no longer configured, so they do not wait forever", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    await diagnosedGroups(2, ["retired-sink", "console"]);
    const console = recordingSink("console", () => 0);
    const metrics = createMetrics();
    const worker = createDeliveryWorker({ store, sinks: [console], metrics, logger: silent, workerId: "w", pollIntervalMs: 5 });
    pollers.push(worker);
    worker.start();
    await until(async () => (await store.queueDepth()).deliveries === 0);
    expect(console.arrivals).toHaveLength(2);
    expect(await metrics.registry.metrics()).toMatch(/enricher_deliveries_total\{sink="retired-sink",outcome="failed"\} 2/);
  });

  it("cuts a Retry-After of a day to 15 minutes, counts it, and tries again then", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    const slackStandIn = await startSlackStandIn();
    try {
      slackStandIn.failNext(1, { status: 429, retryAfterSeconds: 86_400 });
      const [id] = await diagnosedGroups(1, ["slack"]);
      const metrics = createMetrics();
      const worker = createDeliveryWorker({
        store,
        sinks: [new SlackWebhookSink({ webhookUrl: slackStandIn.webhookUrl })],
        metrics,
        logger: silent,
        workerId: "w",
        pollIntervalMs: 5,
        backoff: { baseMs: 1, maxMs: 2 },
      });
      pollers.push(worker);
      const before = Date.now();
      worker.start();
      await until(async () => /enricher_deliveries_total\{sink="slack",outcome="retry"\} 1/.test(await metrics.registry.metrics()));
      await worker.stop();
      const after = Date.now();

      const cap = 15 * 60_000;
      await expect(store.claimDelivery("probe", 60_000, new Date(before + cap - 1000))).resolves.toBeNull();
      const retried = await store.claimDelivery("probe", 60_000, new Date(after + cap + 1000));
      expect(retried).toMatchObject({ notificationId: id, sink: "slack", attempts: 2 });
      expect(await metrics.registry.metrics()).toMatch(/enricher_retry_after_capped_total\{sink="slack"\} 1/);
    } finally {
      await slackStandIn.close();
    }
  });

  it("retries a sink that asks for it, honouring Retry-After, and stops after the last attempt", async () => {
    store = openSqliteStore(":memory:");
    await store.migrate();
    const { id } = await store.insertNotification({
      dedupKey: "k",
      payload: kubeClientErrorsPayload(),
      receivedAt: new Date(),
      dedupWindowMs: 0,
    });
    await store.claimNotification("w", 1000);
    await store.completeNotification(id, diagnosisFor(id), ["flaky"]);
    const outcomes: SinkOutcome[] = [];
    const sink: Sink = {
      name: "flaky",
      async deliver() {
        const outcome: SinkOutcome = { status: "retry", error: "503 from the service", retryAfterMs: 1 };
        outcomes.push(outcome);
        return outcome;
      },
    };
    const metrics = createMetrics();
    const worker = createDeliveryWorker({
      store,
      sinks: [sink],
      metrics,
      logger: silent,
      workerId: "w",
      pollIntervalMs: 5,
      maxAttempts: 3,
      backoff: { baseMs: 1, maxMs: 2 },
    });
    pollers.push(worker);
    worker.start();
    await until(async () => (await store.queueDepth()).deliveries === 0);
    expect(outcomes).toHaveLength(3);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/enricher_deliveries_total\{sink="flaky",outcome="retry"\} 2/);
    expect(text).toMatch(/enricher_deliveries_total\{sink="flaky",outcome="failed"\} 1/);
  });

  it("waits at least Retry-After and otherwise backs off exponentially with jitter up to the cap", () => {
    const backoff = { baseMs: 1000, maxMs: 60_000 };
    expect(retryDelayMs(1, backoff, undefined, () => 0.5)).toBe(1000);
    expect(retryDelayMs(3, backoff, undefined, () => 0.5)).toBe(4000);
    expect(retryDelayMs(20, backoff, undefined, () => 0.5)).toBe(60_000);
    expect(retryDelayMs(1, backoff, 30_000, () => 0.5)).toBe(30_000);
    expect(retryDelayMs(3, backoff, undefined, () => 0)).toBe(3200);
    expect(retryDelayMs(3, backoff, undefined, () => 1)).toBe(4800);
  });
});

describe("the poller", () => {
  it("takes work stored while it was looking at once, not a poll interval later", async () => {
    // The look that finds nothing has already read the store when the work is stored and wake() is called (a
    // PostgreSQL round trip, another replica's claim): the loop is not asleep yet, so only the wake count can tell it.
    let queued = 0;
    let taken = 0;
    let looks = 0;
    let releaseFirstLook = () => {};
    const firstLookRead = new Promise<void>((resolve) => (releaseFirstLook = resolve));
    const takeOne = async () => {
      looks++;
      const found = queued > 0;
      if (looks === 1) await firstLookRead;
      if (!found) return false;
      queued--;
      taken++;
      return true;
    };
    const poller = createPoller(takeOne, { concurrency: 1, intervalMs: 60_000, onError: () => {} });
    pollers.push(poller);
    poller.start();
    queued = 1;
    poller.wake();
    releaseFirstLook();
    await until(() => taken === 1, 2000);
    expect(taken).toBe(1);
  });

  it("on a draining stop, takes the work still due before it stops; on a plain stop, only finishes the work in hand", async () => {
    let queued = 5;
    let taken = 0;
    const takeOne = async () => {
      if (queued === 0) return false;
      queued--;
      taken++;
      await new Promise((r) => setTimeout(r, 5));
      return true;
    };
    const draining = createPoller(takeOne, { concurrency: 1, intervalMs: 10_000, onError: () => {} });
    draining.start();
    await draining.stop({ drain: true });
    expect(taken).toBe(5);

    queued = 5;
    taken = 0;
    const plain = createPoller(takeOne, { concurrency: 1, intervalMs: 10_000, onError: () => {} });
    plain.start();
    await plain.stop();
    expect(taken).toBe(1);
  });
});
