// The one table from what an HTTP call came to (a status and the service's words, or no answer at all) to the delivery
// outcome: delivered, retry (and when), or failed, each with its reason. Every HTTP sink goes through it; what differs
// between the APIs is declared as data in a ServiceApi. The model is Alertmanager's notifier Retrier (notify/util.go):
// 2xx succeeds, 5xx is retried, an API may add codes of its own. Here 408 and 429 are retried for every API, and a
// Retry-After is honoured on every retry.
import { type HttpExchange, type HttpResponse, maskSecrets, serviceText, type TransportFailureKind } from "./http-delivery.ts";
import type { SinkOutcome } from "./sink.ts";

export type SinkFailure = Exclude<SinkOutcome, { status: "delivered" }>;

/** What a service said in one response, read by that API's own reader. */
export interface ServiceReading {
  /** The service did what was asked: a 2xx for PagerDuty, the body `ok` for a Slack webhook, `"ok": true` for the Web API. */
  accepted: boolean;
  /** The service's own name for what went wrong ("channel_not_found"): a short snake_case word, else left out. */
  errorName?: string;
  /** Anything else it said that helps a person: its message, the scope it needed, the field it refused. */
  said?: string;
}

/** A verdict an API attaches to one of its error names, whatever the HTTP status that carries it. */
export interface ErrorNameRule {
  /** True for "not now" (retrying can help), false for "not ever". */
  retry: boolean;
  /** The name means "too many requests": without a Retry-After, wait as long as the API advises. */
  rateLimited?: boolean;
  /** What a person does about it. */
  hint?: string;
}

/** A name (and hint) for a status whose body names nothing, such as PagerDuty REST's 401. */
export interface StatusName {
  code: string;
  hint?: string;
}

/** How one remote API differs from the table's defaults: declared once per API, as data. */
export interface ServiceApi {
  /** Reads a response whose body has had the call's secrets masked. */
  read(response: HttpResponse): ServiceReading;
  /** The wait when a rate limit comes without Retry-After: what the service itself advises. */
  rateLimitWaitMs: number;
  /** Headers after Retry-After that say, in seconds, when a rate-limited client may come back. */
  rateLimitResetHeaders?: readonly string[];
  /** Error names whose verdict does not depend on the status (the Slack Web API answers most errors with HTTP 200). */
  errorNames?: Readonly<Record<string, ErrorNameRule>>;
  statusNames?: Readonly<Partial<Record<number, StatusName>>>;
}

/** One request of a sink, for the outcome's words. */
export interface Call {
  /** Who was asked what: "Slack webhook at https://hooks.slack.com", "PagerDuty REST API at … (adding a note …)". */
  what: string;
  /** Strings that never appear in an outcome: tokens, keys, a webhook URL and its path. */
  secrets: readonly string[];
  /** Status names particular to this request, over the API's: a 404 when adding a note means the incident is gone. */
  statusNames?: Readonly<Partial<Record<number, StatusName>>>;
}

export type Judged = { delivered: true; response: HttpResponse } | { delivered: false; outcome: SinkFailure };

type Verdict = "delivered" | "retry" | "failed";

interface Answer {
  transport?: TransportFailureKind;
  status: number;
  reading: ServiceReading;
  rule?: ErrorNameRule;
}

interface Row {
  /** The outcome in words. */
  outcome: string;
  applies(answer: Answer): boolean;
  verdict: Verdict;
  /** The reason an outcome gives when the service named none: the name metrics count failures by. */
  reason: (status: number) => string;
}

const named = (reason: string) => () => reason;
const byStatus = (status: number) => `http_${status}`;
const transport = (kind: TransportFailureKind) => (answer: Answer) => answer.transport === kind;

