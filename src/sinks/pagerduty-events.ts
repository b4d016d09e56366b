// Delivers a Diagnosis to PagerDuty Events API v2: one event per Alertmanager group, one attempt per call.
import type { Diagnosis } from "../model/diagnosis.ts";
import { renderPagerDutyEvent } from "../render/pagerduty-event.ts";
import { originOf, sendHttp } from "./http-delivery.ts";
import { judge, type ServiceApi } from "./outcome-table.ts";
import type { Sink, SinkOutcome } from "./sink.ts";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutyEventsSinkOptions {
  /** The 32-character integration key: a secret, it never appears in an outcome. */
  routingKey: string;
  eventsUrl?: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
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

  constructor(options: PagerDutyEventsSinkOptions) {
    this.#routingKey = options.routingKey;
    this.#eventsUrl = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = originOf(this.#eventsUrl);
  }

  async deliver(diagnosis: Diagnosis): Promise<SinkOutcome> {
    const event = renderPagerDutyEvent(diagnosis, this.#routingKey);
    const exchange = await sendHttp({
      method: "POST",
      url: this.#eventsUrl,
      headers: { "Content-Type": "application/json; charset=utf-8", Accept: "application/json, text/plain" },
      body: JSON.stringify(event),
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
    const judged = judge(exchange, PAGERDUTY_EVENTS_API, { what: `PagerDuty Events API at ${this.#origin}`, secrets: [this.#routingKey] });
    if (!judged.delivered) return judged.outcome;
    return { status: "delivered", detail: parseAnswer(judged.response.body).dedup_key ?? event.dedup_key };
  }
}
