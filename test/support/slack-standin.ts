// A stand-in for a Slack incoming webhook that accepts and rejects messages the way Slack does (protocols.md 2.1, 2.2).
import type { SlackMessage } from "../../src/render/slack-blocks.ts";
import { type ScriptedFailure, type StandInReply, startHttpStandIn } from "./http-standin.ts";

export interface SlackStandInOptions {
  /** The webhook path the stand-in serves; any other path gets 404 `no_service`. */
  webhookPath?: string;
  /**
   * Reject with `msg_blocks_too_long` when the blocks carry more text than this in total. Slack has such a limit but
   * does not publish it (reports say 12-13 k characters), so it is opt-in.
   */
  maxTotalBlockText?: number;
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

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textLength(value: unknown): number {
  return isObject(value) && typeof value.text === "string" ? value.text.length : 0;
}

/** Checks one text object; returns the problems found under `pointer`. */
function textObjectErrors(value: unknown, pointer: string, max: number, types: string[]): string[] {
  if (!isObject(value)) return [`${pointer}: must be a text object`];
  const errors: string[] = [];
  if (typeof value.type !== "string" || !types.includes(value.type)) errors.push(`${pointer}/type: must be one of ${types.join(", ")}`);
  if (typeof value.text !== "string") return [...errors, `${pointer}/text: required`];
  if (value.text.length < 1) errors.push(`${pointer}/text: must be at least 1 character`);
  if (value.text.length > max) errors.push(`${pointer}/text: must be less than ${max + 1} characters`);
  return errors;
}

function blockErrors(block: unknown, pointer: string): string[] {
  if (!isObject(block)) return [`${pointer}: must be an object`];
  const errors: string[] = [];
  if (block.block_id !== undefined && (typeof block.block_id !== "string" || block.block_id.length > 255)) {
    errors.push(`${pointer}/block_id: must be a string of at most 255 characters`);
  }
  switch (block.type) {
    case "header":
      errors.push(...textObjectErrors(block.text, `${pointer}/text`, 150, ["plain_text"]));
      break;
    case "section": {
      if (block.text === undefined && block.fields === undefined) errors.push(`${pointer}: must have text or fields`);
      if (block.text !== undefined) errors.push(...textObjectErrors(block.text, `${pointer}/text`, 3000, ["mrkdwn", "plain_text"]));
      if (block.fields !== undefined) {
        if (!Array.isArray(block.fields) || block.fields.length < 1 || block.fields.length > 10) {
          errors.push(`${pointer}/fields: must have 1 to 10 items`);
        } else {
          for (const [i, f] of block.fields.entries()) {
            errors.push(...textObjectErrors(f, `${pointer}/fields/${i}`, 2000, ["mrkdwn", "plain_text"]));
          }
        }
      }
      break;
    }
    case "context":
      if (!Array.isArray(block.elements) || block.elements.length < 1 || block.elements.length > 10) {
        errors.push(`${pointer}/elements: must have 1 to 10 items`);
      } else {
        for (const [i, e] of block.elements.entries()) {
          if (isObject(e) && e.type === "image") continue;
          errors.push(...textObjectErrors(e, `${pointer}/elements/${i}`, 3000, ["mrkdwn", "plain_text"]));
        }
      }
      break;
    case "actions": {
      if (!Array.isArray(block.elements) || block.elements.length < 1 || block.elements.length > 25) {
        errors.push(`${pointer}/elements: must have 1 to 25 items`);
        break;
      }
      const actionIds = new Set<string>();
      for (const [i, e] of block.elements.entries()) {
        const at = `${pointer}/elements/${i}`;
        if (!isObject(e) || e.type !== "button") continue;
        errors.push(...textObjectErrors(e.text, `${at}/text`, 75, ["plain_text"]));
        if (e.url !== undefined && (typeof e.url !== "string" || e.url.length > 3000))
          errors.push(`${at}/url: must be at most 3000 characters`);
        if (e.action_id !== undefined) {
          if (typeof e.action_id !== "string" || e.action_id.length > 255) errors.push(`${at}/action_id: must be at most 255 characters`);
          else if (actionIds.has(e.action_id)) errors.push(`${at}/action_id: must be unique in the block`);
          else actionIds.add(e.action_id);
        }
      }
      break;
    }
    case "divider":
    case "image":
    case "markdown":
    case "rich_text":
      break;
    default:
      errors.push(`${pointer}/type: unknown block type`);
  }
  return errors;
}

function blockText(block: unknown): number {
  if (!isObject(block)) return 0;
  const fields = Array.isArray(block.fields) ? block.fields.reduce<number>((n, f) => n + textLength(f), 0) : 0;
  const elements = Array.isArray(block.elements)
    ? block.elements.reduce<number>((n, e) => n + textLength(e) + (isObject(e) ? textLength(e.text) : 0), 0)
    : 0;
  return textLength(block.text) + fields + elements;
}

/** Validates a webhook body; the first element of the result is the Slack error code, the rest are the reasons. */
function validate(body: Json, options: SlackStandInOptions): [string, ...string[]] | undefined {
  const hasText = typeof body.text === "string" && body.text !== "";
  const topBlocks: unknown[] = Array.isArray(body.blocks) ? body.blocks : [];
  const attachments: unknown[] = Array.isArray(body.attachments) ? body.attachments : [];
  if (body.blocks !== undefined && !Array.isArray(body.blocks)) return ["invalid_blocks", "/blocks: must be an array"];
  if (body.attachments !== undefined && !Array.isArray(body.attachments)) return ["invalid_payload", "/attachments: must be an array"];
  if (!hasText && topBlocks.length === 0 && attachments.length === 0) return ["no_text", "/text: text or blocks required"];

  const all: Array<[unknown, string]> = topBlocks.map((b, i) => [b, `/blocks/${i}`]);
  for (const [i, a] of attachments.entries()) {
    if (!isObject(a) || !Array.isArray(a.blocks)) continue;
    for (const [j, b] of a.blocks.entries()) all.push([b, `/attachments/${i}/blocks/${j}`]);
  }
  const errors: string[] = [];
  if (all.length > 50) errors.push(`/blocks: at most 50 blocks per message including attachments, got ${all.length}`);
  for (const [block, pointer] of all) errors.push(...blockErrors(block, pointer));
  if (errors.length > 0) return ["invalid_blocks", ...errors];
  if (options.maxTotalBlockText !== undefined) {
    const total = all.reduce((n, [block]) => n + blockText(block), 0);
    if (total > options.maxTotalBlockText) return ["msg_blocks_too_long", `blocks carry ${total} characters`];
  }
  return undefined;
}

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
      const problem = validate(body, options);
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
