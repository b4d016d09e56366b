// The Slack Web API as the Slack sink uses it: single calls with no retries (the store's outbox owns retries), the
// external file upload flow, and posts paced per channel by priority. A 429 holds what it limited (the channel, or the
// method's tier) for every delivery loop until its Retry-After has passed. Each answer goes through the outcome table.
import { DestinationPacer } from "./destination-pacer.ts";
import { originOf, sendHttp } from "./http-delivery.ts";
import { type ErrorNameRule, judge, type ServiceApi, type SinkFailure } from "./outcome-table.ts";

export type Json = Record<string, unknown>;
export type SlackAnswer = { ok: true; body: Json } | { ok: false; outcome: SinkFailure };
export type SlackPosted = { ok: true; channel: string; ts: string } | { ok: false; outcome: SinkFailure };

export interface SlackWebApiClientOptions {
  /** The bot token (xoxb-…): a secret, it never appears in an outcome. */
  botToken: string;
  /** The Web API base URL, e.g. https://slack.com/api. */
  apiUrl: string;
  /** For each HTTP call. */
  timeoutMs?: number;
  /** The least time between two posts to one channel: Slack allows about one message per second per channel. */
  postIntervalMs?: number;
}

export interface SlackFile {
  bytes: Buffer;
  filename: string;
  title: string;
  altText: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// A little over a second: the gap is measured when a request leaves, Slack measures when it arrives.
const DEFAULT_POST_INTERVAL_MS = 1100;
const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_UPLOAD_ANSWER_BYTES = 64 * 1024;

const transient = (hint?: string): ErrorNameRule => ({ retry: true, ...(hint !== undefined ? { hint } : {}) });
const permanent = (hint?: string): ErrorNameRule => ({ retry: false, ...(hint !== undefined ? { hint } : {}) });
const rateLimited: ErrorNameRule = { retry: true, rateLimited: true };

/**
 * The error names of chat.postMessage, chat.update and the upload methods (protocols.md 2.1; Slack's method pages).
 * Slack answers them with HTTP 200 and `"ok": false`, so the name, not the status, says "not now" or "not ever".
 * A name not listed here fails unless its status says otherwise (429, 5xx).
 */
export const SLACK_ERROR_NAMES: Readonly<Record<string, ErrorNameRule>> = {
  ratelimited: rateLimited,
  rate_limited: rateLimited,
  internal_error: transient(),
  fatal_error: transient(),
  service_unavailable: transient(),
  // "The POST data was either missing or truncated": cut off on the way, nothing was posted.
  request_timeout: transient(),
  // "Intermittently unavailable until the transition is complete": an Enterprise Grid migration.
  team_added_to_org: transient("the workspace is migrating to an Enterprise Organization"),
  org_login_required: transient("the workspace is migrating to an Enterprise Organization"),

  channel_not_found: permanent(
    "no channel by that name or ID is visible to the bot; check SLACK_CHANNEL, where an ID such as C0123456789 is safest",
  ),
  not_in_channel: permanent("the bot is not a member of the channel; invite it with /invite"),
  is_archived: permanent("the channel is archived"),
  invalid_auth: permanent("SLACK_BOT_TOKEN is not a valid token"),
  not_authed: permanent("no token reached Slack; check SLACK_BOT_TOKEN"),
  account_inactive: permanent("the token belongs to a deleted user or an uninstalled app; reinstall the app and update SLACK_BOT_TOKEN"),
  token_revoked: permanent("the token was revoked; reinstall the app and update SLACK_BOT_TOKEN"),
  token_expired: permanent("the token expired; update SLACK_BOT_TOKEN"),
  missing_scope: permanent("the token lacks a scope the call needs: chat:write for messages, files:write for charts"),
  no_permission: permanent("the token may not post there; check that the app is a member of the channel"),
  ekm_access_denied: permanent("administrators have suspended posting"),
  restricted_action: permanent("a workspace preference keeps the bot from posting"),
  restricted_action_read_only_channel: permanent("the channel is read-only"),
  restricted_action_thread_only_channel: permanent(),
  restricted_action_non_threadable_channel: permanent(),
  invalid_blocks: permanent("Slack rejected the message's blocks"),
  invalid_blocks_format: permanent(),
  msg_too_long: permanent("the message text is too long"),
  msg_blocks_too_long: permanent("the blocks carry more text than Slack accepts"),
  no_text: permanent(),
  too_many_attachments: permanent(),
  invalid_arguments: permanent(),
  invalid_arg_name: permanent(),
  invalid_charset: permanent(),
  invalid_form_data: permanent(),
  invalid_post_type: permanent(),
  missing_post_type: permanent(),
  invalid_json: permanent(),
  // chat.update: the message is gone or no longer ours to edit (the sink posts a new one).
  message_not_found: permanent(),
  cant_update_message: permanent(),
  edit_window_closed: permanent(),
};

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJson(text: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Slack's error names are short snake_case words; anything else is not used as a metric label. */
function errorName(value: unknown): string | undefined {
  return typeof value === "string" && /^[a-z][a-z0-9_]{0,63}$/.test(value) ? value : undefined;
}

/** Slack's own explanation where it gave one (`needed` scope, block errors). */
function explanation(body: Json): string {
  const parts: string[] = [];
  if (typeof body.error === "string" && errorName(body.error) === undefined) parts.push(body.error);
  if (typeof body.needed === "string") parts.push(`needed: ${body.needed}`);
  const meta = body.response_metadata;
  if (isObject(meta) && Array.isArray(meta.messages)) parts.push(...meta.messages.filter((m): m is string => typeof m === "string"));
  return parts.join("; ");
}

export const SLACK_WEB_API: ServiceApi = {
  read({ status, body }) {
    const json = parseJson(body);
    if (json === undefined) return { accepted: false, said: status === 200 ? "an answer that is not Slack's JSON" : "" };
    if (status >= 200 && status < 300 && json.ok === true) return { accepted: true };
    const name = errorName(json.error) ?? (json.ok === false ? "slack_error" : undefined);
    return { accepted: false, ...(name !== undefined ? { errorName: name } : {}), said: explanation(json) };
  },
  /** Slack's own SDK waits 1 s when a 429 comes without Retry-After (protocols.md 2.4). */
  rateLimitWaitMs: 1000,
  errorNames: SLACK_ERROR_NAMES,
};

/**
 * What a person needs first goes first on a channel: a group's headline (its first message) before thread details,
 * charts last. Posts and replies share the channel's one-per-second pace, as they share Slack's limit.
 */
export const SLACK_PRIORITY = { headline: 0, detail: 1, chart: 2 } as const;
export type SlackPriority = (typeof SLACK_PRIORITY)[keyof typeof SLACK_PRIORITY];

/** Slack's tiers for the methods not paced per channel (protocols.md 2.4): Tier 3 50+ a minute, Tier 4 100+; chat.delete is Tier 3. */
const UPDATE_INTERVAL_MS = 1200;
const UPLOAD_URL_INTERVAL_MS = 600;

export class SlackWebApiClient {
  readonly #token: string;
  readonly #apiUrl: string;
  readonly #origin: string;
  readonly #timeoutMs: number;
  /** Per channel: posts, replies and completed uploads, the most urgent first. */
  readonly #channels: DestinationPacer;
  /** Per method, for chat.update and files.getUploadURLExternal (their limits are per workspace, not per channel). */
  readonly #tiers = new Map<string, DestinationPacer>([
    ["chat.update", new DestinationPacer({ kind: "interval", intervalMs: UPDATE_INTERVAL_MS })],
    ["files.getUploadURLExternal", new DestinationPacer({ kind: "interval", intervalMs: UPLOAD_URL_INTERVAL_MS })],
    ["chat.delete", new DestinationPacer({ kind: "interval", intervalMs: UPDATE_INTERVAL_MS })],
  ]);

