// Delivers stored diagnoses to their sinks. The retry policy lives here, once: sinks say whether a failure is worth
// retrying, and this decides when (Retry-After, else exponential backoff with jitter) and when to give up.
import type { Logger } from "pino";
import type { Metrics } from "../metrics.ts";
import type { Sink } from "../sinks/sink.ts";
import type { Store } from "../store/store.ts";
import { createPoller, type Poller } from "./poller.ts";

export interface DeliveryWorkerOptions {
  store: Store;
  sinks: Sink[];
  metrics: Metrics;
  logger: Logger;
  workerId: string;
  leaseMs?: number;
  concurrency?: number;
  pollIntervalMs?: number;
  maxAttempts?: number;
  backoff?: { baseMs: number; maxMs: number };
}

export function retryDelayMs(
  attempt: number,
  backoff: { baseMs: number; maxMs: number },
  retryAfterMs?: number,
  random = Math.random,
): number {
  const exponential = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exponential * (0.8 + 0.4 * random());
  return Math.max(retryAfterMs ?? 0, Math.round(jittered));
}

export function createDeliveryWorker(options: DeliveryWorkerOptions): Poller {
  const sinks = new Map(options.sinks.map((s) => [s.name, s]));
  const maxAttempts = options.maxAttempts ?? 40;
  const backoff = options.backoff ?? { baseMs: 1000, maxMs: 5 * 60_000 };
  const takeOne = async () => {
    const delivery = await options.store.claimDelivery(options.workerId, options.leaseMs ?? 60_000);
    if (!delivery) return false;
    const log = options.logger.child({ notification: delivery.notificationId, delivery: delivery.id, sink: delivery.sink });
    const sink = sinks.get(delivery.sink);
    if (!sink) {
      await options.store.finishDelivery(delivery.id, { status: "failed", error: `sink ${delivery.sink} is no longer configured` });
      options.metrics.deliveries.inc({ sink: delivery.sink, outcome: "failed" });
      log.error("delivery dropped: its sink is no longer configured");
      return true;
    }
    let outcome: Awaited<ReturnType<Sink["deliver"]>>;
    try {
      const state = await options.store.getSinkState(delivery.groupKey, delivery.sink);
      outcome = await sink.deliver(delivery.diagnosis, {
        state,
        saveState: (next) => options.store.putSinkState(delivery.groupKey, delivery.sink, next),
      });
    } catch (error) {
      outcome = { status: "retry", error: error instanceof Error ? error.message : String(error) };
    }
    if (outcome.status === "retry" && delivery.attempts >= maxAttempts) {
      outcome = { status: "failed", error: `gave up after ${delivery.attempts} attempts: ${outcome.error}` };
    }
    options.metrics.deliveries.inc({ sink: delivery.sink, outcome: outcome.status });
    if (outcome.status !== "delivered") options.metrics.deliveryErrors.inc({ sink: delivery.sink, error: outcome.code ?? "unknown" });
    if (outcome.status === "delivered") {
      await options.store.finishDelivery(delivery.id, { status: "delivered" });
      log.info({ attempts: delivery.attempts, detail: outcome.detail }, "delivered");
    } else if (outcome.status === "retry") {
      const delay = retryDelayMs(delivery.attempts, backoff, outcome.retryAfterMs);
      await options.store.finishDelivery(delivery.id, { status: "retry", error: outcome.error, notBefore: new Date(Date.now() + delay) });
      log.warn({ attempts: delivery.attempts, retryInMs: delay, error: outcome.error }, "delivery failed; will retry");
    } else {
      await options.store.finishDelivery(delivery.id, { status: "failed", error: outcome.error });
      log.error({ attempts: delivery.attempts, error: outcome.error }, "delivery failed for good");
    }
    return true;
  };
  return createPoller(takeOne, {
    concurrency: options.concurrency ?? 2,
    intervalMs: options.pollIntervalMs ?? 250,
    onError: (error) => options.logger.error({ err: error }, "delivery worker failed; the delivery will be retried when its lease expires"),
  });
}
