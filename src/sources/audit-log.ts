// Kubernetes audit events (audit.k8s.io/v1, one JSON object per line) from a file or URL, summarised into the tables
// the AKS API-server guide builds from its audit logs: top user agents, latency per user agent, P99 by verb and resource.
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
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

export class AuditLogSource {
  private readonly location: { path: string } | { url: string };
  private readonly maxBytes: number;

  constructor(location: { path: string } | { url: string }, options: AuditLogOptions = {}) {
    this.location = location;
    this.maxBytes = Math.max(1, options.maxBytes ?? MAX_AUDIT_BYTES);
  }

  static describe(request: AuditQuery): string {
    return `an audit-log ${request.aggregate} query`;
  }

  static requestLine(request: AuditQuery): string {
    const filter = request.userAgent ? ` where userAgent=${JSON.stringify(request.userAgent)}` : "";
    return `audit log: ${request.aggregate}${filter} over the last ${Math.round(request.windowMs / 60_000)}m (top ${request.limit})`;
  }

  async query(request: AuditQuery, signal: AbortSignal, now = new Date()): Promise<SourceOutput> {
    const { text, truncated } = await this.read(signal);
    const since = now.getTime() - request.windowMs;
    const events: AuditEvent[] = [];
    let unreadable = 0;
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        unreadable++;
        continue;
      }
      // Valid JSON that is not an event object (a bare string, number, null or array) is just as unreadable.
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        unreadable++;
        continue;
      }
      const event = parsed as AuditEvent;
      // One request is logged at several stages; the completed stage carries the latency.
      if (event.stage !== "ResponseComplete" && event.stage !== "Panic") continue;
      const received = Date.parse(event.requestReceivedTimestamp ?? "");
      if (!(received >= since)) continue;
      if (request.userAgent && !(event.userAgent?.startsWith(request.userAgent) || event.user?.username === request.userAgent)) continue;
      events.push(event);
    }
    const rows = aggregate(request, events);
    const notes = [
      unreadable > 0 ? `${unreadable} unreadable lines skipped` : "",
      truncated ? `only the newest ${formatBytes(this.maxBytes)} of the log read` : "",
    ].filter(Boolean);
    return {
      data: { rows, count: rows.length, events: events.length, unreadable, truncated },
      request: AuditLogSource.requestLine(request),
      summary: `${events.length} requests in the window, ${rows.length} rows${notes.length ? ` (${notes.join("; ")})` : ""}`,
    };
  }

  /** The newest `maxBytes` of the log, starting at a line boundary. */
  private async read(signal: AbortSignal): Promise<{ text: string; truncated: boolean }> {
    return "url" in this.location ? this.readUrl(this.location.url, signal) : this.readFile(this.location.path);
  }

  private async readFile(path: string): Promise<{ text: string; truncated: boolean }> {
    let file;
    try {
      file = await open(path, "r");
    } catch (error) {
      throw new SourceError(
        `the audit log ${path} could not be opened: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    try {
      const { size } = await file.stat();
      // One byte more than the cap, from before the cut: when it is a newline the first line read is whole.
      const start = Math.max(0, size - this.maxBytes - 1);
      const buffer = Buffer.alloc(size - start);
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await file.read(buffer, filled, buffer.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return fromTail(buffer.subarray(0, filled), start > 0);
    } finally {
      await file.close();
    }
  }

  private async readUrl(url: string, signal: AbortSignal): Promise<{ text: string; truncated: boolean }> {
    const keep = this.maxBytes + 1;
    let body: Readable | undefined;
    try {
      // Ask for the tail only; a server that ignores Range sends everything and the tail is kept while streaming.
      const response = await axios.get<Readable>(url, {
        signal,
        responseType: "stream",
        headers: { Range: `bytes=-${keep}` },
        validateStatus: () => true,
      });
      body = response.data;
      if (response.status === 416) {
        body.destroy();
        return { text: "", truncated: false }; // an empty log has no tail to serve
      }
      if (response.status >= 400) {
        body.destroy();
        throw new SourceError(`the audit log URL answered ${response.status}`);
      }
      const chunks: Buffer[] = [];
      let held = 0;
      let total = 0;
      for await (const chunk of body) {
        const piece = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
        chunks.push(piece);
        held += piece.length;
        total += piece.length;
        while (chunks.length > 1 && held - (chunks[0] as Buffer).length >= keep) held -= (chunks.shift() as Buffer).length;
      }
      const tail = Buffer.concat(chunks);
      const kept = tail.subarray(Math.max(0, tail.length - keep));
      // A 206 tells where its bytes start; a 200 starts at the beginning, so only what was dropped counts.
      const range = /^bytes (\d+)-/.exec(String(response.headers["content-range"] ?? ""));
      const rangeStart = response.status === 206 && range ? Number(range[1]) : 0;
      return fromTail(kept, rangeStart > 0 || total > kept.length);
    } catch (error) {
      body?.destroy();
      if (signal.aborted || error instanceof SourceError) throw error;
      throw new SourceError(`the audit log at ${new URL(url).host} could not be read: ${(error as Error).message}`);
    }
  }
}

/**
 * Text from bytes that may start mid-line. When `cut`, the bytes begin one byte before the newest `maxBytes`, so
 * dropping everything up to the first newline drops only a partial line (or just that newline).
 */
function fromTail(bytes: Buffer, cut: boolean): { text: string; truncated: boolean } {
  if (!cut) return { text: bytes.toString("utf8"), truncated: false };
  const newline = bytes.indexOf(0x0a);
  return { text: newline === -1 ? "" : bytes.subarray(newline + 1).toString("utf8"), truncated: true };
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function latencyMs(event: AuditEvent): number | undefined {
  const start = Date.parse(event.requestReceivedTimestamp ?? "");
  const end = Date.parse(event.stageTimestamp ?? "");
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}

function agentOf(event: AuditEvent): string {
  return event.userAgent || event.user?.username || "(unknown)";
}

/** The user name most of these requests were made as: the identity a FlowSchema subject needs. */
function mainUser(events: AuditEvent[]): string {
  const counts = new Map<string, number>();
  for (const event of events) {
    const name = event.user?.username;
    if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  let best = "";
  let most = 0;
  for (const [name, n] of counts) {
    if (n > most) {
      best = name;
      most = n;
    }
  }
  return best;
}

function groupBy(events: AuditEvent[], key: (event: AuditEvent) => string): Map<string, AuditEvent[]> {
  const groups = new Map<string, AuditEvent[]>();
  for (const event of events) {
    const k = key(event);
    const list = groups.get(k);
    if (list) list.push(event);
    else groups.set(k, [event]);
  }
  return groups;
}

/** The nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function aggregate(request: AuditQuery, events: AuditEvent[]): Array<Record<string, string | number>> {
  switch (request.aggregate) {
    case "topUserAgents":
      return [...groupBy(events, agentOf)]
        .map(([userAgent, list]) => ({ userAgent, user: mainUser(list), count: list.length }))
        .sort((a, b) => b.count - a.count)
        .slice(0, request.limit);
    case "latencyByUserAgent":
      return [...groupBy(events, agentOf)]
        .map(([userAgent, list]) => {
          const latencies = list.map(latencyMs).filter((v): v is number => v !== undefined);
          const avgMs = latencies.length ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : 0;
          return { userAgent, user: mainUser(list), avgMs, count: list.length };
        })
        .sort((a, b) => b.avgMs - a.avgMs)
        .slice(0, request.limit);
    case "p99ByVerbResource":
      return [
        ...groupBy(
          events.filter((e) => e.objectRef?.resource),
          (e) => `${e.verb ?? ""} ${e.objectRef?.resource ?? ""}`,
        ),
      ]
        .map(([key, list]) => {
          const [verb = "", resource = ""] = key.split(" ");
          const p99Ms = percentile(
            list.map(latencyMs).filter((v): v is number => v !== undefined),
            99,
          );
          return { verb, resource, p99Ms, count: list.length };
        })
        .sort((a, b) => b.p99Ms - a.p99Ms)
        .slice(0, request.limit);
  }
}