  constructor(options: SlackWebApiClientOptions) {
    this.#token = options.botToken;
    this.#apiUrl = options.apiUrl.replace(/\/+$/, "");
    this.#origin = originOf(this.#apiUrl);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#channels = new DestinationPacer({ kind: "interval", intervalMs: options.postIntervalMs ?? DEFAULT_POST_INTERVAL_MS });
  }

  /** chat.postMessage, paced per channel by priority; answers where the message is: the channel ID and its ts. */
  async postMessage(args: Json & { channel: string }, priority: SlackPriority, about?: string): Promise<SlackPosted> {
    await this.#channels.acquire(args.channel, priority);
    const answer = await this.call("chat.postMessage", { ...args, unfurl_links: false, unfurl_media: false }, about);
    if (!answer.ok) return answer;
    const { channel, ts } = answer.body;
    if (typeof channel !== "string" || typeof ts !== "string") {
      const error = this.#describe("chat.postMessage", args, "answered ok without channel and ts", about);
      return { ok: false, outcome: { status: "failed", code: "invalid_response", error } };
    }
    // Slack answers with the channel's ID: a post by name and one by ID share the channel's pace from then on.
    this.#channels.alias(args.channel, channel);
    return { ok: true, channel, ts };
  }

  /** chat.update: a separate rate tier (Tier 3), so paced on its own, not with the channel's posts. */
  async updateMessage(args: Json & { channel: string; ts: string }, about?: string): Promise<SlackAnswer> {
    await this.#tiers.get("chat.update")?.acquire("chat.update");
    return this.call("chat.update", args, about);
  }

