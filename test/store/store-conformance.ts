// The behaviour every Store must have, as a vitest suite any implementation runs against itself (SQLite now, PostgreSQL later).
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AlertmanagerPayload } from "../../src/model/alertmanager.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import type { DeliverySinkFilter, Store, StoredDelivery } from "../../src/store/store.ts";

const MINUTE = 60_000;
const LEASE_MS = 30_000;

export function alertPayload(groupKey: string, alertname = "KubeAPIErrorBudgetBurn"): AlertmanagerPayload {
  return {
    version: "4",
    groupKey,
    truncatedAlerts: 0,
    status: "firing",
    receiver: "enricher",
    groupLabels: { alertname },
    commonLabels: { alertname, severity: "critical" },
    commonAnnotations: { summary: "The API server is burning its error budget." },
    externalURL: "http://alertmanager.example:9093",
    alerts: [
      {
        status: "firing",
        labels: { alertname, severity: "critical" },
        annotations: {},
        startsAt: "2025-01-01T00:00:00Z",
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "http://prometheus.example:9090/graph",
        fingerprint: "a1b2c3d4e5f60718",
      },
    ],
  };
}

export function diagnosisOf(notificationId: string, payload: AlertmanagerPayload): Diagnosis {
  return {
    notificationId,
    groupKey: payload.groupKey,
    receiver: payload.receiver,
    status: payload.status,
    groupLabels: payload.groupLabels,
    commonLabels: payload.commonLabels,
    externalURL: payload.externalURL,
    truncatedAlerts: payload.truncatedAlerts,
    alerts: [],
    createdAt: new Date().toISOString(),
  };
}

/** A diagnosis whose one alert has `causeId` as its holding cause. */
function diagnosedWith(notificationId: string, payload: AlertmanagerPayload, causeId: string): Diagnosis {
  const alert = payload.alerts[0]!;
  const cause = { id: causeId, title: "The API server is failing the requests", summary: "500s from the API server." };
  return {
    ...diagnosisOf(notificationId, payload),
    alerts: [
      {
        alert,
        playbook: "KubernetesApiClientErrors",
        causes: [{ ...cause, confidence: 0.9, evidence: [], remediation: [] }],
        verdict: "cause",
        steps: [],
        logExcerpts: [],
        partial: false,
        links: {},
        startedAt: payload.alerts[0]!.startsAt,
        finishedAt: payload.alerts[0]!.startsAt,
      },
    ],
  };
}

/** How a test makes a store's disk full, the way each database fails then. */
export interface FullDisk {
  /** From now on, a write that needs new space fails; rewriting a small row in place (the heartbeat) still fits. */
  fill(store: Store): Promise<void>;
  /** Space is back. */
  free(store: Store): Promise<void>;
  /** The database's own message for a full disk. */
  message: RegExp;
}

/**
 * Runs the Store behaviour tests against `open`, which must return a store over a fresh, empty database each time.
 * The suite migrates and closes the stores it opens.
 */
