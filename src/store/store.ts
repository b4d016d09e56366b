// The durable inbox and outbox. One interface, two implementations: sqlite.ts (embedded, one replica) and postgres.ts
// (several replicas share it). Every method is async so that a networked store fits the same shape.
import type { AlertmanagerPayload } from "../model/alertmanager.ts";
import type { Diagnosis, GroupVerdict } from "../model/diagnosis.ts";
import type { StoredStorm } from "../model/storm.ts";

export interface StoredNotification {
  id: string;
  dedupKey: string;
  payload: AlertmanagerPayload;
  receivedAt: string;
  /** How many times a worker has taken it (1 on the first run). */
  attempts: number;
}

export interface StoredDelivery {
  id: string;
  notificationId: string;
  groupKey: string;
  sink: string;
  diagnosis: Diagnosis;
  attempts: number;
}

export interface InsertResult {
  id: string;
  /** True when the same notification (same dedup key) was already stored within the dedup window: nothing new was stored. */
  duplicate: boolean;
}

export type DeliveryResult =
  { status: "delivered" } | { status: "retry"; error: string; notBefore: Date } | { status: "failed"; error: string };

/**
 * Which deliveries a claim may take: those of one sink (each sink has its own delivery loops, so a sink that hangs
 * holds up only its own deliveries), or those of every sink not named (deliveries left for a sink no longer configured).
 */
export type DeliverySinkFilter = { sink: string } | { exceptSinks: string[] };

/** A finished notification and its diagnosis, for the report list. */
export interface ListedDiagnosis {
  id: string;
  receivedAt: string;
  diagnosis: Diagnosis;
}

/** A firing alert group received recently in one cluster: what a storm is counted from. */
export interface RecentGroup {
  groupKey: string;
  /** Its first firing notification within the window. */
  firstReceivedAt: string;
  /** The one-line verdict of its latest diagnosed firing notification within the window; null while none is diagnosed. */
  verdict: GroupVerdict | null;
}

export interface QueueDepth {
  notifications: number;
  deliveries: number;
}

export interface Store {
  /** Creates or upgrades the schema. Safe to call on every start. */
  migrate(): Promise<void>;
  /**
   * Stores a received notification durably (fsync'd per the store's durability) before returning, unless one with the
   * same dedup key was received less than `dedupWindowMs` before or after `receivedAt`: then nothing is stored.
   */
  insertNotification(input: {
    dedupKey: string;
    payload: AlertmanagerPayload;
    receivedAt: Date;
    dedupWindowMs: number;
    /** The value of the cluster label its alerts share; "" (the default) when they carry none. */
    cluster?: string;
  }): Promise<InsertResult>;
  /** Takes the oldest pending notification, or one whose lease expired, and leases it to `worker` for `leaseMs`. */
  claimNotification(worker: string, leaseMs: number, now?: Date): Promise<StoredNotification | null>;
  /**
   * Atomically: stores the diagnosis, marks the notification done, and enqueues one delivery per sink.
   * Does nothing when the notification is already done (a worker finishing after its lease expired), so it is delivered once.
   */
  completeNotification(id: string, diagnosis: Diagnosis, sinks: string[]): Promise<void>;
  /**
   * Takes the oldest due delivery, or one whose lease expired, of the sinks `filter` allows (every sink without one).
   * Deliveries of one alert group go to each sink in order, one at a time: a delivery waits while an earlier one of the
   * same group and sink is pending or running.
   */
  claimDelivery(worker: string, leaseMs: number, now?: Date, filter?: DeliverySinkFilter): Promise<StoredDelivery | null>;
  /** Records a send attempt. Delivered is final; a retry or failure reported for a delivery that is no longer running is ignored. */
  finishDelivery(id: string, result: DeliveryResult): Promise<void>;
  getDiagnosis(notificationId: string): Promise<Diagnosis | null>;
  /**
   * The distinct alert groups with a firing notification for `cluster` received in the `windowMs` up to and including
   * `until`, oldest first, each with its latest stored verdict.
   */
  recentFiringGroups(query: { cluster: string; until: Date; windowMs: number }): Promise<RecentGroup[]>;
  /**
   * Adds `groups` to the open storm of `cluster` (one whose lastSeenAt is within `windowMs` before `at`), opening one
   * when there is none, and returns its id. Atomic across replicas: two that join at once join the same storm.
   * A storm's lastSeenAt only moves forward; a group already a member keeps its firstReceivedAt.
   */
  joinStorm(input: {
    cluster: string;
    groups: { groupKey: string; firstReceivedAt: Date }[];
    at: Date;
    windowMs: number;
  }): Promise<{ id: string; openedAt: string }>;
  /** The storm and its members with their latest verdicts, or null when there is no such storm (or it was pruned). */
  readStorm(id: string): Promise<StoredStorm | null>;
  /** Done notifications received at or after `since`, newest first, at most `limit`. */
  listDiagnoses(query: { since: Date; limit: number }): Promise<ListedDiagnosis[]>;
  /**
   * Deletes done notifications received before `date`, with their deliveries; one with a delivery still pending or
   * running is kept until that delivery finishes; storms last seen before `date` go too. Returns how many
   * notifications were deleted.
   */
  pruneBefore(date: Date): Promise<number>;
  /** What `sink` remembered about an alert group (a message ts, a note digest), or null. */
  getSinkState(groupKey: string, sink: string): Promise<unknown>;
  /** Replaces what `sink` remembers about an alert group; durable before it returns. */
  putSinkState(groupKey: string, sink: string, state: unknown): Promise<void>;
  /**
   * Stores `state` only when `sink` remembers nothing about `groupKey` yet; true when it did. Two replicas that both
   * posted a storm's Slack message learn which one stays.
   */
  putSinkStateIfAbsent(groupKey: string, sink: string, state: unknown): Promise<boolean>;
  /**
   * Extends the lease of a running delivery `worker` holds to `leaseMs` from now; false when it is no longer the
   * worker's (finished, or its lease expired and another worker took it). A delivery waiting its turn in a busy Slack
   * channel's queue keeps its lease this way instead of being taken a second time.
   */
  renewDeliveryLease(id: string, worker: string, leaseMs: number, now?: Date): Promise<boolean>;
  queueDepth(): Promise<QueueDepth>;
  /** Throws when the store cannot take a write right now (readiness). */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}
