// A stand-in for a Slack incoming webhook that accepts and rejects messages the way Slack does (protocols.md 2.1, 2.2).
import type { SlackMessage } from "../../src/render/slack-blocks.ts";
import { type BlockKitOptions, isObject, messageProblems } from "./block-kit-limits.ts";
import { type ScriptedFailure, type StandInReply, startHttpStandIn } from "./http-standin.ts";

export interface SlackStandInOptions extends BlockKitOptions {
  /** The webhook path the stand-in serves; any other path gets 404 `no_service`. */
  webhookPath?: string;
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
  const text = (status: number, body: string): StandInReply => ({ status, body, contentType: "text/plain" });

  const server = await startHttpStandIn(
    (request, raw) => {
      requests += 1;
      if (request.method !== "POST") return text(405, "invalid_method");
      if (new URL(request.url ?? "/", "http://standin").pathname !== webhookPath) return text(404, "no_service");
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
    failNext: server.failNext,
    close: server.close,
  };
}
