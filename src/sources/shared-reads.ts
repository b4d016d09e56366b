// One read, many alerts: identical reads issued by concurrent playbooks are made once and shared, and a completed
// read is reused for a short time. An alert storm then costs the backend about as many requests as distinct reads.
import type { SourceOutput } from "./source.ts";

export type Read<R> = (request: R, signal: AbortSignal) => Promise<SourceOutput>;

export interface SharedReadsOptions {
  /** How long a completed read is reused. 0 shares only reads in flight at the same moment. */
  ttlMs: number;
  /** The most completed reads kept; the oldest go first. Bounds memory whatever the number of alerts. */
  maxEntries: number;
  now?: () => number;
}

interface InFlight {
  promise: Promise<SourceOutput>;
  controller: AbortController;
  waiters: number;
}

export interface SharedReadsStats {
  /** Reads that went to the backend. */
  made: number;
  /** Reads answered by one in flight or one kept. */
  shared: number;
}

export class SharedReads<R> {
  readonly #read: Read<R>;
  readonly #key: (request: R) => string;
  readonly #options: SharedReadsOptions;
  readonly #inFlight = new Map<string, InFlight>();
  /** Insertion-ordered, so the first key is the oldest: a simple bounded cache. */
  readonly #completed = new Map<string, { at: number; output: SourceOutput }>();
  readonly stats: SharedReadsStats = { made: 0, shared: 0 };

  constructor(read: Read<R>, key: (request: R) => string, options: SharedReadsOptions) {
    this.#read = read;
    this.#key = key;
    this.#options = options;
  }

  read: Read<R> = async (request, signal) => {
    const now = this.#options.now?.() ?? Date.now();
    const key = this.#key(request);
    const kept = this.#completed.get(key);
    if (kept && now - kept.at <= this.#options.ttlMs) {
      this.stats.shared++;
      return kept.output;
    }
    if (kept) this.#completed.delete(key);

    let flight = this.#inFlight.get(key);
    if (flight) this.stats.shared++;
    else flight = this.#start(key, request);
    return this.#wait(flight, signal);
  };

  #start(key: string, request: R): InFlight {
    this.stats.made++;
    // The backend read belongs to no single caller: it is cancelled only when every caller waiting for it gave up.
    const controller = new AbortController();
    const flight: InFlight = { controller, waiters: 0, promise: this.#read(request, controller.signal) };
    this.#inFlight.set(key, flight);
    flight.promise.then(
      (output) => {
        this.#inFlight.delete(key);
        if (this.#options.ttlMs > 0) this.#keep(key, output);
      },
      () => this.#inFlight.delete(key),
    );
    return flight;
  }

  #keep(key: string, output: SourceOutput): void {
    this.#completed.set(key, { at: this.#options.now?.() ?? Date.now(), output });
    while (this.#completed.size > this.#options.maxEntries) {
      const oldest = this.#completed.keys().next().value;
      if (oldest === undefined) break;
      this.#completed.delete(oldest);
    }
  }

  #wait(flight: InFlight, signal: AbortSignal): Promise<SourceOutput> {
    if (signal.aborted) return Promise.reject(signal.reason);
    flight.waiters++;
    return new Promise<SourceOutput>((resolve, reject) => {
      const leave = () => {
        signal.removeEventListener("abort", onAbort);
        flight.waiters--;
      };
      const onAbort = () => {
        leave();
        if (flight.waiters === 0) flight.controller.abort(signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (output) => {
          leave();
          resolve(output);
        },
        (error: unknown) => {
          leave();
          reject(error);
        },
      );
    });
  }
}

/** A stable key for a request object: the same fields in any order give the same key. */
export function requestKey(kind: string, request: object): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => [k, sorted(v)]),
      );
    }
    return value;
  };
  return `${kind}:${JSON.stringify(sorted(request))}`;
}
