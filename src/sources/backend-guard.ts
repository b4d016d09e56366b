// Keeps the service polite to a backend that may already be sick (the API server, Prometheus): a cap on requests in
// flight that shrinks while the backend is slow, a pause for its Retry-After, and a circuit breaker that stops calling
// a backend that keeps failing and says so in the diagnosis.
import type { Read } from "./shared-reads.ts";
import { SourceError } from "./source.ts";

export interface BackendGuardOptions {
  /** "API server" or "Prometheus": how the diagnosis names it. */
  name: string;
  maxInFlight: number;
  /** Consecutive failures (no answer, 5xx, 429) that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before letting one through to try. */
  cooldownMs: number;
  /** Above this average latency the backend counts as slow and gets a quarter of the in-flight cap. */
  slowMs?: number;
  now?: () => number;
}

export interface BackendGuardStats {
  inFlight: number;
  /** The most requests ever in flight at once. */
  peakInFlight: number;
  consecutiveFailures: number;
  circuitOpenUntil: number;
  /** Calls refused because the circuit was open. */
  refused: number;
}

/** How a backend did lately, for /readyz and the backend gauges: read-only, from the guard's own record. */
export interface BackendState {
  state: "ok" | "unreachable" | "circuit_open";
  /** ok: the last answer; unreachable: the first failure of the run of failures; circuit_open: when it opened. */
  since?: string;
  /** circuit_open: when one call will be let through to try again. */
  until?: string;
  /** The last failure's message (no credentials: the sources never put them in a message). */
  lastError?: string;
}

export class BackendGuard {
  readonly #options: BackendGuardOptions;
  readonly stats: BackendGuardStats = { inFlight: 0, peakInFlight: 0, consecutiveFailures: 0, circuitOpenUntil: 0, refused: 0 };
  #pausedUntil = 0;
  #trialInFlight = false;
  #latencyMs = 0;
  readonly #waiting: Array<() => void> = [];
  #lastAnswerAt = 0;
  #failingSince = 0;
  #openedAt = 0;
  #lastError: string | undefined;

  constructor(options: BackendGuardOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  /** The cap now: a quarter of the configured one while the backend answers slowly. */
  get limit(): number {
    const slow = this.#latencyMs > (this.#options.slowMs ?? 2000);
    return slow ? Math.max(1, Math.floor(this.#options.maxInFlight / 4)) : this.#options.maxInFlight;
  }

  /** The backend's state now: ok until a read fails for the backend's sake; then unreachable, or circuit_open. */
  state(): BackendState {
    const iso = (ms: number) => new Date(ms).toISOString();
    const lastError = this.#lastError !== undefined ? { lastError: this.#lastError } : {};
    if (this.stats.circuitOpenUntil !== 0)
      return { state: "circuit_open", since: iso(this.#openedAt), until: iso(this.stats.circuitOpenUntil), ...lastError };
    if (this.stats.consecutiveFailures > 0) return { state: "unreachable", since: iso(this.#failingSince), ...lastError };
    return { state: "ok", ...(this.#lastAnswerAt !== 0 ? { since: iso(this.#lastAnswerAt) } : {}) };
  }

  wrap<R>(read: Read<R>): Read<R> {
    return async (request, signal) => {
      this.#checkCircuit();
      await this.#waitForPause(signal);
      await this.#acquire(signal);
      const started = this.#now();
      try {
        const output = await read(request, signal);
        this.#succeeded(this.#now() - started);
        return output;
      } catch (error) {
        this.#failed(error, signal);
        throw error;
      } finally {
        this.#release();
      }
    };
  }

  #checkCircuit(): void {
    const now = this.#now();
    if (this.stats.circuitOpenUntil === 0) return;
    // Half-open: after the cooldown one call goes through to try; the rest are still refused until it answers.
    if (now >= this.stats.circuitOpenUntil && !this.#trialInFlight) {
      this.#trialInFlight = true;
      return;
    }
    this.stats.refused++;
    const seconds = Math.max(1, Math.ceil((this.stats.circuitOpenUntil - now) / 1000));
    throw new SourceError(
      `not called: the ${this.#options.name} failed ${this.stats.consecutiveFailures} reads in a row, so alert-enricher stopped calling it for ${Math.round(this.#options.cooldownMs / 1000)} s (${seconds} s left)`,
      { backendTrouble: false },
    );
  }

  async #waitForPause(signal: AbortSignal): Promise<void> {
    const wait = this.#pausedUntil - this.#now();
    if (wait > 0) await sleep(wait, signal);
  }

  async #acquire(signal: AbortSignal): Promise<void> {
    while (this.stats.inFlight >= this.limit) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const index = this.#waiting.indexOf(wake);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(signal.reason);
        };
        const wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(wake);
      });
    }
    this.stats.inFlight++;
    this.stats.peakInFlight = Math.max(this.stats.peakInFlight, this.stats.inFlight);
  }

  #release(): void {
    this.stats.inFlight--;
    this.#waiting.shift()?.();
  }

  #succeeded(latencyMs: number): void {
    this.#latencyMs = this.#latencyMs === 0 ? latencyMs : this.#latencyMs * 0.8 + latencyMs * 0.2;
    this.stats.consecutiveFailures = 0;
    this.stats.circuitOpenUntil = 0;
    this.#trialInFlight = false;
    this.#lastAnswerAt = this.#now();
    this.#lastError = undefined;
  }

  #failed(error: unknown, signal: AbortSignal): void {
    // A read the caller gave up on (its step timed out) means the backend is slow: that counts as trouble too.
    const trouble = signal.aborted || (error instanceof SourceError && error.backendTrouble) || !(error instanceof SourceError);
    if (error instanceof SourceError && error.retryAfterMs !== undefined) {
      this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + Math.min(error.retryAfterMs, 60_000));
    }
    if (signal.aborted) this.#latencyMs = Math.max(this.#latencyMs, (this.#options.slowMs ?? 2000) + 1);
    if (!trouble) {
      this.#trialInFlight = false;
      return;
    }
    if (this.stats.consecutiveFailures === 0) this.#failingSince = this.#now();
    this.stats.consecutiveFailures++;
    this.#lastError = signal.aborted ? `no answer before the step's timeout` : error instanceof Error ? error.message : String(error);
    if (this.#trialInFlight || this.stats.consecutiveFailures >= this.#options.failureThreshold) {
      if (this.stats.circuitOpenUntil === 0) this.#openedAt = this.#now();
      this.stats.circuitOpenUntil = this.#now() + this.#options.cooldownMs;
    }
    this.#trialInFlight = false;
  }
}

/** The guards of one service by backend name ("kubernetes", "prometheus/prod-eu"), for /readyz and the metrics. */
export class BackendRegistry {
  readonly #guards = new Map<string, BackendGuard>();

  add(name: string, guard: BackendGuard): void {
    this.#guards.set(name, guard);
  }

  states(): Record<string, BackendState> {
    return Object.fromEntries([...this.#guards].map(([name, guard]) => [name, guard.state()]));
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
