// A stand-in for the Slack Web API (auth.test, chat.postMessage, chat.update, the external file upload flow) that checks
// what Slack checks and rate-limits what Slack rate-limits (protocols.md 2).
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { listenOnLoopback } from "../../testkit/loopback-server.ts";
import { type BlockKitOptions, isObject, messageProblems } from "./block-kit-limits.ts";
import type { ScriptedFailure } from "./http-standin.ts";
import {
  type LimitSetting,
  type Limiter,
  RateLimitLedger,
  type RateLimitRecord,
  type TokenBucketRate,
  tokenBucket,
  wholeSeconds,
} from "./standin-rate-limits.ts";

type Json = Record<string, unknown>;

export const SLACK_STANDIN_BOT_TOKEN = "xoxb-1111111111-2222222222-StandInBotTokenSecret42";
export const SLACK_STANDIN_CHANNEL_ID = "C0ENRICHER1";
export const SLACK_STANDIN_CHANNEL_NAME = "alerts";

/** The methods the stand-in limits, each with its own bucket. */
export type RateLimitedMethod =
  "chat.postMessage" | "chat.update" | "chat.delete" | "files.getUploadURLExternal" | "files.completeUploadExternal";

/**
 * Slack's published limits (api.slack.com/docs/rate-limits, the methods' pages; protocols.md 2.4), as token buckets:
 * - chat.postMessage, per channel: "generally allows posting one message per second per channel", "short bursts >1
 *   allowed". The size of a burst is not published (users report 25 to 40, PSSlack#52); 3 here, so a client that keeps
 *   to the stand-in keeps to Slack. Slack's further workspace-wide limit is not published and not modelled.
 * - chat.update: Tier 3, "50+ per minute", "sporadic bursts are welcome"; per method per workspace (the stand-in is one
 *   workspace); chat.delete likewise Tier 3, in a bucket of its own. files.getUploadURLExternal and files.completeUploadExternal: Tier 4 each, "100+ per minute".
 *   A tier's bucket holds a fifth of its minute (10 and 20 calls), refilled at the tier's rate.
 * The bytes POSTed to the upload URL are not limited: Slack documents no limit there.
 */
export const SLACK_WEB_API_RATE_LIMITS: Readonly<Record<RateLimitedMethod, TokenBucketRate>> = {
  "chat.postMessage": { perSecond: 1, burst: 3 },
  "chat.update": { perSecond: 50 / 60, burst: 10 },
  "chat.delete": { perSecond: 50 / 60, burst: 10 },
  "files.getUploadURLExternal": { perSecond: 100 / 60, burst: 20 },
  "files.completeUploadExternal": { perSecond: 100 / 60, burst: 20 },
};

export interface SlackWebApiStandInOptions extends BlockKitOptions {
  token?: string;
  /** The channels that exist and have the bot in them. */
  channels?: Array<{ id: string; name: string }>;
  /**
   * Replaces some of Slack's limits (the rest stay as SLACK_WEB_API_RATE_LIMITS). A call over its limit gets HTTP 429,
   * `Retry-After` in whole seconds and `{"ok":false,"error":"ratelimited"}`. A test that needs more speed may raise a
   * limit, saying why; "off" only where a test is about something else and cannot meet the limit.
   */
  rateLimits?: Partial<Record<RateLimitedMethod, LimitSetting<TokenBucketRate>>>;
  /** Called as Slack accepts each post or edit (the bench times them with it). */
  onChange?: (change: { kind: "posted" | "edited" | "deleted"; message: StandInMessage }) => void;
}

export interface StandInMessageContent {
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
}

export interface StandInMessage extends StandInMessageContent {
  channel: string;
  ts: string;
  /** The parent's ts, for a reply in a thread. */
  thread_ts?: string;
  /** Each chat.update applied, oldest first; the content fields show the latest. */
  updates: StandInMessageContent[];
}

export interface StandInFile {
  id: string;
  filename: string;
  /** The length announced to files.getUploadURLExternal. */
  length: number;
  altText?: string;
  /** The bytes POSTed to the upload URL. */
  bytes?: Buffer;
  /** Set by files.completeUploadExternal, which may be called once. */
  completed: boolean;
  title?: string;
  channel?: string;
  thread_ts?: string;
}

