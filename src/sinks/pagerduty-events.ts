// Delivers a Diagnosis to PagerDuty Events API v2: one event per Alertmanager group, one attempt per call.
import type { Diagnosis } from "../model/diagnosis.ts";
import { renderPagerDutyEvent } from "../render/pagerduty-event.ts";
import { DestinationPacer } from "./destination-pacer.ts";
import { originOf, sendHttp } from "./http-delivery.ts";
import { judge, type ServiceApi } from "./outcome-table.ts";
import type { Sink, SinkOutcome } from "./sink.ts";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutyEventsSinkOptions {
  /** The 32-character integration key: a secret, it never appears in an outcome. */
  routingKey: string;
  eventsUrl?: string;
  timeoutMs?: number;
  /** Events per routing key in any `windowMs` looking back: PagerDuty allows about 120 a minute (protocols.md 3.1). */
  rateLimit?: { limit: number; windowMs: number };
}

const DEFAULT_TIMEOUT_MS = 10_000;
export const PAGERDUTY_EVENTS_PACE = { limit: 120, windowMs: 60_000 };
/** PagerDuty counts from when an event arrives, the pacer from when it leaves: a second covers the way there. */
const WINDOW_MARGIN_MS = 1000;
const MAX_RESPONSE_BYTES = 64 * 1024;

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

/**
 * Any 2xx is PagerDuty's acceptance (202 "Event processed"); its body only adds the dedup key. A refusal carries a
 * message and a list of errors, no error name (protocols.md 3.1).
 */
export const PAGERDUTY_EVENTS_API: ServiceApi = {
  read({ status, body }) {
    if (status >= 200 && status < 300) return { accepted: true };
    const answer = parseAnswer(body);
    const parts: string[] = [];
    if (answer.message !== undefined && answer.message !== "") parts.push(answer.message);
    if (answer.errors !== undefined && answer.errors.length > 0) parts.push(`errors: ${answer.errors.join("; ")}`);
    return { accepted: false, said: parts.join(" - ") };
  },
  /** PagerDuty suggests retrying a 429 30 seconds apart (protocols.md 3.1, PDD 05-Rate-Limits.md). */
  rateLimitWaitMs: 30_000,
};

export class PagerDutyEventsSink implements Sink {
  readonly name = "pagerduty";
  readonly #routingKey: string;
  readonly #eventsUrl: string;
  readonly #timeoutMs: number;
  readonly #origin: string;
  /** Paces events to the routing key's limit, and holds every delivery loop for PagerDuty's advised 30 s after a 429. */
  readonly #pacer: DestinationPacer;

  constructor(options: PagerDutyEventsSinkOptions) {
    const rate = options.rateLimit ?? PAGERDUTY_EVENTS_PACE;
    this.#pacer = new DestinationPacer({ kind: "window", limit: rate.limit, windowMs: rate.windowMs, marginMs: WINDOW_MARGIN_MS });
    this.#routingKey = options.routingKey;
    this.#eventsUrl = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = originOf(this.#eventsUrl);
  }

  async deliver(diagnosis: Diagnosis): Promise<SinkOutcome> {
    const event = renderPagerDutyEvent(diagnosis, this.#routingKey);
    await this.#pacer.acquire(ROUTING_KEY);
    const exchange = await sendHttp({
      method: "POST",
      url: this.#eventsUrl,
      headers: { "Content-Type": "application/json; charset=utf-8", Accept: "application/json, text/plain" },
      body: JSON.stringify(event),
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
    const judged = judge(exchange, PAGERDUTY_EVENTS_API, { what: `PagerDuty Events API at ${this.#origin}`, secrets: [this.#routingKey] });
    if (!judged.delivered) {
      if (judged.outcome.status === "retry" && judged.outcome.rateLimited === true) {
        this.#pacer.hold(ROUTING_KEY, judged.outcome.retryAfterMs ?? PAGERDUTY_EVENTS_API.rateLimitWaitMs);
      }
      return judged.outcome;
    }
    return { status: "delivered", detail: parseAnswer(judged.response.body).dedup_key ?? event.dedup_key };
  }
}

/** A sink sends with one routing key, so its pacer has one destination (the key itself stays out of it). */
const ROUTING_KEY = "routing key";
