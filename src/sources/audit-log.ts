// Kubernetes audit events (audit.k8s.io/v1, one JSON object per line) from a file or URL, summarised into the tables
// the AKS API-server guide builds from its audit logs: top user agents, latency per user agent, P99 by verb and resource.
// The log is streamed: read a chunk at a time, a line at a time, each event folded into bounded tallies and dropped, so
// a query holds one chunk, one line and its tallies whatever the size of the log. It yields to the event loop as it goes.
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import axios from "axios";
import { type SourceOutput, SourceError } from "./source.ts";

export type AuditAggregate = "topUserAgents" | "latencyByUserAgent" | "p99ByVerbResource";

export interface AuditQuery {
  aggregate: AuditAggregate;
  /** Only events whose user agent starts with this, or whose user name is this. */
  userAgent?: string;
  windowMs: number;
  limit: number;
}

export interface AuditLogOptions {
  /** The most of the log read per query: the newest part of a larger file or response. */
  maxBytes?: number;
  /**
   * Distinct user agents (or verb and resource pairs) a query tallies. Past twice this many, the least busy are
   * dropped from the ranking and their requests counted together as "other".
   */
  maxKeys?: number;
  /** Lines longer than this (in characters) are skipped and counted rather than held. */
  maxLineLength?: number;
}

interface AuditEvent {
  stage?: string;
  verb?: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

/** The most of the log read per query unless the constructor says otherwise. */
export const MAX_AUDIT_BYTES = 32 * 1024 * 1024;
/** Distinct keys tallied per query unless the constructor says otherwise. */
export const MAX_AUDIT_KEYS = 500;
/** An audit line at level RequestResponse carries whole objects; past this it is skipped. */
export const MAX_AUDIT_LINE_LENGTH = 4 * 1024 * 1024;
/** The longest the event loop is kept busy by one read before it yields (so /healthz and the receiver stay responsive). */
const SLICE_MS = 20;
const CHUNK_BYTES = 64 * 1024;

/** How messages name the read: "an audit-log topUserAgents query". */
export function describeAuditQuery(request: AuditQuery): string {
  return `an audit-log ${request.aggregate} query`;
}

/** The call as a person would write it. */
export function auditRequestLine(request: AuditQuery): string {
  const filter = request.userAgent ? ` where userAgent=${JSON.stringify(request.userAgent)}` : "";
  return `audit log: ${request.aggregate}${filter} over the last ${Math.round(request.windowMs / 60_000)}m (top ${request.limit})`;
}

export class AuditLogSource {
  private readonly location: { path: string } | { url: string };
  private readonly maxBytes: number;
  private readonly maxKeys: number;
  private readonly maxLineLength: number;

  constructor(location: { path: string } | { url: string }, options: AuditLogOptions = {}) {
    this.location = location;
    this.maxBytes = Math.max(1, options.maxBytes ?? MAX_AUDIT_BYTES);
    this.maxKeys = Math.max(1, options.maxKeys ?? MAX_AUDIT_KEYS);
    this.maxLineLength = Math.max(1, options.maxLineLength ?? MAX_AUDIT_LINE_LENGTH);
  }

