import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { createDeliveryWorker, retryDelayMs } from "../../src/queue/delivery-worker.ts";
import { createNotificationWorker } from "../../src/queue/notification-worker.ts";
import { createPoller, type Poller } from "../../src/queue/poller.ts";
import type { Sink, SinkOutcome } from "../../src/sinks/sink.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

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

describe("the delivery worker", () => {
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