export interface SlackApiCall {
  method: string;
  body: Json;
  /** Slack's error name when the call was refused; absent when it succeeded. */
  error?: string;
  /** Why, for a test that fails: JSON pointers for blocks, the offending argument otherwise. */
  reasons?: string[];
}

export interface SlackWebApiStandIn {
  /** Base URL: scheme, host and port. */
  url: string;
  /** The URL to configure the sink with: the base of every method (`${apiUrl}/chat.postMessage`). */
  apiUrl: string;
  token: string;
  channelId: string;
  /** Every message posted, in order, replies included; deleted ones are gone. */
  messages: StandInMessage[];
  files: StandInFile[];
  /** Every API call that reached the handler (scripted failures excluded), accepted or not. */
  calls: SlackApiCall[];
  /** Slack's `warning` answers, such as `missing_charset`. */
  warnings: string[];
  /** The 429s the limits sent, and the requests that came back before their Retry-After had passed. */
  rateLimits: RateLimitRecord;
  /** The top-level messages of the channel, in order. */
  parents(): StandInMessage[];
  /** The replies in one message's thread, in order. */
  replies(ts: string): StandInMessage[];
  /** The calls of one method, in order. */
  callsTo(method: string): SlackApiCall[];
  /** As if someone deleted the message in Slack: later edits get `message_not_found`. */
  deleteMessage(ts: string): void;
  /**
   * Answers the next `count` requests (or those to `where.method`, after letting `where.after` of them through)
   * with `failure` instead of handling them. The upload URL counts as the method "upload".
   */
  failNext(count: number, failure: ScriptedFailure, where?: { method?: string; after?: number }): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: string;
  contentType: string;
  headers?: Record<string, string>;
}

function json(body: Json, status = 200, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(body), contentType: "application/json; charset=utf-8", headers };
}

