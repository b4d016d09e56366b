// Pod logs: a bounded tail of one container's log, counted and excerpted by named patterns, credentials redacted.
import { type ConfigurationOptions, Observable, type ResponseContext } from "@kubernetes/client-node";
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
/**
 * A log line may be 1 MiB. Patterns from rules/ are matched against its first MATCH_CHARS characters only, and an
 * excerpt is cut to EXCERPT_CHARS before it is redacted (issue #11: redacting and matching whole lines held the
 * event loop for seconds). Both are well above MAX_LINE, so an excerpt still shows a line's first MAX_LINE
 * characters, fewer only where a long credential before them collapsed into "[REDACTED]". Patterns in rules/ must
 * themselves be linear (a literal, alternatives, `.*` after a literal): the cut bounds one line, not the whole log.
 */
export const MATCH_CHARS = 4096;
export const EXCERPT_CHARS = 2048;

/** How messages name the read: "the log of pod kube-system/metrics-server-x". */
export function describeLogRead(request: LogRead): string {
  return `the log of pod ${request.namespace}/${request.pod}`;
}

/** The call as a person would write it. */
export function logRequestLine(request: LogRead): string {
  const query = new URLSearchParams({ tailLines: String(request.tailLines), limitBytes: String(request.limitBytes) });
  if (request.container) query.set("container", request.container);
  if (request.sinceSeconds) query.set("sinceSeconds", String(request.sinceSeconds));
  if (request.previous) query.set("previous", "true");
  return `GET /api/v1/namespaces/${request.namespace}/pods/${request.pod}/log?${query.toString()}`;
}

export class LogsSource {
  private readonly client: KubernetesClient;

  constructor(client: KubernetesClient) {
    this.client = client;
  }

  async read(request: LogRead, signal: AbortSignal): Promise<SourceOutput> {
    let text: string;
    const answer = { noContent: false };
    try {
      text = await this.client.withSignal(signal, () =>
        this.client.core.readNamespacedPodLog(
          {
            name: request.pod,
            namespace: request.namespace,
            container: request.container,
            previous: request.previous,
            tailLines: request.tailLines,
            sinceSeconds: request.sinceSeconds,
            limitBytes: request.limitBytes,
          },
          noContentAsEmptyText(answer),
        ),
      );
    } catch (error) {
      if (signal.aborted) throw error;
      throw explainKubernetesError(error);
    }
    const where = `${request.namespace}/${request.pod}${request.container ? `/${request.container}` : ""}`;
    if (answer.noContent) {
      // 204: the API server had no kubelet to ask, as the pod has no node (not scheduled yet). A known absence of
      // logs, not a failed read: it is evidence (the pod is Pending) and the API server is fine.
      const result = scanLog("", request.patterns, request.maxExcerpts);
      return {
        data: { pod: request.pod, namespace: request.namespace, container: request.container ?? "", ...result, noNode: true },
        request: logRequestLine(request),
        summary: `pod ${request.namespace}/${request.pod} has no node yet, so it has no logs`,
      };
    }
    const result = scanLog(String(text ?? ""), request.patterns, request.maxExcerpts);
    const matched = Object.entries(result.matches)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${name} ×${n}`)
      .join(", ");
    return {
      data: { pod: request.pod, namespace: request.namespace, container: request.container ?? "", ...result, noNode: false },
      request: logRequestLine(request),
      summary: `${where}: ${result.lines} lines${matched ? `, ${matched}` : ", no pattern matched"}`,
    };
  }
}

/**
 * Call options that mark a 204 answer in `answer` and hand client-node an empty text/plain body for it: the API server
 * answers a pod with no node 204 with no Content-Type, which client-node 2.0.1 cannot parse ("Cannot parse content.
 * No Content-Type defined."). Appended to the client's own middleware (User-Agent, signal).
 */
function noContentAsEmptyText(answer: { noContent: boolean }): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => new Observable(Promise.resolve(context)),
        post: (context: ResponseContext) => {
          if (context.httpStatusCode === 204) {
            answer.noContent = true;
            context.headers["content-type"] = "text/plain";
          }
          return new Observable(Promise.resolve(context));
        },
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/** Counts lines per pattern and keeps the last `maxExcerpts` matching lines of each, redacted and shortened. */
export function scanLog(text: string, patterns: Record<string, string>, maxExcerpts: number) {
  const lines = text.split("\n").filter((l) => l.length > 0);
  const compiled = Object.entries(patterns).map(([name, source]) => ({ name, regex: new RegExp(source, "i") }));
  const matches: Record<string, number> = Object.fromEntries(compiled.map((p) => [p.name, 0]));
  const excerpts: LogMatch[] = [];
  const kept: Record<string, LogMatch[]> = {};
  for (const line of lines) {
    const head = line.length > MATCH_CHARS ? line.slice(0, MATCH_CHARS) : line;
    for (const { name, regex } of compiled) {
      if (!regex.test(head)) continue;
      matches[name] = (matches[name] ?? 0) + 1;
      const list = kept[name] ?? [];
      kept[name] = list;
      list.push({ pattern: name, line });
      if (list.length > maxExcerpts) list.shift();
    }
  }
  for (const list of Object.values(kept)) {
    for (const match of list) excerpts.push({ pattern: match.pattern, line: excerptOf(match.line) });
  }
  return { lines: lines.length, matches, excerpts };
}

/** A matching line as the diagnosis shows it: redacted, at most MAX_LINE characters. */
export function excerptOf(line: string): string {
  if (line.length <= EXCERPT_CHARS) return shorten(redact(line), false);
  return shorten(redact(cutBeforeRedacting(line, EXCERPT_CHARS)), true);
}

/**
 * The first `length` characters of a line, less the word the cut went through: a credential cut in two could be too
 * short for its pattern (a JWT without its signature, "Bearer abc") and its first half would show. A credential
 * recognised by what comes before it (password=, "password": "two wo…, Cookie:, Authorization: Digest …) is redacted
 * up to the end of the text whatever is left of it, so only the word itself is dropped.
 */
function cutBeforeRedacting(line: string, length: number): string {
  const kept = line.slice(0, length);
  let end = kept.length;
  while (end > 0 && !WORD_END.test(kept.charAt(end - 1))) end--;
  return kept.slice(0, end);
}

/** Where a word that may hold a credential ends: whitespace, a quote, a bracket or a separator. */
const WORD_END = /[\s"'`()[\]{}<>,;|]/;

function shorten(line: string, cut: boolean): string {
  if (line.length > MAX_LINE) return `${line.slice(0, MAX_LINE)}… (truncated)`;
  return cut ? `${line}… (truncated)` : line;
}