  /** chat.delete (Tier 3): only ever a message of this app's own that another replica's message made redundant. */
  async deleteMessage(args: { channel: string; ts: string }, about?: string): Promise<SlackAnswer> {
    await this.#tiers.get("chat.delete")?.acquire("chat.delete");
    return this.call("chat.delete", args, about);
  }

  /**
   * Shares a file into a thread through the flow that replaced files.upload (protocols.md 2.3):
   * files.getUploadURLExternal, the bytes to the upload URL, files.completeUploadExternal. Answers the file ID, or why
   * it was not shared.
   */
  async shareFile(
    file: SlackFile,
    where: { channel: string; threadTs: string },
  ): Promise<{ ok: true; fileId: string } | { ok: false; why: string }> {
    await this.#tiers.get("files.getUploadURLExternal")?.acquire("files.getUploadURLExternal");
    const asked = await this.call("files.getUploadURLExternal", {
      filename: file.filename,
      length: file.bytes.length,
      alt_txt: file.altText,
    });
    if (!asked.ok) return { ok: false, why: asked.outcome.error };
    const { upload_url: uploadUrl, file_id: fileId } = asked.body;
    if (typeof uploadUrl !== "string" || typeof fileId !== "string" || !/^https?:\/\//.test(uploadUrl)) {
      return { ok: false, why: "files.getUploadURLExternal answered without an upload URL and file ID" };
    }
    const uploaded = await this.#upload(uploadUrl, file.bytes);
    if (uploaded !== undefined) return { ok: false, why: `the upload ${uploaded}` };
    // Completing the upload posts the file into the thread: a message like any other for the channel's limit.
    await this.#channels.acquire(where.channel, SLACK_PRIORITY.chart);
    const completed = await this.call("files.completeUploadExternal", {
      files: [{ id: fileId, title: file.title }],
      channel_id: where.channel,
      thread_ts: where.threadTs,
    });
    return completed.ok ? { ok: true, fileId } : { ok: false, why: completed.outcome.error };
  }

  /** One call, no retries; its answer judged by the outcome table with Slack's error names. */
  async call(method: string, args: Json, about?: string): Promise<SlackAnswer> {
    const exchange = await sendHttp({
      method: "POST",
      url: `${this.#apiUrl}/${method}`,
      headers: { Authorization: `Bearer ${this.#token}`, "Content-Type": "application/json; charset=utf-8", Accept: "application/json" },
      body: JSON.stringify(args),
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_ANSWER_BYTES,
    });
    const judged = judge(exchange, SLACK_WEB_API, { what: this.#describe(method, args, undefined, about), secrets: [this.#token] });
    if (!judged.delivered) {
      if (judged.outcome.status === "retry" && judged.outcome.rateLimited === true) this.#hold(method, args, judged.outcome.retryAfterMs);
      return { ok: false, outcome: judged.outcome };
    }
    return { ok: true, body: parseJson(judged.response.body) ?? {} };
  }

  /** A 429 limits what Slack counts the call against: the channel for posts, else the method's tier. */
  #hold(method: string, args: Json, retryAfterMs = SLACK_WEB_API.rateLimitWaitMs): void {
    const channel = method === "chat.postMessage" ? args.channel : method === "files.completeUploadExternal" ? args.channel_id : undefined;
    if (typeof channel === "string") this.#channels.hold(channel, retryAfterMs);
    else this.#tiers.get(method)?.hold(method, retryAfterMs);
  }

  /** POSTs the bytes to the pre-signed upload URL; the token stays out of it because the URL itself authorises the upload. */
  async #upload(url: string, bytes: Buffer): Promise<string | undefined> {
    const exchange = await sendHttp({
      method: "POST",
      url,
      headers: { "Content-Type": "application/octet-stream" },
      body: bytes,
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_UPLOAD_ANSWER_BYTES,
    });
    if ("transportFailure" in exchange) return exchange.transportFailure.text;
    // Slack: "HTTP 200 if the upload is successful; a non-200 response indicates a failure" (protocols.md 2.3).
    return exchange.response.status === 200 ? undefined : `answered HTTP ${exchange.response.status}`;
  }

  #describe(method: string, args: Json, what?: string, about?: string): string {
    const call = about !== undefined ? `${method} (${about})` : method;
    const channel = typeof args.channel === "string" ? args.channel : typeof args.channel_id === "string" ? args.channel_id : undefined;
    const text = `Slack Web API at ${this.#origin} ${call}${channel !== undefined ? ` for channel ${channel}` : ""}`;
    return what !== undefined ? `${text} ${what}` : text;
  }
}
