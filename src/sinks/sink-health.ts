// Each sink's last delivery state, for /readyz and enricher_backend_up: recorded by the delivery worker as outcomes
// come in, kept in memory (per process), never touching the store.

/**
 * idle: nothing delivered or tried yet. ok: the last attempt delivered. failing: the attempts since `since` (the first
 * failure of the current run) all failed. rate_limited: the destination answered 429 and is held until `until`.
 */
export type SinkHealthState =
  | { state: "idle" }
  | { state: "ok"; lastDeliveredAt: string }
  | { state: "failing"; since: string; lastError: string; attempts: number; lastDeliveredAt?: string }
  | { state: "rate_limited"; until: string; lastDeliveredAt?: string };

interface SinkRecord {
  lastDeliveredAt?: number;
  failingSince?: number;
  failedAttempts: number;
  lastError?: string;
  heldUntil: number;
}

export class SinkHealth {
  readonly #sinks = new Map<string, SinkRecord>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A configured sink: shown as idle until its first delivery. */
  add(sink: string): void {
    if (!this.#sinks.has(sink)) this.#sinks.set(sink, { failedAttempts: 0, heldUntil: 0 });
  }

  delivered(sink: string): void {
    const record = this.#record(sink);
    record.lastDeliveredAt = this.#now();
    record.failingSince = undefined;
    record.failedAttempts = 0;
    record.lastError = undefined;
    // A delivery got through, so the destination no longer holds the sink.
    record.heldUntil = 0;
  }

  /** `error` is the outcome's error, which the sinks keep free of tokens and webhook URLs. */
  failed(sink: string, error: string): void {
    const record = this.#record(sink);
    if (record.failedAttempts === 0) record.failingSince = this.#now();
    record.failedAttempts++;
    record.lastError = error;
  }

  /** A 429 is not a failure: the sink waits what the destination asked, and shows as rate_limited meanwhile. */
  rateLimited(sink: string, retryAfterMs: number): void {
    const record = this.#record(sink);
    record.heldUntil = Math.max(record.heldUntil, this.#now() + retryAfterMs);
  }

  states(): Record<string, SinkHealthState> {
    return Object.fromEntries([...this.#sinks].map(([sink, record]) => [sink, this.#state(record)]));
  }

  #state(record: SinkRecord): SinkHealthState {
    const iso = (ms: number) => new Date(ms).toISOString();
    const lastDelivered = record.lastDeliveredAt !== undefined ? { lastDeliveredAt: iso(record.lastDeliveredAt) } : {};
    if (record.heldUntil > this.#now()) return { state: "rate_limited", until: iso(record.heldUntil), ...lastDelivered };
    if (record.failedAttempts > 0)
      return {
        state: "failing",
        since: iso(record.failingSince ?? 0),
        lastError: record.lastError ?? "",
        attempts: record.failedAttempts,
        ...lastDelivered,
      };
    if (record.lastDeliveredAt !== undefined) return { state: "ok", lastDeliveredAt: iso(record.lastDeliveredAt) };
    return { state: "idle" };
  }

  #record(sink: string): SinkRecord {
    this.add(sink);
    return this.#sinks.get(sink) as SinkRecord;
  }
}