  async query(request: AuditQuery, signal: AbortSignal, now = new Date()): Promise<SourceOutput> {
    const since = now.getTime() - request.windowMs;
    const tally = new AuditTally(request, this.maxKeys);
    let unreadable = 0;
    const onLine = (line: string): void => {
      if (!line.trim()) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        unreadable++;
        return;
      }
      // Valid JSON that is not an event object (a bare string, number, null or array) is just as unreadable.
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        unreadable++;
        return;
      }
      const event = parsed as AuditEvent;
      // One request is logged at several stages; the completed stage carries the latency.
      if (event.stage !== "ResponseComplete" && event.stage !== "Panic") return;
      const received = Date.parse(event.requestReceivedTimestamp ?? "");
      if (!(received >= since)) return;
      if (request.userAgent && !(event.userAgent?.startsWith(request.userAgent) || event.user?.username === request.userAgent)) return;
      tally.add(event);
    };
    const { truncated, tooLong } = await this.scan(onLine, signal);
    const rows = tally.rows();
    const notes = [
      unreadable > 0 ? `${unreadable} unreadable lines skipped` : "",
      tooLong > 0 ? `${tooLong} lines longer than ${formatBytes(this.maxLineLength)} skipped` : "",
      tally.otherRequests > 0 ? `${tally.otherRequests} requests of less busy ${tally.keyName} counted only as other` : "",
      truncated ? `only the newest ${formatBytes(this.maxBytes)} of the log read` : "",
    ].filter(Boolean);
    return {
      data: {
        rows,
        count: rows.length,
        events: tally.events,
        unreadable,
        truncated,
        ...(tally.otherRequests > 0 ? { otherRequests: tally.otherRequests } : {}),
        ...(tooLong > 0 ? { tooLong } : {}),
      },
      request: auditRequestLine(request),
      summary: `${tally.events} requests in the window, ${rows.length} rows${notes.length ? ` (${notes.join("; ")})` : ""}`,
    };
  }

  /** Feeds every whole line of the newest `maxBytes` of the log to `onLine`, a chunk at a time. */
  private async scan(onLine: (line: string) => void, signal: AbortSignal): Promise<{ truncated: boolean; tooLong: number }> {
    return "url" in this.location ? this.scanUrl(this.location.url, onLine, signal) : this.scanFile(this.location.path, onLine, signal);
  }

  private async scanFile(
    path: string,
    onLine: (line: string) => void,
    signal: AbortSignal,
  ): Promise<{ truncated: boolean; tooLong: number }> {
    let file: FileHandle;
    try {
      file = await open(path, "r");
    } catch (error) {
      throw new SourceError(
        `the audit log ${path} could not be opened: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    try {
      const { size } = await file.stat();
      if (size === 0) return { truncated: false, tooLong: 0 };
      // One byte more than the cap, from before the cut: when it is a newline the first line read is whole.
      const start = Math.max(0, size - this.maxBytes - 1);
      const lines = new LineSplitter(onLine, this.maxLineLength, start > 0);
      // Up to the size seen now: a log still being written is not chased past the cap.
      const stream = file.createReadStream({ start, end: size - 1, highWaterMark: CHUNK_BYTES, autoClose: false });
      await pump(stream, lines, signal);
      return { truncated: start > 0, tooLong: lines.tooLong };
    } finally {
      await file.close();
    }
  }

  private async scanUrl(
    url: string,
    onLine: (line: string) => void,
    signal: AbortSignal,
  ): Promise<{ truncated: boolean; tooLong: number }> {
    const keep = this.maxBytes + 1;
    let body: Readable | undefined;
    try {
      // Ask for the tail only, uncompressed so that lengths are bytes of the log.
      const response = await axios.get<Readable>(url, {
        signal,
        responseType: "stream",
        headers: { Range: `bytes=-${keep}`, "Accept-Encoding": "identity" },
        validateStatus: () => true,
      });
      body = response.data;
      if (response.status === 416) {
        body.destroy();
        return { truncated: false, tooLong: 0 }; // an empty log has no tail to serve
      }
      if (response.status >= 400) {
        body.destroy();
        throw new SourceError(`the audit log URL answered ${response.status}`, { backendTrouble: response.status >= 500 });
      }
      // A 206 says where its bytes start. A server that ignores Range answers 200 with everything: with a length, the
      // bytes before the tail are skipped as they stream past; without one (chunked) the tail cannot be found, so the
      // whole log is read, still in bounded memory and only the window's events counted.
      const range = /^bytes (\d+)-/.exec(String(response.headers["content-range"] ?? ""));
      const length = Number(response.headers["content-length"] ?? Number.NaN);
      let skip = 0;
      let truncated = false;
      if (response.status === 206) truncated = range !== null && Number(range[1]) > 0;
      else if (Number.isFinite(length) && length > keep) {
        skip = length - keep;
        truncated = true;
      }
      const lines = new LineSplitter(onLine, this.maxLineLength, truncated);
      await pump(body, lines, signal, skip);
      return { truncated, tooLong: lines.tooLong };
    } catch (error) {
      body?.destroy();
      if (signal.aborted || error instanceof SourceError) throw error;
      throw new SourceError(`the audit log at ${new URL(url).host} could not be read: ${(error as Error).message}`, {
        backendTrouble: true,
      });
    }
  }
}

/** Reads `stream` into `lines`, dropping the first `skip` bytes, and yields to the event loop every SLICE_MS of work. */
async function pump(stream: Readable, lines: LineSplitter, signal: AbortSignal, skip = 0): Promise<void> {
  let sliceStarted = performance.now();
  let left = skip;
  const onAbort = () => stream.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    if (signal.aborted) throw signal.reason;
    for await (const chunk of stream) {
      let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      if (left > 0) {
        const dropped = Math.min(left, bytes.length);
        left -= dropped;
        bytes = bytes.subarray(dropped);
      }
      if (bytes.length > 0) lines.push(bytes);
      // Chunks already buffered are handed over without a turn of the event loop: give it one now and then.
      if (performance.now() - sliceStarted > SLICE_MS) {
        await nextTurn();
        if (signal.aborted) throw signal.reason;
        sliceStarted = performance.now();
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    stream.destroy();
  }
  lines.end();
}

/**
 * Splits bytes into lines, holding only the line in progress. `skipFirst`: the bytes start mid-log, one byte before
 * the newest `maxBytes`, so everything up to the first newline is a partial line (or just that newline) and is dropped.
 */
class LineSplitter {
  readonly #decoder = new StringDecoder("utf8");
  readonly #onLine: (line: string) => void;
  readonly #maxLength: number;
  #partial = "";
  /** Dropping the rest of a line: the partial first one, or one grown past the cap. */
  #skipping: boolean;
  tooLong = 0;

  constructor(onLine: (line: string) => void, maxLength: number, skipFirst: boolean) {
    this.#onLine = onLine;
    this.#maxLength = maxLength;
    this.#skipping = skipFirst;
  }

  push(bytes: Buffer): void {
    const text = this.#decoder.write(bytes);
    let start = 0;
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
      if (this.#skipping) this.#skipping = false;
      else this.#onLine(this.#partial + text.slice(start, newline));
      this.#partial = "";
      start = newline + 1;
    }
    if (this.#skipping) return;
    if (this.#partial.length + text.length - start > this.#maxLength) {
      this.#partial = "";
      this.#skipping = true;
      this.tooLong++;
      return;
    }
    this.#partial += text.slice(start);
  }

  end(): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = "";
    if (!this.#skipping && rest !== "") this.#onLine(rest);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bounded tallies.

interface AgentStats {
  count: number;
  latencySum: number;
  latencyCount: number;
  /** The user names it acted as, to name the identity a FlowSchema subject needs (a few kept). */
  users: Map<string, number>;
}

interface CallStats {
  count: number;
  latencies: LatencyHistogram;
}

/** Per key, for at most 2 × cap keys: past that the least busy half is folded into `otherRequests`. */
class BoundedTally<S extends { count: number }> {
  readonly #entries = new Map<string, S>();
  readonly #cap: number;
  readonly #create: () => S;
  otherRequests = 0;

  constructor(cap: number, create: () => S) {
    this.#cap = cap;
    this.#create = create;
  }

  get(key: string): S {
    let stats = this.#entries.get(key);
    if (stats === undefined) {
      if (this.#entries.size >= this.#cap * 2) this.#compact();
      stats = this.#create();
      this.#entries.set(key, stats);
    }
    return stats;
  }

  /** Keeps the `cap` busiest keys (a client busy enough to matter survives every compaction), in first-seen order. */
  #compact(): void {
    const ranked = [...this.#entries].sort((a, b) => b[1].count - a[1].count);
    for (const [key, stats] of ranked.slice(this.#cap)) {
      this.#entries.delete(key);
      this.otherRequests += stats.count;
    }
  }

  entries(): IterableIterator<[string, S]> {
    return this.#entries.entries();
  }
}

const USERS_PER_AGENT = 4;

function countUser(users: Map<string, number>, name: string): void {
  const n = users.get(name);
  if (n !== undefined) {
    users.set(name, n + 1);
    return;
  }
  if (users.size >= USERS_PER_AGENT * 2) {
    const ranked = [...users].sort((a, b) => b[1] - a[1]);
    for (const [key] of ranked.slice(USERS_PER_AGENT)) users.delete(key);
  }
  users.set(name, 1);
}

/** The user name most of these requests were made as (the first seen, on a tie). */
function mainUser(users: Map<string, number>): string {
  let best = "";
  let most = 0;
  for (const [name, n] of users) {
    if (n > most) {
      best = name;
      most = n;
    }
  }
  return best;
}

/**
 * Latencies in fixed buckets, for a percentile without keeping every value: exact below one second, to three
 * significant digits above (within 0.5 %), up to 27 hours (longer ones count as 27 hours). 22 KB per verb and resource.
 */
class LatencyHistogram {
  static readonly #BUCKETS = 1000 + 5 * 900;
  readonly #counts = new Uint32Array(LatencyHistogram.#BUCKETS);
  #n = 0;

  add(ms: number): void {
    const bucket = LatencyHistogram.#bucket(ms);
    this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1;
    this.#n++;
  }

  static #bucket(ms: number): number {
    const v = Math.max(0, Math.round(ms));
    if (v < 1000) return v;
    let exponent = Math.floor(Math.log10(v));
    let mantissa = Math.round(v / 10 ** (exponent - 2));
    if (mantissa >= 1000) {
      exponent++;
      mantissa = 100;
    }
    return Math.min(LatencyHistogram.#BUCKETS - 1, 1000 + (exponent - 3) * 900 + (mantissa - 100));
  }

  static #value(bucket: number): number {
    if (bucket < 1000) return bucket;
    const k = bucket - 1000;
    return (100 + (k % 900)) * 10 ** (3 + Math.floor(k / 900) - 2);
  }

  /** The nearest-rank percentile. */
  percentile(p: number): number {
    if (this.#n === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#n));
    let seen = 0;
    for (let bucket = 0; bucket < this.#counts.length; bucket++) {
      seen += this.#counts[bucket] ?? 0;
      if (seen >= rank) return LatencyHistogram.#value(bucket);
    }
    return 0;
  }
}

function latencyMs(event: AuditEvent): number | undefined {
  const start = Date.parse(event.requestReceivedTimestamp ?? "");
  const end = Date.parse(event.stageTimestamp ?? "");
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}

function agentOf(event: AuditEvent): string {
  return event.userAgent || event.user?.username || "(unknown)";
}

/** One query's aggregate, folded event by event. */
class AuditTally {
  readonly #request: AuditQuery;
  readonly #agents: BoundedTally<AgentStats>;
  readonly #calls: BoundedTally<CallStats>;
  events = 0;

  constructor(request: AuditQuery, maxKeys: number) {
    this.#request = request;
    this.#agents = new BoundedTally(maxKeys, () => ({ count: 0, latencySum: 0, latencyCount: 0, users: new Map() }));
    this.#calls = new BoundedTally(maxKeys, () => ({ count: 0, latencies: new LatencyHistogram() }));
  }

  get keyName(): string {
    return this.#request.aggregate === "p99ByVerbResource" ? "verbs and resources" : "user agents";
  }

  get otherRequests(): number {
    return this.#request.aggregate === "p99ByVerbResource" ? this.#calls.otherRequests : this.#agents.otherRequests;
  }

  add(event: AuditEvent): void {
    this.events++;
    const latency = latencyMs(event);
    if (this.#request.aggregate === "p99ByVerbResource") {
      const resource = event.objectRef?.resource;
      if (!resource) return;
      const stats = this.#calls.get(`${event.verb ?? ""} ${resource}`);
      stats.count++;
      if (latency !== undefined) stats.latencies.add(latency);
      return;
    }
    const stats = this.#agents.get(agentOf(event));
    stats.count++;
    if (latency !== undefined) {
      stats.latencySum += latency;
      stats.latencyCount++;
    }
    const name = event.user?.username;
    if (name) countUser(stats.users, name);
  }

  rows(): Array<Record<string, string | number>> {
    const { aggregate, limit } = this.#request;
    switch (aggregate) {
      case "topUserAgents":
        return [...this.#agents.entries()]
          .map(([userAgent, s]) => ({ userAgent, user: mainUser(s.users), count: s.count }))
          .sort((a, b) => b.count - a.count)
          .slice(0, limit);
      case "latencyByUserAgent":
        return [...this.#agents.entries()]
          .map(([userAgent, s]) => ({
            userAgent,
            user: mainUser(s.users),
            avgMs: s.latencyCount ? Math.round(s.latencySum / s.latencyCount) : 0,
            count: s.count,
          }))
          .sort((a, b) => b.avgMs - a.avgMs)
          .slice(0, limit);
      case "p99ByVerbResource":
        return [...this.#calls.entries()]
          .map(([key, s]) => {
            const [verb = "", resource = ""] = key.split(" ");
            return { verb, resource, p99Ms: s.latencies.percentile(99), count: s.count };
          })
          .sort((a, b) => b.p99Ms - a.p99Ms)
          .slice(0, limit);
    }
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}
