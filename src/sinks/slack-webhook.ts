// Delivers a Diagnosis to a Slack incoming webhook: one attempt, the outcome read from Slack's documented answers; in a
// storm, the group is named in the storm's snapshot instead (slack-webhook-storm.ts).
import type { Diagnosis } from "../model/diagnosis.ts";
import { leadingAlert } from "../render/alert-facts.ts";
import { renderSlackMessage, type SlackMessage } from "../render/slack-blocks.ts";
import { DestinationPacer } from "./destination-pacer.ts";
import { originOf, sendHttp } from "./http-delivery.ts";
import { judge, type ServiceApi } from "./outcome-table.ts";
import type { DeliveryContext, Sink, SinkOutcome } from "./sink.ts";
import { SlackWebhookStormSnapshots } from "./slack-webhook-storm.ts";

export interface SlackWebhookSinkOptions {
  /** A secret: the path is the token. It never appears in an outcome. */
  webhookUrl: string;
  timeoutMs?: number;
  /**
   * The least time between two posts; none by default. Slack allows a webhook "1 per second, short bursts >1 allowed"
   * without saying how long a burst, so the sink sends as Slack takes them, stops every loop on a 429, and keeps to
   * one a second for a minute after it.
   */
  postIntervalMs?: number;
  /**
   * A group's report page (PUBLIC_URL and REPORT_SIGNING_SECRET). With it, the groups of a storm are named in the
   * storm's snapshots, each linked to its report, instead of a message each; without it, every group keeps its own.
   */
  reportLink?: (notificationId: string) => string | undefined;
  /** The storm's own page, linked from its snapshots. */
  stormLink?: (stormId: string) => string | undefined;
  /** The least time between two snapshots of one storm. */
  stormSnapshotIntervalMs?: number;
}

/** What the sink remembers about a group: the cause to quote when it resolves, and the storm that named it. */
interface WebhookGroupState {
  firingCause?: string;
  storm?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_POST_INTERVAL_MS = 0;
/** Slack's "1 per second" for webhooks, kept for a minute after each 429. */
const AFTER_429_INTERVAL_MS = 1000;
const AFTER_429_FOR_MS = 60_000;
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
  /** Paces posts to the webhook, and holds every delivery loop after a 429 until its Retry-After has passed. */
  readonly #pacer: DestinationPacer;
  readonly #reportLink: SlackWebhookSinkOptions["reportLink"];
  readonly #storms: SlackWebhookStormSnapshots;

  constructor(options: SlackWebhookSinkOptions) {
    // One post at a time (a second would be out before a 429 could hold it); Slack takes about one a second anyway.
    // After a 429 the webhook is paced at Slack's one a second for a while, so a storm meets one 429, not one a message.
    this.#pacer = new DestinationPacer({
      kind: "interval",
      intervalMs: options.postIntervalMs ?? DEFAULT_POST_INTERVAL_MS,
      afterHold: { intervalMs: Math.max(options.postIntervalMs ?? 0, AFTER_429_INTERVAL_MS), forMs: AFTER_429_FOR_MS },
      serial: true,
    });
    this.#webhookUrl = options.webhookUrl;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = originOf(options.webhookUrl);
    this.#secrets = secretsIn(options.webhookUrl);
    this.#reportLink = options.reportLink;
    this.#storms = new SlackWebhookStormSnapshots(
      (message) => this.#post(message),
      {
        ...(options.reportLink !== undefined ? { reportLink: options.reportLink } : {}),
        ...(options.stormLink !== undefined ? { stormLink: options.stormLink } : {}),
      },
      options.stormSnapshotIntervalMs,
    );
  }

  async deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
    const remembered = (context?.state ?? {}) as WebhookGroupState;
    const stormId = diagnosis.storm?.id ?? (diagnosis.status === "resolved" ? remembered.storm : undefined);
    // In a storm the group is named, with its verdict and a link to its full report, in the storm's next snapshot.
    if (stormId !== undefined && context?.storms !== undefined && this.#reportLink?.(diagnosis.notificationId) !== undefined) {
      const outcome = await this.#storms.show(stormId, context.storms);
      if (outcome.status === "delivered") {
        await context.saveState(diagnosis.status === "firing" ? ({ storm: stormId } satisfies WebhookGroupState) : {});
        return outcome;
      }
      if (outcome.status === "retry" || outcome.code !== "storm_gone") return outcome;
    }
    const quote = diagnosis.status === "resolved" ? remembered.firingCause : undefined;
    const outcome = await this.#post(renderSlackMessage(diagnosis, { quote }));
    // A webhook message cannot be edited, so the resolve is a new message: remember the cause to quote it then.
    const cause = leadingAlert(diagnosis)?.causes[0];
    if (outcome.status === "delivered" && diagnosis.status === "firing" && cause && context) {
      await context.saveState({ firingCause: `${cause.title}: ${cause.summary}` } satisfies WebhookGroupState);
    }
    return outcome;
  }

  async #post(message: SlackMessage): Promise<SinkOutcome> {
    const release = await this.#pacer.acquire(WEBHOOK);
    try {
      const exchange = await sendHttp({
        method: "POST",
        url: this.#webhookUrl,
        headers: { "Content-Type": "application/json; charset=utf-8", Accept: "application/json, text/plain" },
        body: JSON.stringify(message),
        timeoutMs: this.#timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
      });
      const judged = judge(exchange, SLACK_WEBHOOK_API, { what: `Slack webhook at ${this.#origin}`, secrets: this.#secrets });
      if (judged.delivered) return { status: "delivered" };
      if (judged.outcome.status === "retry" && judged.outcome.rateLimited === true) {
        this.#pacer.hold(WEBHOOK, judged.outcome.retryAfterMs ?? SLACK_WEBHOOK_API.rateLimitWaitMs);
      }
      return judged.outcome;
    } finally {
      release();
    }
  }
}

/** A sink posts to one webhook URL, so its pacer has one destination. */
const WEBHOOK = "webhook";

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
