// A stand-in for a Slack incoming webhook that accepts, rejects and rate-limits messages the way Slack does (protocols.md 2.1, 2.2, 2.4).
import type { SlackMessage } from "../../src/render/slack-blocks.ts";
import { type BlockKitOptions, isObject, messageProblems } from "./block-kit-limits.ts";
import { type ScriptedFailure, type StandInReply, startHttpStandIn } from "./http-standin.ts";
import {
  type LimitSetting,
  masked,
  RateLimitLedger,
  type RateLimitRecord,
  type TokenBucketRate,
  tokenBucket,
  wholeSeconds,
} from "./standin-rate-limits.ts";

/**
 * Slack's limit for incoming webhooks: "Posting messages: 1 per second. Short bursts >1 allowed" per webhook URL
 * (api.slack.com/docs/rate-limits). Slack does not publish the size of a burst; users report 25 to 40 before the first
 * 429 (PSSlack#52). The stand-in allows 3, so a client that keeps to it keeps to Slack's.
 */
export const SLACK_WEBHOOK_RATE_LIMIT: TokenBucketRate = { perSecond: 1, burst: 3 };

export interface SlackStandInOptions extends BlockKitOptions {
  /** The webhook path the stand-in serves; any other path gets 404 `no_service`. */
  webhookPath?: string;
  /**
   * The posting limit per webhook URL, on by default: a faster client gets 429 with Retry-After in whole seconds. A test
   * that needs more speed may raise it, saying why; "off" only where a test sends on purpose without any pacing.
   */
  rateLimit?: LimitSetting<TokenBucketRate>;
  /** Called with each message as Slack accepts it (the bench times arrivals with it). */
  onMessage?: (message: SlackMessage) => void;
}

export interface SlackStandIn {
  /** Base URL: scheme, host and port. */
  url: string;
  /** The URL to configure the sink with; its path is the (fake) token. */
  webhookUrl: string;
  /** Bodies Slack would have posted, in order. The stand-in checked Block Kit limits, not every field's type. */
  messages: SlackMessage[];
  /** Why each rejected request was rejected, as Slack-like JSON pointers. */
  rejections: string[][];
  /** Requests that reached the handler, accepted or not (scripted failures excluded). */
  requests: number;
  /** The 429s the posting limit sent, and the requests that came back before their Retry-After had passed. */
  rateLimits: RateLimitRecord;
  failNext(count: number, failure: ScriptedFailure): void;
  close(): Promise<void>;
}

export const SLACK_STANDIN_WEBHOOK_PATH = "/services/T000/B000/XXXX";

const FAILURE_BODIES: Record<number, string> = {
  400: "invalid_payload",
  403: "action_prohibited",
  404: "channel_not_found",
  410: "channel_is_archived",
  429: "rate_limited",
  500: "rollup_error",
};

export async function startSlackStandIn(options: SlackStandInOptions = {}): Promise<SlackStandIn> {
  const webhookPath = options.webhookPath ?? SLACK_STANDIN_WEBHOOK_PATH;
  const messages: SlackMessage[] = [];
  const rejections: string[][] = [];
  let requests = 0;
  const rateLimit = options.rateLimit ?? SLACK_WEBHOOK_RATE_LIMIT;
  const limiter = rateLimit === "off" ? undefined : tokenBucket(rateLimit);
  const ledger = new RateLimitLedger();
  const text = (status: number, body: string): StandInReply => ({ status, body, contentType: "text/plain" });

  const server = await startHttpStandIn(
    (request, raw) => {
      requests += 1;
      if (request.method !== "POST") return text(405, "invalid_method");
      const path = new URL(request.url ?? "/", "http://standin").pathname;
      if (path !== webhookPath) return text(404, "no_service");
      if (limiter !== undefined) {
        const decision = ledger.check(`webhook ${masked(path)}`, limiter, (ms) => wholeSeconds(ms) * 1000, {
          request: raw.toString("utf8"),
        });
        if (!decision.allowed) {
          // Slack documents the status and the header; the body of a webhook 429 is not documented, its error name is used.
          return { ...text(429, "rate_limited"), headers: { "Retry-After": String((decision.announcedWaitMs ?? 1000) / 1000) } };
        }
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        rejections.push(["body is not JSON"]);
        return text(400, "invalid_payload");
      }
      if (!isObject(body)) {
        rejections.push(["body is not a JSON object"]);
        return text(400, "invalid_payload");
      }
      const problem = messageProblems(body, options);
      if (problem !== undefined) {
        const [code, ...reasons] = problem;
        rejections.push(reasons);
        return text(400, code);
      }
      messages.push(body as unknown as SlackMessage);
      options.onMessage?.(body as unknown as SlackMessage);
      return text(200, "ok");
    },
    (status) => ({ body: FAILURE_BODIES[status] ?? "unexpected_error", contentType: "text/plain" }),
  );

  return {
    url: server.url,
    webhookUrl: `${server.url}${webhookPath}`,
    messages,
    rejections,
    get requests() {
      return requests;
    },
    rateLimits: ledger,
    failNext: server.failNext,
    close: server.close,
  };
}
