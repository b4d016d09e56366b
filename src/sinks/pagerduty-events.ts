// Delivers a Diagnosis to PagerDuty Events API v2: one event per Alertmanager group, one attempt per call.
import type { Diagnosis } from "../model/diagnosis.ts";
import { renderPagerDutyEvent } from "../render/pagerduty-event.ts";
import { originOf, postJson, retryAfterMs, serviceText } from "./http-delivery.ts";
import type { Sink, SinkOutcome } from "./sink.ts";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutyEventsSinkOptions {
  /** The 32-character integration key: a secret, it never appears in an outcome. */
  routingKey: string;
  eventsUrl?: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** PagerDuty suggests retrying a 429 30 seconds apart (protocols.md 3.1, PDD 05-Rate-Limits.md). */
const DEFAULT_RETRY_AFTER_MS = 30_000;

interface PagerDutyAnswer {
  status?: string;
  message?: string;
  errors?: string[];
  dedup_key?: string;
}

function parseAnswer(text: string): PagerDutyAnswer {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return {};
    const record = value as Record<string, unknown>;
    return {
      status: typeof record.status === "string" ? record.status : undefined,
      message: typeof record.message === "string" ? record.message : undefined,
      errors: Array.isArray(record.errors) ? record.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e))) : undefined,
      dedup_key: typeof record.dedup_key === "string" ? record.dedup_key : undefined,
    };
  } catch {
    return { message: text };
  }
}

/** A name for a failure that never reached PagerDuty, for metrics: the transport error says which. */
function transportCode(result: { transportError: string; retryable: boolean }): string {
  if (!result.retryable) return "invalid_url";
  return result.transportError.startsWith("no response") ? "timeout" : "network";
}

export class PagerDutyEventsSink implements Sink {
  readonly name = "pagerduty";
  readonly #routingKey: string;
  readonly #eventsUrl: string;
  readonly #timeoutMs: number;
  readonly #origin: string;

  constructor(options: PagerDutyEventsSinkOptions) {
    this.#routingKey = options.routingKey;
    this.#eventsUrl = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = originOf(this.#eventsUrl);
  }

  async deliver(diagnosis: Diagnosis): Promise<SinkOutcome> {
    const event = renderPagerDutyEvent(diagnosis, this.#routingKey);
    const result = await postJson(this.#eventsUrl, event, this.#timeoutMs);
    if (!("response" in result)) {
      return {
        status: result.retryable ? "retry" : "failed",
        code: transportCode(result),
        error: `PagerDuty Events API at ${this.#origin}: ${result.transportError}`,
      };
    }
    const response = result.response;
    const status = response.status;
    const answer = parseAnswer(typeof response.data === "string" ? response.data : "");
    if (status >= 200 && status < 300) return { status: "delivered", detail: answer.dedup_key ?? event.dedup_key };
    const said = this.#describe(answer);
    const code = `http_${status}`;
    if (status === 429) {
      return {
        status: "retry",
        code,
        error: `PagerDuty Events API at ${this.#origin} rate limited the event: 429${said}`,
        retryAfterMs: retryAfterMs(response.headers["retry-after"]) ?? DEFAULT_RETRY_AFTER_MS,
      };
    }
    if (status >= 500) return { status: "retry", code, error: `PagerDuty Events API at ${this.#origin} failed: ${status}${said}` };
    return { status: "failed", code, error: `PagerDuty Events API at ${this.#origin} rejected the event: ${status}${said}` };
  }

  /** PagerDuty's own words, with the routing key masked in case an error echoes it. */
  #describe(answer: PagerDutyAnswer): string {
    const parts: string[] = [];
    if (answer.message !== undefined && answer.message !== "") parts.push(answer.message);
    if (answer.errors !== undefined && answer.errors.length > 0) parts.push(`errors: ${answer.errors.join("; ")}`);
    const text = serviceText(parts.join(" - "), [this.#routingKey]);
    return text !== "" ? ` ${text}` : "";
  }
}
