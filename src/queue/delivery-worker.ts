// Delivers stored diagnoses to their sinks. The retry policy lives here, once: sinks say whether a failure is worth
// retrying, and this decides when (Retry-After up to a cap, else exponential backoff with jitter) and when to give up.
// Each sink has delivery loops of its own, so a sink that hangs or keeps failing holds up only its own deliveries.
// A rate limit is not a failure: a sink paces its own requests and holds a destination that answered 429 for every
// loop (destination-pacer.ts), and a delivery that met one waits what the destination asked, without growing a backoff.
import type { Logger } from "pino";
import type { Metrics } from "../metrics.ts";
import type { Sink, StormAccess } from "../sinks/sink.ts";
import type { SinkHealth } from "../sinks/sink-health.ts";
import type { DeliverySinkFilter, Store } from "../store/store.ts";
import { createPoller, type Poller } from "./poller.ts";

export interface DeliveryWorkerOptions {
  store: Store;
  sinks: Sink[];
  metrics: Metrics;
  logger: Logger;
  workerId: string;
  leaseMs?: number;
  /** Delivery loops per sink. */
  concurrency?: number;
  pollIntervalMs?: number;
  maxAttempts?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** The longest Retry-After honoured (DELIVERY_RETRY_AFTER_MAX_SECONDS): one answer must not park a group's messages for a day. */
  maxRetryAfterMs?: number;
  /** Where each sink's last delivery state is recorded, for /readyz and the backend gauges. */
  health?: SinkHealth;
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 15 * 60_000;

/** How often deliveries left for a sink that is no longer configured are looked for (they are failed, once). */
const UNCONFIGURED_SINKS_INTERVAL_MS = 60_000;
/** How often the extra loops of a sink that asks for many in flight look for work when nothing woke them. */
const EXTRA_LOOPS_INTERVAL_MS = 5_000;

/** A storm's sink state lives beside the groups' under a key no Alertmanager group key can have (they start with "{"). */
export function stormStateKey(stormId: string): string {
  return `storm:${stormId}`;
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
  for (const name of sinks.keys()) options.health?.add(name);
  const maxAttempts = options.maxAttempts ?? 40;
  const backoff = options.backoff ?? { baseMs: 1000, maxMs: 5 * 60_000 };
  const maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  /**
   * Deliveries this process is working on. A delivery waiting on its destination's pace can outlast its lease; when
   * another loop here claims it again, the claim has renewed the lease and the first loop still finishes it.
   */
  const inFlight = new Set<string>();
  const leaseMs = options.leaseMs ?? 60_000;
  /**
   * Renews the lease while the sink works: a delivery waiting its turn in a busy Slack channel's queue can take longer
   * than a lease, and another replica must not take it meanwhile and post it a second time.
   */
  const keepLeased = (id: string) => {
    const timer = setInterval(() => {
      options.store.renewDeliveryLease(id, options.workerId, leaseMs).then(
        (renewed) => {
          if (!renewed) options.logger.warn({ delivery: id }, "a delivery in progress lost its lease: another worker may deliver it too");
        },
        (error: unknown) => options.logger.warn({ err: error, delivery: id }, "could not renew a delivery's lease"),
      );
    }, leaseMs / 3);
    timer.unref();
    return timer;
  };
  const storms = (sink: string): StormAccess => ({
    read: (id) => options.store.readStorm(id),
    getState: (id) => options.store.getSinkState(stormStateKey(id), sink),
    saveState: (id, state) => options.store.putSinkState(stormStateKey(id), sink, state),
    saveStateIfAbsent: (id, state) => options.store.putSinkStateIfAbsent(stormStateKey(id), sink, state),
  });
  const takeOne = async (filter: DeliverySinkFilter) => {
    const delivery = await options.store.claimDelivery(options.workerId, leaseMs, new Date(), filter);
    if (!delivery) return false;
    if (inFlight.has(delivery.id)) return true;
    inFlight.add(delivery.id);
    const renewal = keepLeased(delivery.id);
    try {
      await deliverOne(delivery);
    } finally {
      clearInterval(renewal);
      inFlight.delete(delivery.id);
    }
    return true;
  };
  const deliverOne = async (delivery: NonNullable<Awaited<ReturnType<Store["claimDelivery"]>>>) => {
    const log = options.logger.child({ notification: delivery.notificationId, delivery: delivery.id, sink: delivery.sink });
    const sink = sinks.get(delivery.sink);
    if (!sink) {
      await options.store.finishDelivery(delivery.id, { status: "failed", error: `sink ${delivery.sink} is no longer configured` });
      options.metrics.deliveries.inc({ sink: delivery.sink, outcome: "failed" });
      log.error("delivery dropped: its sink is no longer configured");
      return;
    }
    let outcome: Awaited<ReturnType<Sink["deliver"]>>;
    try {
      const state = await options.store.getSinkState(delivery.groupKey, delivery.sink);
      outcome = await sink.deliver(delivery.diagnosis, {
        state,
        saveState: (next) => options.store.putSinkState(delivery.groupKey, delivery.sink, next),
        storms: storms(delivery.sink),
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
      options.health?.delivered(delivery.sink);
      await options.store.finishDelivery(delivery.id, { status: "delivered" });
      log.info({ attempts: delivery.attempts, detail: outcome.detail }, "delivered");
    } else if (outcome.status === "retry") {
      let retryAfterMs = outcome.retryAfterMs;
      if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
        options.metrics.retryAfterCapped.inc({ sink: delivery.sink });
        log.warn(
          { retryAfterMs, cappedToMs: maxRetryAfterMs },
          "the sink asked to wait longer than DELIVERY_RETRY_AFTER_MAX_SECONDS; trying again after that",
        );
        retryAfterMs = maxRetryAfterMs;
      }
      const delay =
        outcome.rateLimited === true && retryAfterMs !== undefined ? retryAfterMs : retryDelayMs(delivery.attempts, backoff, retryAfterMs);
      if (outcome.rateLimited === true) options.health?.rateLimited(delivery.sink, delay);
      else options.health?.failed(delivery.sink, outcome.error);
      await options.store.finishDelivery(delivery.id, { status: "retry", error: outcome.error, notBefore: new Date(Date.now() + delay) });
      log.warn({ attempts: delivery.attempts, retryInMs: delay, error: outcome.error }, "delivery failed; will retry");
    } else {
      options.health?.failed(delivery.sink, outcome.error);
      await options.store.finishDelivery(delivery.id, { status: "failed", error: outcome.error });
      log.error({ attempts: delivery.attempts, error: outcome.error }, "delivery failed for good");
    }
  };
  const onError = (error: unknown) =>
    options.logger.error({ err: error }, "delivery worker failed; the delivery will be retried when its lease expires");
  const intervalMs = options.pollIntervalMs ?? 250;
  const loops = options.concurrency ?? 2;
  const perSink = [...sinks.values()].flatMap((sink) => {
    const take = () => takeOne({ sink: sink.name });
    const pollers = [createPoller(take, { concurrency: loops, intervalMs, onError })];
    // A sink that wants more deliveries in hand gets extra loops that, when idle, look for work only when woken by a
    // new diagnosis or now and then: dozens of loops polling every 250 ms would keep the store busy for nothing.
    const extra = (sink.concurrency ?? 0) - loops;
    if (extra > 0)
      pollers.push(createPoller(take, { concurrency: extra, intervalMs: Math.max(intervalMs, EXTRA_LOOPS_INTERVAL_MS), onError }));
    return pollers;
  });
  // Deliveries queued for a sink this configuration no longer has would otherwise wait forever: fail them.
  const unconfigured = createPoller(() => takeOne({ exceptSinks: [...sinks.keys()] }), {
    concurrency: 1,
    intervalMs: Math.max(intervalMs, UNCONFIGURED_SINKS_INTERVAL_MS),
    onError,
  });
  const all = [...perSink, unconfigured];
  return {
    start() {
      for (const poller of all) poller.start();
    },
    // A stored diagnosis brings deliveries for the configured sinks only.
    wake() {
      for (const poller of perSink) poller.wake();
    },
    async stop(stopOptions) {
      await Promise.all(all.map((poller) => poller.stop(stopOptions)));
    },
  };
}