/** The first row that applies decides. */
const TABLE: readonly Row[] = [
  { outcome: "the configured URL is not http(s)", applies: transport("invalid_url"), verdict: "failed", reason: named("invalid_url") },
  { outcome: "no answer within the timeout", applies: transport("timeout"), verdict: "retry", reason: named("timeout") },
  // A certificate is renewed, a proxy fixed: the worker's attempts and backoff bound how long this is tried.
  { outcome: "the TLS handshake failed", applies: transport("tls"), verdict: "retry", reason: named("tls") },
  { outcome: "connection refused or reset, DNS", applies: transport("network"), verdict: "retry", reason: named("network") },
  { outcome: "an answer too large or cut off", applies: transport("bad_response"), verdict: "retry", reason: named("bad_response") },
  { outcome: "the service accepted", applies: (a) => a.reading.accepted, verdict: "delivered", reason: byStatus },
  { outcome: "an error name the API calls transient", applies: (a) => a.rule?.retry === true, verdict: "retry", reason: byStatus },
  { outcome: "an error name the API calls permanent", applies: (a) => a.rule?.retry === false, verdict: "failed", reason: byStatus },
  { outcome: "429 Too Many Requests", applies: (a) => a.status === 429, verdict: "retry", reason: named("rate_limited") },
  // The server gave up waiting for the request; RFC 9110 15.5.9 lets the client repeat it.
  { outcome: "408 Request Timeout", applies: (a) => a.status === 408, verdict: "retry", reason: byStatus },
  { outcome: "5xx", applies: (a) => a.status >= 500 && a.status < 600, verdict: "retry", reason: byStatus },
  // A captive portal's page, a Slack webhook's answer other than "ok", the Web API's `"ok": false`: nothing was posted.
  {
    outcome: "a 2xx the service did not accept",
    applies: (a) => a.status >= 200 && a.status < 300,
    verdict: "failed",
    reason: named("invalid_response"),
  },
  // 4xx, and 3xx: redirects are not followed, so the configured URL is wrong.
  { outcome: "any other status", applies: () => true, verdict: "failed", reason: byStatus },
];

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 10.2.3); anything else is ignored. */
export function retryAfterMs(header: unknown, now: number = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Delivered with the response, or the outcome to report: decided by the table, with the API's exceptions. */
export function judge(exchange: HttpExchange, api: ServiceApi, call: Call): Judged {
  if ("transportFailure" in exchange) {
    const failure = exchange.transportFailure;
    const row = decide({ transport: failure.kind, status: 0, reading: { accepted: false } });
    const error = maskSecrets(`${call.what}: ${failure.text}`, call.secrets);
    return { delivered: false, outcome: { status: row.verdict === "retry" ? "retry" : "failed", code: row.reason(0), error } };
  }
  const response = { ...exchange.response, body: maskSecrets(exchange.response.body, call.secrets) };
  const reading = api.read(response);
  const rule = reading.errorName !== undefined ? api.errorNames?.[reading.errorName] : undefined;
  const row = decide({ status: response.status, reading, rule });
  if (row.verdict === "delivered") return { delivered: true, response: exchange.response };

  const statusName = call.statusNames?.[response.status] ?? api.statusNames?.[response.status];
  const name = reading.errorName ?? statusName?.code;
  const code = name ?? row.reason(response.status);
  const rateLimited = row.verdict === "retry" && (response.status === 429 || rule?.rateLimited === true);
  const verb =
    row.verdict === "retry"
      ? rateLimited
        ? "rate limited the request"
        : "failed"
      : response.status >= 200 && response.status < 300
        ? "answered without accepting the request"
        : "refused the request";
  const hint = rule?.hint ?? (reading.errorName === undefined ? statusName?.hint : undefined);
  const said = serviceText(reading.said ?? "", call.secrets);
  const head = `HTTP ${response.status}${name !== undefined ? ` ${name}` : ""}${hint !== undefined ? `: ${hint}` : ""}`;
  const words = said === "" ? head : `${head}${name !== undefined || hint !== undefined ? " - " : " "}${said}`;
  const error = maskSecrets(`${call.what} ${verb}: ${words}`, call.secrets);
  if (row.verdict === "failed") return { delivered: false, outcome: { status: "failed", code, error } };
  const wait = retryAfterMs(response.headers["retry-after"]) ?? (rateLimited ? rateLimitWaitMs(api, response) : undefined);
  return {
    delivered: false,
    outcome: {
      status: "retry",
      code,
      error,
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
      ...(rateLimited ? { rateLimited } : {}),
    },
  };
}

function decide(answer: Answer): Row {
  const row = TABLE.find((r) => r.applies(answer));
  if (row === undefined) throw new Error("the outcome table has no row for this answer");
  return row;
}

function rateLimitWaitMs(api: ServiceApi, response: HttpResponse): number {
  for (const header of api.rateLimitResetHeaders ?? []) {
    const wait = retryAfterMs(response.headers[header]);
    if (wait !== undefined) return wait;
  }
  return api.rateLimitWaitMs;
}
