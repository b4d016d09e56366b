// One read, many alerts: identical reads issued by concurrent playbooks are made once and shared, and a completed
// read is reused for a short time. An alert storm then costs the backend about as many requests as distinct reads.
// What is kept is bounded three ways: by age (a timer lets expired results go even when nobody reads them again), by
// count, and by an approximate size in bytes that the caches of all backends share.
import type { SourceOutput } from "./source.ts";

export type Read<R> = (request: R, signal: AbortSignal) => Promise<SourceOutput>;

export interface SharedReadsOptions {
  /** How long a completed read is reused. 0 shares only reads in flight at the same moment. */
  ttlMs: number;
  /** The most completed reads kept; the oldest go first. Bounds memory whatever the number of alerts. */
  maxEntries: number;
  /** The bytes kept results may take, shared with other caches; unbounded when absent. */
  budget?: ReadCacheBudget;
  now?: () => number;
}

interface InFlight {
  promise: Promise<SourceOutput>;
  controller: AbortController;
  waiters: number;
}

interface Kept {
  at: number;
  bytes: number;
  output: SourceOutput;
}

export interface SharedReadsStats {
  /** Reads that went to the backend. */
  made: number;
  /** Reads answered by one in flight or one kept. */
  shared: number;
}

/** What a cache can give up to make room: the age of its oldest result, and that result. */
interface BudgetMember {
  oldestAt(): number | undefined;
  dropOldest(): void;
}

/**
 * The bytes the kept results of several caches may take together (READ_CACHE_MAX_BYTES). A result's size is the length
 * of its JSON: an approximation (the objects in memory take a few times that), but one that grows with what is kept.
 * When a new result does not fit, the oldest results of all caches go first.
 */
export class ReadCacheBudget {
  readonly maxBytes: number;
  #used = 0;
  readonly #members = new Set<BudgetMember>();

  constructor(maxBytes: number) {
    this.maxBytes = Math.max(0, maxBytes);
  }

  get used(): number {
    return this.#used;
  }

  join(member: BudgetMember): void {
    this.#members.add(member);
  }

  /** Counts `bytes` in, or refuses them (false) when they could never fit. */
  take(bytes: number): boolean {
    if (bytes > this.maxBytes) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }

  /** Drops the oldest results of all member caches until what is kept fits. */
  reclaim(): void {
    while (this.#used > this.maxBytes) {
      let oldest: BudgetMember | undefined;
      let oldestAt = Number.POSITIVE_INFINITY;
      for (const member of this.#members) {
        const at = member.oldestAt();
        if (at !== undefined && at < oldestAt) {
          oldest = member;
          oldestAt = at;
        }
      }
      if (oldest === undefined) return;
      oldest.dropOldest();
    }
  }
}

/** The approximate size of an output in memory: the length of its JSON. */
export function outputBytes(output: SourceOutput): number {
  try {
    return JSON.stringify(output).length;
  } catch {
    return Number.POSITIVE_INFINITY; // a cycle or a BigInt: never kept
  }
}

export class SharedReads<R> {
  readonly #read: Read<R>;
  readonly #key: (request: R) => string;
  readonly #options: SharedReadsOptions;
  readonly #budget: ReadCacheBudget;
  readonly #inFlight = new Map<string, InFlight>();
  /** Insertion-ordered, so the first key is the oldest: a simple bounded cache. */
  readonly #completed = new Map<string, Kept>();
  #bytes = 0;
  /** Lets expired results go without waiting for a read of the same key; runs only while something is kept. */
  #sweeper: ReturnType<typeof setInterval> | undefined;
  readonly stats: SharedReadsStats = { made: 0, shared: 0 };

  constructor(read: Read<R>, key: (request: R) => string, options: SharedReadsOptions) {
    this.#read = read;
    this.#key = key;
    this.#options = options;
    this.#budget = options.budget ?? new ReadCacheBudget(Number.POSITIVE_INFINITY);
    this.#budget.join({ oldestAt: () => this.#completed.values().next().value?.at, dropOldest: () => this.#dropOldest() });
  }

  /** Completed reads kept now. */
  get size(): number {
    return this.#completed.size;
  }

  /** Their approximate size (JSON length). */
  get bytes(): number {
    return this.#bytes;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  read: Read<R> = async (request, signal) => {
    const now = this.#now();
    const key = this.#key(request);
    const kept = this.#completed.get(key);
    if (kept && now - kept.at <= this.#options.ttlMs) {
      this.stats.shared++;
      return kept.output;
    }
    if (kept) this.#drop(key, kept);

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
    const previous = this.#completed.get(key);
    if (previous) this.#drop(key, previous);
    const bytes = outputBytes(output);
    // A result bigger than the whole budget is shared with the reads in flight but never kept.
    if (!this.#budget.take(bytes)) return;
    this.#completed.set(key, { at: this.#now(), bytes, output });
    this.#bytes += bytes;
    while (this.#completed.size > this.#options.maxEntries) this.#dropOldest();
    this.#budget.reclaim();
    if (this.#completed.size > 0) this.#startSweeping();
  }

  #drop(key: string, kept: Kept): void {
    if (!this.#completed.delete(key)) return;
    this.#bytes -= kept.bytes;
    this.#budget.give(kept.bytes);
    if (this.#completed.size === 0) this.#stopSweeping();
  }

  #dropOldest(): void {
    const oldest = this.#completed.entries().next().value;
    if (oldest !== undefined) this.#drop(oldest[0], oldest[1]);
  }

  /** Drops every result past its time. Results are kept in the order they completed, so the expired ones come first. */
  #sweep(): void {
    const now = this.#now();
    for (const [key, kept] of this.#completed) {
      if (now - kept.at <= this.#options.ttlMs) break;
      this.#drop(key, kept);
    }
  }

  #startSweeping(): void {
    if (this.#sweeper !== undefined) return;
    // Every half TTL, so a result outlives its time by at most half of it. Never keeps the process alive: a service
    // that is stopping need not wait for the cache to empty.
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1000, Math.ceil(this.#options.ttlMs / 2)));
    this.#sweeper.unref?.();
  }

  #stopSweeping(): void {
    if (this.#sweeper === undefined) return;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
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
