// Kubernetes audit events (audit.k8s.io/v1, one JSON object per line) from a file or URL, summarised into the tables
// the AKS API-server guide builds from its audit logs: top user agents, latency per user agent, P99 by verb and resource.
import { open } from "node:fs/promises";
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

interface AuditEvent {
  stage?: string;
  verb?: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

/** The most of the log read per query: the newest part of a larger file. */
const MAX_BYTES = 32 * 1024 * 1024;

export class AuditLogSource {
  private readonly location: { path: string } | { url: string };

  constructor(location: { path: string } | { url: string }) {
    this.location = location;
  }

  static describe(request: AuditQuery): string {
    return `an audit-log ${request.aggregate} query`;
  }

  static requestLine(request: AuditQuery): string {
    const filter = request.userAgent ? ` where userAgent=${JSON.stringify(request.userAgent)}` : "";
    return `audit log: ${request.aggregate}${filter} over the last ${Math.round(request.windowMs / 60_000)}m (top ${request.limit})`;
  }

  async query(request: AuditQuery, signal: AbortSignal, now = new Date()): Promise<SourceOutput> {
    const text = await this.read(signal);
    const since = now.getTime() - request.windowMs;
    const events: AuditEvent[] = [];
    let unreadable = 0;
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      let event: AuditEvent;
      try {
        event = JSON.parse(line) as AuditEvent;
      } catch {
        unreadable++;
        continue;
      }
      // One request is logged at several stages; the completed stage carries the latency.
      if (event.stage !== "ResponseComplete" && event.stage !== "Panic") continue;
      const received = Date.parse(event.requestReceivedTimestamp ?? "");
      if (!(received >= since)) continue;
      if (request.userAgent && !(event.userAgent?.startsWith(request.userAgent) || event.user?.username === request.userAgent)) continue;
      events.push(event);
    }
    const rows = aggregate(request, events);
    const note = unreadable > 0 ? ` (${unreadable} unreadable lines skipped)` : "";
    return {
      data: { rows, count: rows.length, events: events.length },
      request: AuditLogSource.requestLine(request),
      summary: `${events.length} requests in the window, ${rows.length} rows${note}`,
    };
  }

  private async read(signal: AbortSignal): Promise<string> {
    if ("url" in this.location) {
      try {
        const response = await axios.get<string>(this.location.url, {
          signal,
          responseType: "text",
          maxContentLength: MAX_BYTES,
          validateStatus: () => true,
        });
        if (response.status >= 400) throw new SourceError(`the audit log URL answered ${response.status}`);
        return response.data;
      } catch (error) {
        if (signal.aborted || error instanceof SourceError) throw error;
        throw new SourceError(`the audit log at ${new URL(this.location.url).host} could not be read: ${(error as Error).message}`);
      }
    }
    let file;
    try {
      file = await open(this.location.path, "r");
    } catch (error) {
      throw new SourceError(
        `the audit log ${this.location.path} could not be opened: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    try {
      const { size } = await file.stat();
      const length = Math.min(size, MAX_BYTES);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      const text = buffer.toString("utf8");
      // Reading from the middle of a file starts mid-line: drop that partial first line.
      return length < size ? text.slice(text.indexOf("\n") + 1) : text;
    } finally {
      await file.close();
    }
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

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

function aggregate(request: AuditQuery, events: AuditEvent[]): Array<Record<string, string | number>> {
  switch (request.aggregate) {
    case "topUserAgents":
      return [...groupBy(events, agentOf)]
        .map(([userAgent, list]) => ({ userAgent, count: list.length }))
        .sort((a, b) => b.count - a.count)
        .slice(0, request.limit);
    case "latencyByUserAgent":
      return [...groupBy(events, agentOf)]
        .map(([userAgent, list]) => {
          const latencies = list.map(latencyMs).filter((v): v is number => v !== undefined);
          const avgMs = latencies.length ? Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length) : 0;
          return { userAgent, avgMs, count: list.length };
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
