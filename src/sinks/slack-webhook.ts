// Delivers a Diagnosis to a Slack incoming webhook: one attempt, the outcome mapped from Slack's documented answers.
import type { Diagnosis } from "../model/diagnosis.ts";
import { leadingAlert } from "../render/alert-facts.ts";
import { renderSlackMessage } from "../render/slack-blocks.ts";
import { originOf, postJson, retryAfterMs, serviceText } from "./http-delivery.ts";
import type { DeliveryContext, Sink, SinkOutcome } from "./sink.ts";

export interface SlackWebhookSinkOptions {
  /** A secret: the path is the token. It never appears in an outcome. */
  webhookUrl: string;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Slack's own SDK waits 1 s when a 429 comes without Retry-After (protocols.md 2.4). */
const DEFAULT_RETRY_AFTER_MS = 1000;

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
    const result = await postJson(this.#webhookUrl, message, this.#timeoutMs);
    if (!("response" in result)) {
      return {
        status: result.retryable ? "retry" : "failed",
        code: transportCode(result),
        error: `Slack webhook at ${this.#origin}: ${result.transportError}`,
      };
    }
    const response = result.response;
    const status = response.status;
    const body = serviceText(typeof response.data === "string" ? response.data : "", this.#secrets);
    if (status === 200 && body === "ok") return { status: "delivered" };
    const said = body !== "" ? ` ${body}` : "";
    // Slack answers a webhook with its error name as the whole body ("channel_not_found"); anything else is named by status.
    const code = /^[a-z][a-z0-9_]{0,63}$/.test(body) ? body : `http_${status}`;
    if (status === 429) {
      return {
        status: "retry",
        code,
        error: `Slack webhook at ${this.#origin} rate limited the message: 429${said}`,
        retryAfterMs: retryAfterMs(response.headers["retry-after"]) ?? DEFAULT_RETRY_AFTER_MS,
      };
    }
    if (status >= 500) return { status: "retry", code, error: `Slack webhook at ${this.#origin} failed: ${status}${said}` };
    if (status >= 200 && status < 300) {
      // Only the literal "ok" means Slack posted the message (protocols.md 2.1); anything else is not a success.
      return {
        status: "failed",
        code,
        error: `Slack webhook at ${this.#origin} answered ${status} without "ok":${said || " (empty body)"}`,
      };
    }
    return { status: "failed", code, error: `Slack webhook at ${this.#origin} rejected the message: ${status}${said}` };
  }
}

/** A name for a failure that never reached Slack, for metrics: the transport error says which. */
function transportCode(result: { transportError: string; retryable: boolean }): string {
  if (!result.retryable) return "invalid_url";
  return result.transportError.startsWith("no response") ? "timeout" : "network";
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