export function describeStoreConformance(name: string, open: () => Promise<Store>, fullDisk?: FullDisk): void {
  describe(`${name} (Store conformance)`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
      await store.migrate();
    });

    afterEach(async () => {
      await store.close();
    });

    let insertCount = 0;

    async function insert(groupKey: string, receivedAt = new Date(), dedupKey = `${groupKey}|${++insertCount}`) {
      const payload = alertPayload(groupKey);
      const result = await store.insertNotification({ dedupKey, payload, receivedAt, dedupWindowMs: 5 * MINUTE });
      return { ...result, payload };
    }

    /** Inserts, claims and completes a notification, so that it has one pending delivery per sink. */
    async function completed(groupKey: string, sinks: string[]): Promise<string> {
      const { id, payload } = await insert(groupKey);
      const claimed = await store.claimNotification("worker-a", LEASE_MS);
      expect(claimed?.id).toBe(id);
      await store.completeNotification(id, diagnosisOf(id, payload), sinks);
      return id;
    }

    async function claimAllDeliveries(now = new Date(), filter?: DeliverySinkFilter) {
      const claimed: StoredDelivery[] = [];
      for (;;) {
        const delivery = await store.claimDelivery("sender", LEASE_MS, now, filter);
        if (delivery === null) return claimed;
        claimed.push(delivery);
      }
    }

    it("migrating twice is harmless", async () => {
      await store.migrate();
      await expect(store.queueDepth()).resolves.toEqual({ notifications: 0, deliveries: 0 });
    });

    it("claiming from an empty store returns null", async () => {
      await expect(store.claimNotification("worker-a", LEASE_MS)).resolves.toBeNull();
      await expect(store.claimDelivery("sender", LEASE_MS)).resolves.toBeNull();
    });

    it("an inserted notification is claimed with its payload, dedup key and receive time", async () => {
      const receivedAt = new Date("2025-03-01T10:00:00.123Z");
      const { id, payload, duplicate } = await insert('{}:{alertname="KubeAPIDown"}', receivedAt, "key-1");
      expect(duplicate).toBe(false);

      const claimed = await store.claimNotification("worker-a", LEASE_MS, receivedAt);
      expect(claimed).toEqual({ id, dedupKey: "key-1", payload, receivedAt: receivedAt.toISOString(), attempts: 1 });
    });

    it("a leased notification is not claimed again until its lease expires, then goes to another worker with attempts 2", async () => {
      const start = new Date();
      const { id } = await insert("group-a", start);
      expect((await store.claimNotification("worker-a", LEASE_MS, start))?.attempts).toBe(1);

      await expect(store.claimNotification("worker-b", LEASE_MS, new Date(start.getTime() + LEASE_MS - 1))).resolves.toBeNull();

      const reclaimed = await store.claimNotification("worker-b", LEASE_MS, new Date(start.getTime() + LEASE_MS + 1));
      expect(reclaimed?.id).toBe(id);
      expect(reclaimed?.attempts).toBe(2);
    });

    it("notifications are claimed oldest first", async () => {
      const start = Date.now();
      const newer = await insert("group-newer", new Date(start + 1000));
      const older = await insert("group-older", new Date(start));

      expect((await store.claimNotification("worker-a", LEASE_MS, new Date(start + 2000)))?.id).toBe(older.id);
      expect((await store.claimNotification("worker-a", LEASE_MS, new Date(start + 2000)))?.id).toBe(newer.id);
    });

    it("a duplicate within the dedup window is reported with the first id and not stored", async () => {
      const start = Date.now();
      const first = await insert("group-a", new Date(start), "same-key");
      const second = await insert("group-a", new Date(start + 4 * MINUTE), "same-key");

      expect(second).toMatchObject({ id: first.id, duplicate: true });
      expect((await store.queueDepth()).notifications).toBe(1);
      expect((await store.claimNotification("worker-a", LEASE_MS))?.id).toBe(first.id);
      await expect(store.claimNotification("worker-a", LEASE_MS)).resolves.toBeNull();
    });

    it("notifications sent at once are each stored, a duplicate among them found, and claimed oldest first", async () => {
      const start = Date.now();
      const results = await Promise.all([
        insert("group-c", new Date(start + 2), "key-c"),
        insert("group-a", new Date(start), "key-a"),
        insert("group-a", new Date(start), "key-a"),
        insert("group-b", new Date(start + 1), "key-b"),
      ]);

      const [c, a1, a2, b] = results;
      const storedA = [a1!, a2!].filter((r) => !r.duplicate);
      expect(storedA).toHaveLength(1);
      expect([a1!, a2!].find((r) => r.duplicate)?.id).toBe(storedA[0]!.id);
      expect((await store.queueDepth()).notifications).toBe(3);
      const later = new Date(start + 1000);
      const claimed = [];
      for (let i = 0; i < 3; i++) claimed.push((await store.claimNotification("worker-a", LEASE_MS, later))?.id);
      expect(claimed).toEqual([storedA[0]!.id, b!.id, c!.id]);
    });

    it("the same dedup key outside the window is stored as a new notification", async () => {
      const start = Date.now();
      const first = await insert("group-a", new Date(start), "same-key");
      const later = await insert("group-a", new Date(start + 6 * MINUTE), "same-key");

      expect(later.duplicate).toBe(false);
      expect(later.id).not.toBe(first.id);
      expect((await store.queueDepth()).notifications).toBe(2);
    });

    it("a different dedup key within the window is stored as a new notification", async () => {
      const receivedAt = new Date();
      await insert("group-a", receivedAt, "key-1");
      const other = await insert("group-a", receivedAt, "key-2");

      expect(other.duplicate).toBe(false);
      expect((await store.queueDepth()).notifications).toBe(2);
    });

    it("a duplicate is reported even after the first one has been processed", async () => {
      const receivedAt = new Date();
      const first = await insert("group-a", receivedAt, "same-key");
      await store.claimNotification("worker-a", LEASE_MS);
      await store.completeNotification(first.id, diagnosisOf(first.id, first.payload), ["console"]);

      await expect(insert("group-a", new Date(receivedAt.getTime() + 1000), "same-key")).resolves.toMatchObject({
        id: first.id,
        duplicate: true,
      });
    });

    it("completing a notification stores its diagnosis and creates one delivery per sink", async () => {
      const id = await completed("group-a", ["slack", "pagerduty"]);

      expect((await store.getDiagnosis(id))?.notificationId).toBe(id);
      expect(await store.queueDepth()).toEqual({ notifications: 0, deliveries: 2 });
      const deliveries = await claimAllDeliveries();
      expect(deliveries.map((delivery) => delivery.sink).sort()).toEqual(["pagerduty", "slack"]);
      for (const delivery of deliveries) {
        expect(delivery).toMatchObject({ notificationId: id, attempts: 1 });
        expect(delivery.diagnosis.notificationId).toBe(id);
      }
    });

    it("completing a notification twice creates no extra deliveries and keeps the first diagnosis", async () => {
      const id = await completed("group-a", ["slack", "pagerduty"]);
      const first = await store.getDiagnosis(id);

      await store.completeNotification(id, { ...diagnosisOf(id, alertPayload("group-a")), receiver: "second" }, ["slack", "pagerduty"]);

      expect((await store.queueDepth()).deliveries).toBe(2);
      expect(await store.getDiagnosis(id)).toEqual(first);
      expect(await claimAllDeliveries()).toHaveLength(2);
    });

    it("two workers racing past a lease expiry deliver a notification once", async () => {
      const start = new Date();
      const { id, payload } = await insert("group-a", start);
      await store.claimNotification("worker-a", LEASE_MS, start);
      await store.claimNotification("worker-b", LEASE_MS, new Date(start.getTime() + LEASE_MS + 1));

      await store.completeNotification(id, diagnosisOf(id, payload), ["slack"]);
      await store.completeNotification(id, diagnosisOf(id, payload), ["slack"]);

      expect(await claimAllDeliveries()).toHaveLength(1);
      await expect(store.claimNotification("worker-c", LEASE_MS, new Date(start.getTime() + 10 * LEASE_MS))).resolves.toBeNull();
    });

    it("completing a notification that does not exist throws", async () => {
      const missing = "00000000-0000-4000-8000-000000000000";
      await expect(store.completeNotification(missing, diagnosisOf(missing, alertPayload("group-a")), ["slack"])).rejects.toThrow();
    });

    it("a notification has no diagnosis until it is completed", async () => {
      const { id } = await insert("group-a");
      await expect(store.getDiagnosis(id)).resolves.toBeNull();
      await expect(store.getDiagnosis("00000000-0000-4000-8000-000000000000")).resolves.toBeNull();
    });

    it("deliveries of one group to one sink come out in order, one at a time", async () => {
      const first = await completed("group-a", ["slack"]);
      const second = await completed("group-a", ["slack"]);

      const claimedFirst = await store.claimDelivery("sender", LEASE_MS);
      expect(claimedFirst?.notificationId).toBe(first);
      await expect(store.claimDelivery("sender", LEASE_MS)).resolves.toBeNull();

      await store.finishDelivery(claimedFirst?.id ?? "", { status: "delivered" });
      expect((await store.claimDelivery("sender", LEASE_MS))?.notificationId).toBe(second);
    });

    it("remembers a sink's state per alert group and sink, replacing it on each put", async () => {
      await expect(store.getSinkState("group-a", "slack")).resolves.toBeNull();
      await store.putSinkState("group-a", "slack", { channel: "C1", ts: "1700000000.000100" });
      await store.putSinkState("group-a", "pagerduty", { noteDigest: "abc" });
      await store.putSinkState("group-b", "slack", { channel: "C1", ts: "1700000000.000200" });
      await store.putSinkState("group-a", "slack", { channel: "C1", ts: "1700000000.000100", resolved: true });
      await expect(store.getSinkState("group-a", "slack")).resolves.toEqual({ channel: "C1", ts: "1700000000.000100", resolved: true });
      await expect(store.getSinkState("group-a", "pagerduty")).resolves.toEqual({ noteDigest: "abc" });
      await expect(store.getSinkState("group-b", "slack")).resolves.toEqual({ channel: "C1", ts: "1700000000.000200" });
    });

    it("hands a delivery out with its alert group", async () => {
      await completed("group-a", ["slack"]);
      expect((await store.claimDelivery("sender", LEASE_MS))?.groupKey).toBe("group-a");
    });

    it("a group's deliveries follow the order Alertmanager sent them, even when a later notification finishes first", async () => {
      const start = Date.now() - MINUTE;
      const firing = await insert("group-a", new Date(start));
      const resolved = await insert("group-a", new Date(start + 1000));
      const other = await insert("group-b", new Date(start + 2000));
      // Both of group-a's notifications are taken; the resolve (no playbook to run) is done first.
      const takenFirst = await store.claimNotification("worker-a", LEASE_MS);
      const takenSecond = await store.claimNotification("worker-b", LEASE_MS);
      expect([takenFirst?.id, takenSecond?.id]).toEqual([firing.id, resolved.id]);
      await store.completeNotification(resolved.id, diagnosisOf(resolved.id, resolved.payload), ["slack"]);
      await store.claimNotification("worker-c", LEASE_MS);
      await store.completeNotification(other.id, diagnosisOf(other.id, other.payload), ["slack"]);

      // The resolve waits for the firing diagnosis; group-b is not held up.
      expect((await claimAllDeliveries()).map((d) => d.notificationId)).toEqual([other.id]);

      await store.completeNotification(firing.id, diagnosisOf(firing.id, firing.payload), ["slack"]);
      const next = await store.claimDelivery("sender", LEASE_MS);
      expect(next?.notificationId).toBe(firing.id);
      await store.finishDelivery(next?.id ?? "", { status: "delivered" });
      expect((await store.claimDelivery("sender", LEASE_MS))?.notificationId).toBe(resolved.id);
    });

    it("an earlier delivery waiting for its retry holds back its group and sink but not other groups or sinks", async () => {
      const older = await completed("group-a", ["slack"]);
      const claimedOlder = await store.claimDelivery("sender", LEASE_MS);
      expect(claimedOlder?.notificationId).toBe(older);
      const retryAt = new Date(Date.now() + 10 * MINUTE);
      await store.finishDelivery(claimedOlder?.id ?? "", { status: "retry", error: "Slack answered 503", notBefore: retryAt });

      const newerSameGroup = await completed("group-a", ["slack", "pagerduty"]);
      const otherGroup = await completed("group-b", ["slack"]);

      const claimed = await claimAllDeliveries();
      expect(claimed.map((delivery) => [delivery.notificationId, delivery.sink])).toEqual([
        [newerSameGroup, "pagerduty"],
        [otherGroup, "slack"],
      ]);
      for (const delivery of claimed) await store.finishDelivery(delivery.id, { status: "delivered" });

      const afterRetry = await claimAllDeliveries(new Date(retryAt.getTime() + 1));
      expect(afterRetry.map((delivery) => [delivery.notificationId, delivery.attempts])).toEqual([[older, 2]]);
    });

    it("a claim for one sink takes only that sink's deliveries, oldest first, and leaves the other sinks' alone", async () => {
      const first = await completed("group-a", ["slack", "pagerduty"]);
      const second = await completed("group-b", ["slack", "pagerduty"]);

      const pagerduty = await claimAllDeliveries(new Date(), { sink: "pagerduty" });
      expect(pagerduty.map((delivery) => [delivery.notificationId, delivery.sink])).toEqual([
        [first, "pagerduty"],
        [second, "pagerduty"],
      ]);
      await expect(store.claimDelivery("sender", LEASE_MS, new Date(), { sink: "console" })).resolves.toBeNull();
      const slack = await claimAllDeliveries(new Date(), { sink: "slack" });
      expect(slack.map((delivery) => [delivery.notificationId, delivery.sink])).toEqual([
        [first, "slack"],
        [second, "slack"],
      ]);
    });

    it("a claim for one sink keeps its group's order: a retry waiting holds back that sink's later delivery, not another sink's", async () => {
      const older = await completed("group-a", ["slack", "pagerduty"]);
      const olderSlack = await store.claimDelivery("sender", LEASE_MS, new Date(), { sink: "slack" });
      expect(olderSlack).toMatchObject({ notificationId: older, sink: "slack" });
      const retryAt = new Date(Date.now() + 10 * MINUTE);
      await store.finishDelivery(olderSlack?.id ?? "", { status: "retry", error: "Slack did not answer in 10 s", notBefore: retryAt });
      const olderPagerDuty = await store.claimDelivery("sender", LEASE_MS, new Date(), { sink: "pagerduty" });
      expect(olderPagerDuty).toMatchObject({ notificationId: older, sink: "pagerduty" });
      await store.finishDelivery(olderPagerDuty?.id ?? "", { status: "delivered" });

      const newer = await completed("group-a", ["slack", "pagerduty"]);
      await expect(store.claimDelivery("sender", LEASE_MS, new Date(), { sink: "slack" })).resolves.toBeNull();
      const newerPagerDuty = await store.claimDelivery("sender", LEASE_MS, new Date(), { sink: "pagerduty" });
      expect(newerPagerDuty).toMatchObject({ notificationId: newer, sink: "pagerduty" });
      // While the retry is in flight, the group's next Slack delivery still waits for it.
      const later = new Date(retryAt.getTime() + 1);
      const retried = await store.claimDelivery("sender", LEASE_MS, later, { sink: "slack" });
      expect(retried).toMatchObject({ notificationId: older, attempts: 2 });
      await expect(store.claimDelivery("sender", LEASE_MS, later, { sink: "slack" })).resolves.toBeNull();
      await store.finishDelivery(retried?.id ?? "", { status: "delivered" });
      expect(await store.claimDelivery("sender", LEASE_MS, later, { sink: "slack" })).toMatchObject({ notificationId: newer });
    });

    it("a claim that excludes the configured sinks takes only deliveries left for other sinks", async () => {
      const id = await completed("group-a", ["slack", "retired-sink"]);

      const orphans = await claimAllDeliveries(new Date(), { exceptSinks: ["slack", "pagerduty"] });
      expect(orphans.map((delivery) => [delivery.notificationId, delivery.sink])).toEqual([[id, "retired-sink"]]);
      await expect(store.claimDelivery("sender", LEASE_MS, new Date(), { exceptSinks: [] })).resolves.toMatchObject({
        notificationId: id,
        sink: "slack",
      });
    });

    it("a delivery set to retry is not claimable before its not-before time and is claimable at it", async () => {
      await completed("group-a", ["slack"]);
      const delivery = await store.claimDelivery("sender", LEASE_MS);
      const notBefore = new Date(Date.now() + MINUTE);
      await store.finishDelivery(delivery?.id ?? "", { status: "retry", error: "timeout", notBefore });

      await expect(store.claimDelivery("sender", LEASE_MS, new Date(notBefore.getTime() - 1))).resolves.toBeNull();
      expect((await store.queueDepth()).deliveries).toBe(1);
      const retried = await store.claimDelivery("sender", LEASE_MS, notBefore);
      expect(retried).toMatchObject({ id: delivery?.id, attempts: 2 });
    });

    it("a failed delivery is terminal and no longer holds back its group", async () => {
      const first = await completed("group-a", ["slack"]);
      const second = await completed("group-a", ["slack"]);
      const delivery = await store.claimDelivery("sender", LEASE_MS);
      expect(delivery?.notificationId).toBe(first);

      await store.finishDelivery(delivery?.id ?? "", { status: "failed", error: "Slack answered 404 channel_not_found" });

      const next = await store.claimDelivery("sender", LEASE_MS, new Date(Date.now() + 100 * MINUTE));
      expect(next?.notificationId).toBe(second);
      await store.finishDelivery(next?.id ?? "", { status: "delivered" });
      await expect(store.claimDelivery("sender", LEASE_MS, new Date(Date.now() + 100 * MINUTE))).resolves.toBeNull();
      expect((await store.queueDepth()).deliveries).toBe(0);
    });

    it("a delivered delivery is not sent again", async () => {
      await completed("group-a", ["slack"]);
      const delivery = await store.claimDelivery("sender", LEASE_MS);
      await store.finishDelivery(delivery?.id ?? "", { status: "delivered" });

      await expect(store.claimDelivery("sender", LEASE_MS, new Date(Date.now() + 100 * MINUTE))).resolves.toBeNull();
    });

    it("a delivery whose lease expired is claimed again by another sender", async () => {
      await completed("group-a", ["slack"]);
      const now = Date.now();
      const first = await store.claimDelivery("sender-a", LEASE_MS, new Date(now));

      await expect(store.claimDelivery("sender-b", LEASE_MS, new Date(now + LEASE_MS - 1))).resolves.toBeNull();
      const again = await store.claimDelivery("sender-b", LEASE_MS, new Date(now + LEASE_MS + 1));
      expect(again).toMatchObject({ id: first?.id, attempts: 2 });
    });

    it("a late retry from a sender whose lease expired does not undo a delivery", async () => {
      await completed("group-a", ["slack"]);
      const now = Date.now();
      const first = await store.claimDelivery("sender-a", LEASE_MS, new Date(now));
      await store.claimDelivery("sender-b", LEASE_MS, new Date(now + LEASE_MS + 1));
      await store.finishDelivery(first?.id ?? "", { status: "delivered" });

      await store.finishDelivery(first?.id ?? "", { status: "retry", error: "timeout", notBefore: new Date(now) });

      await expect(store.claimDelivery("sender-c", LEASE_MS, new Date(now + 100 * MINUTE))).resolves.toBeNull();
      expect((await store.queueDepth()).deliveries).toBe(0);
    });

    it("finishing a delivery that does not exist throws", async () => {
      await expect(store.finishDelivery("00000000-0000-4000-8000-000000000000", { status: "delivered" })).rejects.toThrow();
    });

    it("queue depth counts pending and running notifications and deliveries", async () => {
      await insert("group-a");
      await insert("group-b");
      expect(await store.queueDepth()).toEqual({ notifications: 2, deliveries: 0 });

      const claimed = await store.claimNotification("worker-a", LEASE_MS);
      expect(await store.queueDepth()).toEqual({ notifications: 2, deliveries: 0 });

      await store.completeNotification(claimed?.id ?? "", diagnosisOf(claimed?.id ?? "", claimed?.payload ?? alertPayload("x")), [
        "slack",
        "console",
      ]);
      expect(await store.queueDepth()).toEqual({ notifications: 1, deliveries: 2 });
    });

    it("lists done notifications with their diagnosis, newest first, since a time and up to a limit", async () => {
      const base = Date.parse("2026-01-01T00:00:00Z");
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { id, payload } = await insert(`group-${i}`, new Date(base + i * MINUTE));
        expect((await store.claimNotification("worker-a", LEASE_MS, new Date(base + i * MINUTE)))?.id).toBe(id);
        await store.completeNotification(id, diagnosisOf(id, payload), []);
        ids.push(id);
      }
      await insert("group-pending", new Date(base + 10 * MINUTE));

      const all = await store.listDiagnoses({ since: new Date(base), limit: 10 });
      expect(all.map((l) => l.id)).toEqual([ids[2], ids[1], ids[0]]);
      expect(all[0]?.receivedAt).toBe(new Date(base + 2 * MINUTE).toISOString());
      expect(all[0]?.diagnosis.notificationId).toBe(ids[2]);
      expect((await store.listDiagnoses({ since: new Date(base + MINUTE), limit: 10 })).map((l) => l.id)).toEqual([ids[2], ids[1]]);
      expect((await store.listDiagnoses({ since: new Date(base), limit: 1 })).map((l) => l.id)).toEqual([ids[2]]);
    });

    it("lists the distinct firing alert groups of one cluster in a window, with the verdict of those already diagnosed", async () => {
      const base = Date.parse("2026-01-01T00:00:00Z");
      const at = (seconds: number) => new Date(base + seconds * 1000);
      const put = async (groupKey: string, seconds: number, options: { cluster?: string; resolved?: boolean } = {}) => {
        const payload = { ...alertPayload(groupKey), ...(options.resolved === true ? { status: "resolved" as const } : {}) };
        const dedupKey = `${groupKey}|${++insertCount}`;
        const input = { dedupKey, payload, receivedAt: at(seconds), dedupWindowMs: 0 };
        const { id } = await store.insertNotification(options.cluster === undefined ? input : { ...input, cluster: options.cluster });
        return { id, payload };
      };

      const first = await put("client-a", 0, { cluster: "prod-eu" });
      expect((await store.claimNotification("worker-a", LEASE_MS, at(1)))?.id).toBe(first.id);
      await store.completeNotification(first.id, diagnosedWith(first.id, first.payload, "apiserver_side_errors"), []);
      await put("client-b", 10, { cluster: "prod-eu" });
      await put("client-a", 20, { cluster: "prod-eu" }); // the same group again: counted once, keeps its verdict
      await put("client-c", 30, { cluster: "prod-eu", resolved: true });
      await put("client-d", 40, { cluster: "prod-us" });
      await put("client-e", 50); // no cluster label: the single-cluster case
      await put("client-f", -180, { cluster: "prod-eu" }); // before the window
      await put("client-g", 200, { cluster: "prod-eu" }); // after its end

      const groups = await store.recentFiringGroups({ cluster: "prod-eu", until: at(60), windowMs: 2 * MINUTE });
      expect(groups).toEqual([
        {
          groupKey: "client-a",
          firstReceivedAt: at(0).toISOString(),
          verdict: {
            verdict: "cause",
            cause: { id: "apiserver_side_errors", title: "The API server is failing the requests", summary: "500s from the API server." },
            name: "KubeAPIErrorBudgetBurn",
          },
        },
        { groupKey: "client-b", firstReceivedAt: at(10).toISOString(), verdict: null },
      ]);
      expect((await store.recentFiringGroups({ cluster: "", until: at(60), windowMs: 2 * MINUTE })).map((g) => g.groupKey)).toEqual([
        "client-e",
      ]);
      expect((await store.recentFiringGroups({ cluster: "prod-us", until: at(30), windowMs: 2 * MINUTE })).map((g) => g.groupKey)).toEqual(
        [],
      );
    });

    it("pruning deletes done notifications received before the date, with their deliveries, and keeps the rest", async () => {
      const old = new Date(Date.now() - 40 * 24 * 60 * MINUTE);
      const oldDone = await insert("group-old", old);
      await store.claimNotification("worker-a", LEASE_MS, old);
      await store.completeNotification(oldDone.id, diagnosisOf(oldDone.id, oldDone.payload), ["slack"]);
      const delivery = await store.claimDelivery("sender", LEASE_MS);
      await store.finishDelivery(delivery?.id ?? "", { status: "delivered" });
      const oldWaiting = await insert("group-waiting", new Date(old.getTime() + MINUTE));
      await store.claimNotification("worker-a", LEASE_MS, new Date(old.getTime() + MINUTE));
      await store.completeNotification(oldWaiting.id, diagnosisOf(oldWaiting.id, oldWaiting.payload), ["slack"]);
      const recent = await completed("group-new", []);
      const oldPending = await insert("group-pending", new Date(old.getTime() + 2 * MINUTE));

      await expect(store.pruneBefore(new Date(Date.now() - 30 * 24 * 60 * MINUTE))).resolves.toBe(1);

      await expect(store.getDiagnosis(oldDone.id)).resolves.toBeNull();
      await expect(store.getDiagnosis(oldWaiting.id)).resolves.not.toBeNull();
      await expect(store.getDiagnosis(recent)).resolves.not.toBeNull();
      await expect(store.queueDepth()).resolves.toEqual({ notifications: 1, deliveries: 1 });
      expect((await store.claimNotification("worker-b", LEASE_MS))?.id).toBe(oldPending.id);
    });

    describe("storms", () => {
      const base = Date.parse("2026-01-01T00:00:00Z");
      const at = (seconds: number) => new Date(base + seconds * 1000);
      const groups = (...members: Array<[string, number]>) =>
        members.map(([groupKey, seconds]) => ({ groupKey, firstReceivedAt: at(seconds) }));
      const WINDOW_MS = 5 * MINUTE;

      /** Stores a notification of `groupKey` received at `seconds` and diagnoses it (with `causeId` as its cause, if given). */
      async function diagnosed(groupKey: string, seconds: number, options: { resolved?: boolean; causeId?: string } = {}) {
        const payload = { ...alertPayload(groupKey), ...(options.resolved === true ? { status: "resolved" as const } : {}) };
        const { id } = await store.insertNotification({
          dedupKey: `${groupKey}|${++insertCount}`,
          payload,
          receivedAt: at(seconds),
          dedupWindowMs: 0,
          cluster: "prod-eu",
        });
        expect((await store.claimNotification("worker-a", LEASE_MS, at(seconds)))?.id).toBe(id);
        const diagnosis = options.causeId === undefined ? diagnosisOf(id, payload) : diagnosedWith(id, payload, options.causeId);
        await store.completeNotification(id, diagnosis, []);
        return id;
      }

      it("a join within the window reuses the cluster's open storm; it opens at its earliest group and members keep their first receipt", async () => {
        const opened = await store.joinStorm({ cluster: "prod-eu", groups: groups(["a", 0], ["b", 10]), at: at(20), windowMs: WINDOW_MS });
        expect(opened.openedAt).toBe(at(0).toISOString());

        const again = await store.joinStorm({ cluster: "prod-eu", groups: groups(["c", 30], ["a", 25]), at: at(40), windowMs: WINDOW_MS });
        expect(again).toEqual(opened);
        // A replica that diagnosed later groups of the storm late: the storm's last sight does not go back, its opening
        // moves to the earlier group.
        const late = await store.joinStorm({ cluster: "prod-eu", groups: groups(["d", -60]), at: at(30), windowMs: WINDOW_MS });
        expect(late).toEqual({ id: opened.id, openedAt: at(-60).toISOString() });

        expect(await store.readStorm(opened.id)).toEqual({
          id: opened.id,
          cluster: "prod-eu",
          openedAt: at(-60).toISOString(),
          lastSeenAt: at(40).toISOString(),
          members: [
            { groupKey: "d", firstReceivedAt: at(-60).toISOString(), latest: null },
            { groupKey: "a", firstReceivedAt: at(0).toISOString(), latest: null },
            { groupKey: "b", firstReceivedAt: at(10).toISOString(), latest: null },
            { groupKey: "c", firstReceivedAt: at(30).toISOString(), latest: null },
          ],
        });
      });

      it("a join after the window has passed opens a new storm, and each cluster has its own", async () => {
        const first = await store.joinStorm({ cluster: "prod-eu", groups: groups(["a", 0]), at: at(0), windowMs: 2 * MINUTE });
        const otherCluster = await store.joinStorm({ cluster: "prod-us", groups: groups(["a", 10]), at: at(10), windowMs: 2 * MINUTE });
        const afterWindow = await store.joinStorm({ cluster: "prod-eu", groups: groups(["b", 120]), at: at(120), windowMs: 2 * MINUTE });
        const withinNext = await store.joinStorm({ cluster: "prod-eu", groups: groups(["c", 200]), at: at(200), windowMs: 2 * MINUTE });

        expect(new Set([first.id, otherCluster.id, afterWindow.id]).size).toBe(3);
        expect(withinNext.id).toBe(afterWindow.id);
        expect((await store.readStorm(otherCluster.id))?.cluster).toBe("prod-us");
        expect((await store.readStorm(first.id))?.members.map((member) => member.groupKey)).toEqual(["a"]);
        expect((await store.readStorm(afterWindow.id))?.members.map((member) => member.groupKey)).toEqual(["b", "c"]);
        expect((await store.readStorm(afterWindow.id))?.openedAt).toBe(at(120).toISOString());
      });

      it("reading a storm gives each member's latest diagnosed notification with its verdict, and null for an unknown storm", async () => {
        const firingA = await diagnosed("a", 0, { causeId: "apiserver_side_errors" });
        await diagnosed("b", 5, { causeId: "apiserver_side_errors" });
        const resolvedB = await diagnosed("b", 20, { resolved: true });
        // Received later but not diagnosed yet: a's latest stays the diagnosed one.
        await store.insertNotification({ dedupKey: "a-again", payload: alertPayload("a"), receivedAt: at(30), dedupWindowMs: 0 });
        const { id } = await store.joinStorm({
          cluster: "prod-eu",
          groups: groups(["a", 0], ["b", 5], ["c", 8]),
          at: at(30),
          windowMs: WINDOW_MS,
        });

        const storm = await store.readStorm(id);
        expect(storm?.members).toEqual([
          {
            groupKey: "a",
            firstReceivedAt: at(0).toISOString(),
            latest: {
              notificationId: firingA,
              receivedAt: at(0).toISOString(),
              firing: true,
              verdict: {
                verdict: "cause",
                cause: {
                  id: "apiserver_side_errors",
                  title: "The API server is failing the requests",
                  summary: "500s from the API server.",
                },
                name: "KubeAPIErrorBudgetBurn",
              },
            },
          },
          {
            groupKey: "b",
            firstReceivedAt: at(5).toISOString(),
            latest: {
              notificationId: resolvedB,
              receivedAt: at(20).toISOString(),
              firing: false,
              verdict: { verdict: "none", name: "KubeAPIErrorBudgetBurn" },
            },
          },
          { groupKey: "c", firstReceivedAt: at(8).toISOString(), latest: null },
        ]);
        await expect(store.readStorm("00000000-0000-4000-8000-000000000000")).resolves.toBeNull();
      });

      it("pruning deletes storms last seen before the date and keeps later ones", async () => {
        const now = Date.now();
        const old = await store.joinStorm({
          cluster: "prod-eu",
          groups: [{ groupKey: "a", firstReceivedAt: new Date(now - 40 * 24 * 60 * MINUTE) }],
          at: new Date(now - 40 * 24 * 60 * MINUTE),
          windowMs: WINDOW_MS,
        });
        const recent = await store.joinStorm({
          cluster: "prod-eu",
          groups: [{ groupKey: "a", firstReceivedAt: new Date(now) }],
          at: new Date(now),
          windowMs: WINDOW_MS,
        });

        await expect(store.pruneBefore(new Date(now - 30 * 24 * 60 * MINUTE))).resolves.toBe(0);

        await expect(store.readStorm(old.id)).resolves.toBeNull();
        expect((await store.readStorm(recent.id))?.members.map((member) => member.groupKey)).toEqual(["a"]);
      });
    });

    it("stores a sink's state only when it remembers nothing for that group yet, and keeps the first", async () => {
      await expect(store.putSinkStateIfAbsent("storm:1", "slack", { ts: "1.000" })).resolves.toBe(true);
      await expect(store.putSinkStateIfAbsent("storm:1", "slack", { ts: "2.000" })).resolves.toBe(false);
      await expect(store.getSinkState("storm:1", "slack")).resolves.toEqual({ ts: "1.000" });
      await expect(store.putSinkStateIfAbsent("storm:1", "pagerduty", { note: "x" })).resolves.toBe(true);
      await expect(store.getSinkState("storm:1", "pagerduty")).resolves.toEqual({ note: "x" });
    });

    it("a sender renews the lease of the delivery it holds, so no other sender takes it; not once it is another's or finished", async () => {
      await completed("group-a", ["slack"]);
      const now = Date.now();
      const delivery = await store.claimDelivery("sender-a", LEASE_MS, new Date(now));
      const id = delivery?.id ?? "";

      await expect(store.renewDeliveryLease(id, "sender-a", LEASE_MS, new Date(now + LEASE_MS - 1))).resolves.toBe(true);
      // Without the renewal the lease would have run out here.
      await expect(store.claimDelivery("sender-b", LEASE_MS, new Date(now + LEASE_MS + 1))).resolves.toBeNull();
      await expect(store.renewDeliveryLease(id, "sender-b", LEASE_MS, new Date(now + LEASE_MS + 1))).resolves.toBe(false);

      const taken = await store.claimDelivery("sender-b", LEASE_MS, new Date(now + 2 * LEASE_MS));
      expect(taken).toMatchObject({ id, attempts: 2 });
      await expect(store.renewDeliveryLease(id, "sender-a", LEASE_MS, new Date(now + 2 * LEASE_MS))).resolves.toBe(false);

      await store.finishDelivery(id, { status: "delivered" });
      await expect(store.renewDeliveryLease(id, "sender-b", LEASE_MS, new Date(now + 2 * LEASE_MS))).resolves.toBe(false);
      await expect(store.renewDeliveryLease("00000000-0000-4000-8000-000000000000", "sender-b", LEASE_MS)).resolves.toBe(false);
    });

    it("a healthy store is writable", async () => {
      await expect(store.checkWritable()).resolves.toBeUndefined();
      await expect(store.checkWritable()).resolves.toBeUndefined();
    });

    /** A notification too large for the space a table already has: random text, which no database compresses. */
    function largePayload(groupKey: string): AlertmanagerPayload {
      const payload = alertPayload(groupKey);
      return { ...payload, commonAnnotations: { description: randomBytes(48 * 1024).toString("base64") } };
    }

    it.runIf(fullDisk)(
      "after a notification cannot be stored for lack of space, the store is not writable until a write that large fits again",
      async () => {
        const disk = fullDisk as FullDisk;
        const stored = await insert("group-before", new Date(), "before");
        await disk.fill(store);
        const full = { dedupKey: "large", payload: largePayload("group-large"), receivedAt: new Date(), dedupWindowMs: 5 * MINUTE };
        await expect(store.insertNotification(full)).rejects.toThrow(disk.message);

        // The heartbeat alone would still fit; the readiness check fails naming the write that did not.
        const notWritable = store.checkWritable();
        await expect(notWritable).rejects.toThrow(/storing a notification failed \d+ s ago/);
        await expect(notWritable).rejects.toThrow(disk.message);
        // A duplicate writes nothing, so it proves nothing: still not writable.
        const again = {
          dedupKey: "before",
          payload: stored.payload,
          receivedAt: new Date(),
          dedupWindowMs: 5 * MINUTE,
        };
        await expect(store.insertNotification(again)).resolves.toEqual({ id: stored.id, duplicate: true });
        await expect(store.checkWritable()).rejects.toThrow(disk.message);

        await disk.free(store);
        await expect(store.checkWritable()).resolves.toBeUndefined();
        await expect(store.insertNotification(full)).resolves.toMatchObject({ duplicate: false });
        await expect(store.checkWritable()).resolves.toBeUndefined();
      },
    );

    it.runIf(fullDisk)(
      "a diagnosis that cannot be completed for lack of space makes the store not writable until space is back",
      async () => {
        const disk = fullDisk as FullDisk;
        const { id, payload } = await insert("group-diagnosed");
        await store.claimNotification("worker-a", LEASE_MS);
        await disk.fill(store);
        const large = { ...diagnosisOf(id, payload), commonLabels: { note: randomBytes(48 * 1024).toString("base64") } };
        await expect(store.completeNotification(id, large, ["slack"])).rejects.toThrow(disk.message);
        await expect(store.checkWritable()).rejects.toThrow(/completing a diagnosis failed \d+ s ago/);

        await disk.free(store);
        await store.completeNotification(id, large, ["slack"]);
        // The completion itself shows that writes fit again.
        await expect(store.checkWritable()).resolves.toBeUndefined();
        await expect(store.getDiagnosis(id)).resolves.toEqual(large);
      },
    );
  });
}
