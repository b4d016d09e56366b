// Whether a group just diagnosed is part of a storm, counted from the store.
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import type { AlertmanagerPayload } from "../../src/model/alertmanager.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { createNotificationWorker } from "../../src/queue/notification-worker.ts";
import { lookUpStorm } from "../../src/queue/storm-lookup.ts";
import { openSqliteStore, SqliteStore } from "../../src/store/sqlite.ts";
import type { StoredNotification } from "../../src/store/store.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const SETTINGS = { minGroups: 3, windowMs: 120_000, clusterLabel: "cluster" };
const NOW = new Date("2026-03-01T12:00:00Z");
let store: SqliteStore | undefined;

afterEach(async () => {
  await store?.close();
});

function group(client: string, cluster = "prod-eu", status: "firing" | "resolved" = "firing"): AlertmanagerPayload {
  return kubeClientErrorsPayload({ cluster, job: client }, { groupKey: `{}:{job="${client}"}`, status });
}

async function stored(payload: AlertmanagerPayload, secondsAgo: number, now = NOW): Promise<StoredNotification> {
  const receivedAt = new Date(now.getTime() - secondsAgo * 1000);
  const cluster = payload.commonLabels.cluster ?? "";
  const { id } = await store!.insertNotification({
    dedupKey: `${payload.groupKey}|${secondsAgo}`,
    payload,
    receivedAt,
    dedupWindowMs: 0,
    cluster,
  });
  return { id, dedupKey: payload.groupKey, payload, receivedAt: receivedAt.toISOString(), attempts: 1 };
}

function undiagnosed(notification: StoredNotification): Diagnosis {
  const { payload } = notification;
  return { ...payload, notificationId: notification.id, alerts: [], createdAt: NOW.toISOString() };
}

it("counts the firing groups of the group's cluster in the window, itself included, once the minimum is reached", async () => {
  store = openSqliteStore(":memory:");
  await store.migrate();
  await stored(group("a"), 100);
  await stored(group("b"), 50);
  await stored(group("too-old"), 130);
  await stored(group("elsewhere", "prod-us"), 10);
  await stored(group("gone", "prod-eu", "resolved"), 10);
  const mine = await stored(group("c"), 1);
  expect(await lookUpStorm(store, { ...SETTINGS, minGroups: 4 }, mine, undiagnosed(mine), NOW)).toBeUndefined();
  const storm = await lookUpStorm(store, SETTINGS, mine, undiagnosed(mine), NOW);
  expect(storm).toEqual({
    id: expect.any(String),
    openedAt: new Date(NOW.getTime() - 100_000).toISOString(),
    groups: 3,
    cluster: "prod-eu",
    windowSeconds: 120,
    sameVerdict: 1,
  });
  // The store keeps the storm with its members, for the sinks to tell as one story.
  const kept = await store.readStorm(storm!.id);
  expect(kept?.members.map((member) => member.groupKey)).toEqual([group("a").groupKey, group("b").groupKey, group("c").groupKey]);
});

it("puts a group diagnosed later in the same storm, and opens a new one once the window has passed", async () => {
  store = openSqliteStore(":memory:");
  await store.migrate();
  for (const client of ["a", "b"]) await stored(group(client), 30);
  const first = await stored(group("c"), 20);
  const second = await stored(group("d"), 10);
  const joined = await lookUpStorm(store, SETTINGS, first, undiagnosed(first), NOW);
  expect((await lookUpStorm(store, SETTINGS, second, undiagnosed(second), NOW))?.id).toBe(joined?.id);
  expect((await store.readStorm(joined!.id))?.members).toHaveLength(4);

  const later = new Date(NOW.getTime() + 10 * 60_000);
  for (const client of ["e", "f"]) await stored(group(client), 30, later);
  const third = await stored(group("g"), 1, later);
  const next = await lookUpStorm(store, SETTINGS, third, undiagnosed(third), later);
  expect(next?.id).toBeDefined();
  expect(next?.id).not.toBe(joined?.id);
});

it("links the storm's page when report pages are served", async () => {
  store = openSqliteStore(":memory:");
  await store.migrate();
  for (const client of ["a", "b"]) await stored(group(client), 30);
  const mine = await stored(group("c"), 1);
  const link = (stormId: string) => `https://enricher.example.com/reports/storms/${stormId}?token=t`;
  const storm = await lookUpStorm(store, { ...SETTINGS, link }, mine, undiagnosed(mine), NOW);
  expect(storm?.link).toBe(`https://enricher.example.com/reports/storms/${storm?.id}?token=t`);
  const other = await stored(group("d"), 1);
  expect(await lookUpStorm(store, { ...SETTINGS, link: () => undefined }, other, undiagnosed(other), NOW)).not.toHaveProperty("link");
});

it("gives a resolved notification no storm line", async () => {
  store = openSqliteStore(":memory:");
  await store.migrate();
  for (const client of ["a", "b", "c"]) await stored(group(client), 5);
  const resolved = await stored(group("d", "prod-eu", "resolved"), 1);
  expect(await lookUpStorm(store, SETTINGS, resolved, undiagnosed(resolved), NOW)).toBeUndefined();
});

it("still delivers the diagnosis, without the storm line, when the store cannot count the storm", async () => {
  class StormBlindStore extends SqliteStore {
    override async recentFiringGroups(): Promise<never> {
      throw new Error("connection reset");
    }
  }
  const blind = new StormBlindStore(":memory:");
  store = blind;
  await blind.migrate();
  const { id } = await blind.insertNotification({
    dedupKey: "k",
    payload: group("a"),
    receivedAt: new Date(),
    dedupWindowMs: 0,
    cluster: "prod-eu",
  });
  const completed: Diagnosis[] = [];
  const worker = createNotificationWorker({
    store: blind,
    sinks: ["console"],
    logger: pino({ level: "silent" }),
    workerId: "w",
    leaseMs: 10_000,
    concurrency: 1,
    pollIntervalMs: 5,
    storm: { ...SETTINGS, minGroups: 2 },
    diagnose: async (notification) => undiagnosed(notification),
    onCompleted: (diagnosis) => completed.push(diagnosis),
  });
  worker.start();
  try {
    const deadline = Date.now() + 5000;
    while (completed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await worker.stop();
  }
  expect(completed).toHaveLength(1);
  expect(completed[0]?.storm).toBeUndefined();
  expect((await blind.getDiagnosis(id))?.notificationId).toBe(id);
  expect((await blind.queueDepth()).deliveries).toBe(1);
});
