// The one interface every delivery target implements. The retry policy lives in one place (queue/delivery-worker.ts);
// a sink only says whether a failure is worth retrying.
import type { Diagnosis } from "../model/diagnosis.ts";
import type { StoredStorm } from "../model/storm.ts";

/**
 * `code` names the failure for metrics: the service's own error name ("channel_not_found"), "http_503", "timeout"…
 * `rateLimited`: the destination said "too many requests" (or is held after saying so): wait `retryAfterMs`, no more.
 */
export type SinkOutcome =
  | { status: "delivered"; detail?: string }
  | { status: "retry"; error: string; code?: string; retryAfterMs?: number; rateLimited?: boolean }
  | { status: "failed"; error: string; code?: string };

/** What a sink remembers about one alert group across deliveries and restarts (a Slack message ts, a note digest). */
export interface DeliveryContext {
  state: unknown;
  /** Durable before it resolves: save right after the remote side changed, so a crash cannot make it happen twice. */
  saveState(state: unknown): Promise<void>;
  /** What the sink needs to tell a storm as one story; absent where there is no store behind the delivery. */
  storms?: StormAccess;
}

/** A storm's members as they stand now, and what the sink remembers about the storm (its Slack message, its incident). */
export interface StormAccess {
  read(id: string): Promise<StoredStorm | null>;
  getState(id: string): Promise<unknown>;
  saveState(id: string, state: unknown): Promise<void>;
  /** Saves only when nothing is saved for the storm yet; false when another delivery (or replica) saved first. */
  saveStateIfAbsent(id: string, state: unknown): Promise<boolean>;
}

export interface Sink {
  /** Stable name, used in the store, logs and metrics: "console", "slack", "pagerduty". */
  readonly name: string;
  /**
   * Deliveries of this sink in flight at once, when it needs more than the worker's default: a sink that queues its
   * requests by priority (headlines before thread details) can only order the ones it has in hand.
   */
  readonly concurrency?: number;
  deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome>;
}
