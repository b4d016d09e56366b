// Pod logs: a bounded tail of one container's log, counted and excerpted by named patterns, credentials redacted.
import { explainKubernetesError, type KubernetesClient } from "./kubernetes-client.ts";
import { redact } from "./redact.ts";
import type { SourceOutput } from "./source.ts";

export interface LogRead {
  namespace: string;
  pod: string;
  container?: string;
  previous?: boolean;
  tailLines: number;
  sinceSeconds?: number;
  limitBytes: number;
  patterns: Record<string, string>;
  maxExcerpts: number;
}

export interface LogMatch {
  pattern: string;
  line: string;
}

const MAX_LINE = 500;

export class LogsSource {
  private readonly client: KubernetesClient;

  constructor(client: KubernetesClient) {
    this.client = client;
  }

  static describe(request: LogRead): string {
    return `the log of pod ${request.namespace}/${request.pod}`;
  }

  static requestLine(request: LogRead): string {
    const query = new URLSearchParams({ tailLines: String(request.tailLines), limitBytes: String(request.limitBytes) });
    if (request.container) query.set("container", request.container);
    if (request.sinceSeconds) query.set("sinceSeconds", String(request.sinceSeconds));
    if (request.previous) query.set("previous", "true");
    return `GET /api/v1/namespaces/${request.namespace}/pods/${request.pod}/log?${query.toString()}`;
  }

  async read(request: LogRead, signal: AbortSignal): Promise<SourceOutput> {
    let text: string;
    try {
      text = await this.client.withSignal(signal, () =>
        this.client.core.readNamespacedPodLog({
          name: request.pod,
          namespace: request.namespace,
          container: request.container,
          previous: request.previous,
          tailLines: request.tailLines,
          sinceSeconds: request.sinceSeconds,
          limitBytes: request.limitBytes,
        }),
      );
    } catch (error) {
      if (signal.aborted) throw error;
      throw explainKubernetesError(error);
    }
    const result = scanLog(String(text ?? ""), request.patterns, request.maxExcerpts);
    const where = `${request.namespace}/${request.pod}${request.container ? `/${request.container}` : ""}`;
    const matched = Object.entries(result.matches)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${name} ×${n}`)
      .join(", ");
    return {
      data: { pod: request.pod, namespace: request.namespace, container: request.container ?? "", ...result },
      request: LogsSource.requestLine(request),
      summary: `${where}: ${result.lines} lines${matched ? `, ${matched}` : ", no pattern matched"}`,
    };
  }
}

/** Counts lines per pattern and keeps the last `maxExcerpts` matching lines of each, redacted and shortened. */
export function scanLog(text: string, patterns: Record<string, string>, maxExcerpts: number) {
  const lines = text.split("\n").filter((l) => l.length > 0);
  const compiled = Object.entries(patterns).map(([name, source]) => ({ name, regex: new RegExp(source, "i") }));
  const matches: Record<string, number> = Object.fromEntries(compiled.map((p) => [p.name, 0]));
  const excerpts: LogMatch[] = [];
  const kept: Record<string, LogMatch[]> = {};
  for (const line of lines) {
    for (const { name, regex } of compiled) {
      if (!regex.test(line)) continue;
      matches[name] = (matches[name] ?? 0) + 1;
      const list = kept[name] ?? [];
      kept[name] = list;
      list.push({ pattern: name, line });
      if (list.length > maxExcerpts) list.shift();
    }
  }
  for (const list of Object.values(kept)) {
    for (const match of list) excerpts.push({ pattern: match.pattern, line: shorten(redact(match.line)) });
  }
  return { lines: lines.length, matches, excerpts };
}

function shorten(line: string): string {
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… (truncated)` : line;
}