class Refusal {
  readonly error: string;
  readonly reasons: string[];
  constructor(error: string, ...reasons: string[]) {
    this.error = error;
    this.reasons = reasons;
  }
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;

function defaultFailure(failure: ScriptedFailure): Reply {
  const status = failure.status ?? 500;
  const headers = failure.retryAfterSeconds !== undefined ? { "Retry-After": String(failure.retryAfterSeconds) } : undefined;
  if (failure.body !== undefined) {
    const isJson = (() => {
      try {
        JSON.parse(failure.body);
        return true;
      } catch {
        return false;
      }
    })();
    return { status, body: failure.body, contentType: isJson ? "application/json; charset=utf-8" : "text/plain", headers };
  }
  if (status === 429) return json({ ok: false, error: "ratelimited" }, 429, headers);
  if (status >= 500) return { status, body: "<html><body>Service Unavailable</body></html>", contentType: "text/html", headers };
  return json({ ok: false, error: "invalid_request" }, status, headers);
}

export async function startSlackWebApiStandIn(options: SlackWebApiStandInOptions = {}): Promise<SlackWebApiStandIn> {
  const token = options.token ?? SLACK_STANDIN_BOT_TOKEN;
  const channels = options.channels ?? [{ id: SLACK_STANDIN_CHANNEL_ID, name: SLACK_STANDIN_CHANNEL_NAME }];
  const messages: StandInMessage[] = [];
  const files: Array<StandInFile & { key: string }> = [];
  const calls: SlackApiCall[] = [];
  const warnings: string[] = [];
  const ledger = new RateLimitLedger();
  const limiters = new Map<string, Limiter>();
  for (const [method, rate] of Object.entries({ ...SLACK_WEB_API_RATE_LIMITS, ...options.rateLimits })) {
    if (rate !== "off") limiters.set(method, tokenBucket(rate));
  }
  const script: Array<{ method?: string; after: number; remaining: number; failure: ScriptedFailure }> = [];
  let sequence = 0;
  let baseUrl = "";

  const nextTs = () => {
    sequence += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(sequence).padStart(6, "0")}`;
  };

  /** A channel ID, or a name with or without "#" where Slack accepts one (chat.postMessage). */
  const channelById = (value: unknown): string => {
    const found = channels.find((c) => c.id === value);
    if (found === undefined) throw new Refusal("channel_not_found", `/channel: no channel with the ID ${String(value)}`);
    return found.id;
  };
  const channelByIdOrName = (value: unknown): string => {
    const name = typeof value === "string" ? value.replace(/^#/, "") : undefined;
    const found = channels.find((c) => c.id === value || c.name === name);
    if (found === undefined) throw new Refusal("channel_not_found", `/channel: no channel ${String(value)}`);
    return found.id;
  };
  /** Slack: "Avoid using a reply's ts value; use its parent instead." The stand-in refuses, to catch the mistake. */
  const parentIn = (channel: string, threadTs: unknown): string => {
    const parent = messages.find((m) => m.channel === channel && m.ts === threadTs);
    if (parent === undefined) throw new Refusal("invalid_thread_ts", `/thread_ts: no message ${String(threadTs)} in ${channel}`);
    if (parent.thread_ts !== undefined) throw new Refusal("invalid_thread_ts", `/thread_ts: ${String(threadTs)} is a reply, not a parent`);
    return parent.ts;
  };
  const checkMessage = (content: Json) => {
    const problem = messageProblems(content, options);
    if (problem !== undefined) throw new Refusal(...problem);
  };
  const contentOf = (body: { text?: unknown; blocks?: unknown; attachments?: unknown }): StandInMessageContent => ({
    ...(typeof body.text === "string" ? { text: body.text } : {}),
    ...(Array.isArray(body.blocks) ? { blocks: body.blocks } : {}),
    ...(Array.isArray(body.attachments) ? { attachments: body.attachments } : {}),
  });

  /**
   * Slack's answer when `method` is over its limit in `bucket`: HTTP 429, Retry-After in seconds and the error in
   * JSON (protocols.md 2.4). Checked once the call is understood (token, channel), before its content is judged.
   */
  const rateLimited = (method: RateLimitedMethod, bucket: string, body: Json): Reply | undefined => {
    const limiter = limiters.get(method);
    if (limiter === undefined) return undefined;
    const decision = ledger.check(bucket, limiter, (ms) => wholeSeconds(ms) * 1000, { request: `${method} ${JSON.stringify(body)}` });
    if (decision.allowed) return undefined;
    const seconds = (decision.announcedWaitMs ?? 1000) / 1000;
    calls.push({ method, body, error: "ratelimited", reasons: [`over the limit of ${bucket}; Retry-After ${seconds}`] });
    return json({ ok: false, error: "ratelimited" }, 429, { "Retry-After": String(seconds) });
  };

  const methods: Record<string, (body: Json) => Reply> = {
    /** Checks the token and says whose it is; posts nothing (docs.slack.dev/reference/methods/auth.test). */
    "auth.test"() {
      return json({
        ok: true,
        url: "https://enricher-standin.slack.com/",
        team: "Enricher Stand-in",
        user: "alert-enricher",
        team_id: "T0ENRICHER",
        user_id: "U0ENRICHER",
        bot_id: "B0ENRICHER",
        is_enterprise_install: false,
      });
    },
    "chat.postMessage"(body) {
      const channel = channelByIdOrName(body.channel);
      const threadTs = body.thread_ts !== undefined ? parentIn(channel, body.thread_ts) : undefined;
      const limited = rateLimited("chat.postMessage", `chat.postMessage ${channel}`, body);
      if (limited !== undefined) return limited;
      checkMessage(body);
      const message: StandInMessage = {
        channel,
        ts: nextTs(),
        ...(threadTs ? { thread_ts: threadTs } : {}),
        ...contentOf(body),
        updates: [],
      };
      messages.push(message);
      options.onChange?.({ kind: "posted", message });
      return json({
        ok: true,
        channel,
        ts: message.ts,
        message: { type: "message", text: message.text, ts: message.ts, thread_ts: threadTs },
      });
    },
    "chat.update"(body) {
      const channel = channelById(body.channel);
      const message = messages.find((m) => m.channel === channel && m.ts === body.ts);
      if (message === undefined) throw new Refusal("message_not_found", `/ts: no message ${String(body.ts)} in ${channel}`);
      const limited = rateLimited("chat.update", "chat.update", body);
      if (limited !== undefined) return limited;
      // "If blocks or attachments are left out, the previous ones are kept" (protocols.md 2.1).
      const next = { ...contentOf(message), ...contentOf(body) };
      checkMessage({ ...next });
      Object.assign(message, next);
      message.updates.push(contentOf(body));
      options.onChange?.({ kind: "edited", message });
      return json({ ok: true, channel, ts: message.ts, text: message.text ?? "" });
    },
    "chat.delete"(body) {
      const channel = channelById(body.channel);
      const index = messages.findIndex((m) => m.channel === channel && m.ts === body.ts);
      if (index < 0) throw new Refusal("message_not_found", `/ts: no message ${String(body.ts)} in ${channel}`);
      const limited = rateLimited("chat.delete", "chat.delete", body);
      if (limited !== undefined) return limited;
      const [removed] = messages.splice(index, 1);
      options.onChange?.({ kind: "deleted", message: removed! });
      return json({ ok: true, channel, ts: removed!.ts });
    },
    "files.getUploadURLExternal"(body) {
      const limited = rateLimited("files.getUploadURLExternal", "files.getUploadURLExternal", body);
      if (limited !== undefined) return limited;
      if (typeof body.filename !== "string" || body.filename === "") throw new Refusal("invalid_arguments", "/filename: required");
      if (typeof body.length !== "number" || !Number.isInteger(body.length) || body.length < 1) {
        throw new Refusal("invalid_arguments", "/length: a positive integer is required");
      }
      if (body.alt_txt !== undefined && (typeof body.alt_txt !== "string" || body.alt_txt.length > 1000)) {
        throw new Refusal("alt_txt_too_large", "/alt_txt: at most 1000 characters");
      }
      const file = {
        id: `F${String(files.length + 1).padStart(10, "0")}`,
        key: randomBytes(12).toString("hex"),
        filename: body.filename,
        length: body.length,
        ...(typeof body.alt_txt === "string" ? { altText: body.alt_txt } : {}),
        completed: false,
      };
      files.push(file);
      return json({ ok: true, upload_url: `${baseUrl}/upload/v1/${file.key}`, file_id: file.id });
    },
    "files.completeUploadExternal"(body) {
      const limited = rateLimited("files.completeUploadExternal", "files.completeUploadExternal", body);
      if (limited !== undefined) return limited;
      const list: unknown = typeof body.files === "string" ? JSON.parse(body.files) : body.files;
      if (!Array.isArray(list) || list.length === 0 || !list.every((f) => isObject(f) && typeof f.id === "string")) {
        throw new Refusal("invalid_arguments", '/files: an array of {"id", "title"} is required');
      }
      const channel = body.channel_id !== undefined ? channelById(body.channel_id) : undefined;
      if (body.thread_ts !== undefined && channel === undefined) throw new Refusal("invalid_arguments", "/thread_ts: needs channel_id");
      const threadTs = channel !== undefined && body.thread_ts !== undefined ? parentIn(channel, body.thread_ts) : undefined;
      const found = list.map((f: Json) => {
        const file = files.find((x) => x.id === f.id);
        if (file === undefined || file.completed)
          throw new Refusal("file_not_found", `/files: ${String(f.id)} is unknown or already completed`);
        if (file.bytes === undefined) throw new Refusal("file_not_found", `/files: nothing was uploaded for ${file.id}`);
        return { file, title: typeof f.title === "string" ? f.title : file.filename };
      });
      for (const { file, title } of found) {
        Object.assign(file, { completed: true, title, ...(channel ? { channel } : {}), ...(threadTs ? { thread_ts: threadTs } : {}) });
      }
      return json({ ok: true, files: found.map(({ file, title }) => ({ id: file.id, title })) });
    },
  };

  const handleApi = (method: string, request: IncomingMessage, raw: Buffer): Reply => {
    const handler = methods[method];
    if (handler === undefined) return json({ ok: false, error: "unknown_method" }, 404);
    if (request.headers.authorization === undefined) return refuse(method, {}, new Refusal("not_authed", "no Authorization header"));
    if (request.headers.authorization !== `Bearer ${token}`) return refuse(method, {}, new Refusal("invalid_auth", "wrong bearer token"));
    const contentType = request.headers["content-type"] ?? "";
    if (!/^application\/json\b/i.test(contentType)) {
      return refuse(method, {}, new Refusal("invalid_form_data", `Content-Type ${contentType} is not application/json`));
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      return refuse(method, {}, new Refusal("invalid_json", "body is not JSON"));
    }
    if (!isObject(body)) return refuse(method, {}, new Refusal("invalid_json", "body is not a JSON object"));
    const warning = /charset=utf-8/i.test(contentType) ? undefined : "missing_charset";
    if (warning !== undefined) warnings.push(`${method}: ${warning}`);
    let reply: Reply;
    try {
      reply = handler(body);
    } catch (error) {
      if (error instanceof Refusal) return refuse(method, body, error);
      throw error;
    }
    if (reply.status === 200) calls.push({ method, body });
    if (warning !== undefined && reply.status === 200) {
      const answer = JSON.parse(reply.body) as Json;
      return json({ ...answer, warning }, reply.status, reply.headers);
    }
    return reply;
  };

  const refuse = (method: string, body: Json, refusal: Refusal): Reply => {
    calls.push({ method, body, error: refusal.error, reasons: refusal.reasons });
    return json({ ok: false, error: refusal.error });
  };

  const handleUpload = (key: string, raw: Buffer): Reply => {
    const file = files.find((f) => f.key === key);
    if (file === undefined || file.completed) return { status: 404, body: "no such upload", contentType: "text/plain" };
    if (raw.length !== file.length) {
      return { status: 400, body: `got ${raw.length} bytes, ${file.length} were announced`, contentType: "text/plain" };
    }
    file.bytes = raw;
    return { status: 200, body: `OK - ${raw.length}`, contentType: "text/plain" };
  };

  const takeScripted = (method: string): ScriptedFailure | undefined => {
    const entry = script.find((e) => e.method === undefined || e.method === method);
    if (entry === undefined) return undefined;
    if (entry.after > 0) {
      entry.after -= 1;
      return undefined;
    }
    entry.remaining -= 1;
    if (entry.remaining === 0) script.splice(script.indexOf(entry), 1);
    return entry.failure;
  };

  const send = (response: ServerResponse, reply: Reply) => {
    response.writeHead(reply.status, { "Content-Type": reply.contentType, ...reply.headers });
    response.end(reply.body);
  };

  const server = await listenOnLoopback((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on("end", () => {
      const path = new URL(request.url ?? "/", "http://standin").pathname;
      const api = /^\/api\/([A-Za-z.]+)$/.exec(path);
      const upload = /^\/upload\/v1\/([0-9a-f]+)$/.exec(path);
      const method = api?.[1] ?? (upload !== null ? "upload" : path);
      const failure = takeScripted(method);
      if (failure?.hang === true) {
        server.hold(response);
        return;
      }
      if (failure !== undefined) return send(response, defaultFailure(failure));
      if (request.method !== "POST") return send(response, json({ ok: false, error: "invalid_post_type" }, 405));
      const raw = Buffer.concat(chunks);
      if (api?.[1] !== undefined) return send(response, handleApi(api[1], request, raw));
      if (upload?.[1] !== undefined) return send(response, handleUpload(upload[1], raw));
      send(response, { status: 404, body: "not found", contentType: "text/plain" });
    });
  });
  baseUrl = server.url;

  const standIn: SlackWebApiStandIn = {
    url: server.url,
    apiUrl: `${server.url}/api`,
    token,
    channelId: channels[0]?.id ?? "",
    messages,
    files,
    calls,
    warnings,
    rateLimits: ledger,
    parents: () => messages.filter((m) => m.thread_ts === undefined),
    replies: (ts) => messages.filter((m) => m.thread_ts === ts),
    callsTo: (method) => calls.filter((c) => c.method === method),
    deleteMessage(ts) {
      const index = messages.findIndex((m) => m.ts === ts);
      if (index >= 0) messages.splice(index, 1);
    },
    failNext(count, failure, where = {}) {
      if (count > 0) script.push({ method: where.method, after: where.after ?? 0, remaining: count, failure });
    },
    close: () => server.close(),
  };
  return standIn;
}
