// Delivers a Diagnosis to a Slack incoming webhook: one attempt, the outcome read from Slack's documented answers.
import type { Diagnosis } from "../model/diagnosis.ts";
import { leadingAlert } from "../render/alert-facts.ts";
import { renderSlackMessage } from "../render/slack-blocks.ts";
import { originOf, sendHttp } from "./http-delivery.ts";
import { judge, type ServiceApi } from "./outcome-table.ts";
import type { DeliveryContext, Sink, SinkOutcome } from "./sink.ts";

export interface SlackWebhookSinkOptions {
  /** A secret: the path is the token. It never appears in an outcome. */
  webhookUrl: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Slack answers a webhook in plain text: `ok` when it posted the message (protocols.md 2.1), else its error name as
 * the whole body ("channel_not_found"), with the status telling the kind (400, 403, 404, 410, 429, 500).
 */
export const SLACK_WEBHOOK_API: ServiceApi = {
  read({ status, body }) {
    const text = body.trim();
    if (status === 200 && text === "ok") return { accepted: true };
    if (/^[a-z][a-z0-9_]{0,63}$/.test(text) && text !== "ok") return { accepted: false, errorName: text };
    return { accepted: false, said: text };
  },
  /** Slack's own SDK waits 1 s when a 429 comes without Retry-After (protocols.md 2.4). */
  rateLimitWaitMs: 1000,
};

export class SlackWebhookSink implements Sink {
  readonly name = "slack";
  readonly #webhookUrl: string;
  readonly #timeoutMs: number;
  readonly #origin: string;
  readonly #secrets: string[];

  constructor(options: SlackWebhookSinkOptions) {
    this.#webhookUrl = options.webhookUrl;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = originOf(options.webhookUrl);
    this.#secrets = secretsIn(options.webhookUrl);
  }

  async deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
    const remembered = (context?.state ?? {}) as { firingCause?: string };
    const quote = diagnosis.status === "resolved" ? remembered.firingCause : undefined;
    const outcome = await this.#post(renderSlackMessage(diagnosis, { quote }));
    // A webhook message cannot be edited, so the resolve is a new message: remember the cause to quote it then.
    const cause = leadingAlert(diagnosis)?.causes[0];
    if (outcome.status === "delivered" && diagnosis.status === "firing" && cause && context) {
      await context.saveState({ firingCause: `${cause.title}: ${cause.summary}` });
    }
    return outcome;
  }

  async #post(message: ReturnType<typeof renderSlackMessage>): Promise<SinkOutcome> {
    const exchange = await sendHttp({
      method: "POST",
      url: this.#webhookUrl,
      headers: { "Content-Type": "application/json; charset=utf-8", Accept: "application/json, text/plain" },
      body: JSON.stringify(message),
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
    const judged = judge(exchange, SLACK_WEBHOOK_API, { what: `Slack webhook at ${this.#origin}`, secrets: this.#secrets });
    return judged.delivered ? { status: "delivered" } : judged.outcome;
  }
}

/** The URL, its path and every path segment: Slack could echo any of them, and the last segment is the token. */
function secretsIn(webhookUrl: string): string[] {
  const secrets = [webhookUrl];
  try {
    const url = new URL(webhookUrl);
    secrets.push(url.pathname + url.search, ...url.pathname.split("/").filter((segment) => segment !== "" && segment !== "services"));
  } catch {
    // An unparsable URL never reaches Slack; the whole string is already masked.
  }
  return secrets.sort((a, b) => b.length - a.length);
}
