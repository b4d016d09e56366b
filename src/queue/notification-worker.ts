// Takes stored notifications, diagnoses them, and hands the diagnosis to the outbox, one delivery per sink.
// A notification taken but not finished (the process died) is taken again once its lease expires.
import type { Logger } from "pino";
import type { Diagnosis } from "../model/diagnosis.ts";
import type { Store, StoredNotification } from "../store/store.ts";
import { createPoller, type Poller } from "./poller.ts";
import { lookUpStorm, type StormSettings } from "./storm-lookup.ts";

export interface NotificationWorkerOptions {
  store: Store;
  /** plainOnly: the notification failed too often; format it without running playbooks so it is never dropped. */
  diagnose: (notification: StoredNotification, plainOnly: boolean) => Promise<Diagnosis>;
  sinks: string[];
  logger: Logger;
  workerId: string;
  leaseMs: number;
  concurrency: number;
  pollIntervalMs?: number;
  /** After this many takes, the playbooks are skipped (a poison notification must not block the queue forever). */
  maxAttempts?: number;
  onCompleted?: (diagnosis: Diagnosis) => void;
  /** When set, a diagnosis made during a storm of its cluster says so (README, "Storms"). */
  storm?: StormSettings;
}

export function createNotificationWorker(options: NotificationWorkerOptions): Poller {
  const maxAttempts = options.maxAttempts ?? 3;
  const takeOne = async () => {
    const notification = await options.store.claimNotification(options.workerId, options.leaseMs);
    if (!notification) return false;
    const log = options.logger.child({ notification: notification.id, groupKey: notification.payload.groupKey });
    const plainOnly = notification.attempts > maxAttempts;
    if (plainOnly) log.warn({ attempts: notification.attempts }, "notification failed too often: delivering it without playbooks");
    const diagnosis = await options.diagnose(notification, plainOnly);
    if (options.storm !== undefined) {
      const settings = options.storm;
      // The storm line adds context; a store that cannot answer now must not hold up the diagnosis itself.
      const storm = await lookUpStorm(options.store, settings, notification, diagnosis).catch((error: unknown) => {
        log.warn({ err: error }, "could not count the alert groups of a storm: delivering without the storm line");
        return undefined;
      });
      if (storm !== undefined) diagnosis.storm = storm;
    }
    await options.store.completeNotification(notification.id, diagnosis, options.sinks);
    log.info({ alerts: diagnosis.alerts.length, partial: diagnosis.alerts.some((a) => a.partial) }, "diagnosis ready");
    options.onCompleted?.(diagnosis);
    return true;
  };
  return createPoller(takeOne, {
    concurrency: options.concurrency,
    intervalMs: options.pollIntervalMs ?? 500,
    onError: (error) =>
      options.logger.error({ err: error }, "notification worker failed; the notification will be retried when its lease expires"),
  });
}
