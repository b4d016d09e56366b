// Delivers to Slack through the Web API: one message per alert group, edited as the group changes, the details in its thread.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import axios, { type AxiosResponse } from "axios";
import type { Diagnosis } from "../model/diagnosis.ts";
import { topCause, truncate } from "../render/alert-facts.ts";
import { renderSlackMessage } from "../render/slack-blocks.ts";
import { renderResolvedReply, renderSlackThreadReply } from "../render/slack-thread.ts";
import { originOf, retryAfterMs, serviceText } from "./http-delivery.ts";
import type { DeliveryContext, Sink, SinkOutcome } from "./sink.ts";

export interface SlackChart {
  png: Buffer;
  title: string;
  altText: string;
}

export interface SlackWebApiSinkOptions {
  /** The bot token (xoxb-…): a secret, it never appears in an outcome. */
  botToken: string;
  /** Where new messages go: a channel ID (C0123456789) or name. Edits, replies and files use the ID Slack answers with. */
  channel: string;
  /** The Web API base URL, e.g. https://slack.com/api. */
  apiUrl: string;
  /** For each HTTP call. */
  timeoutMs?: number;
  /** Draws a chart for the thread; when it fails or returns nothing, the delivery goes on without one. */
  chart?: (diagnosis: Diagnosis) => Promise<SlackChart | undefined>;
  /** The least time between two posts to the channel: Slack allows about one message per second per channel. */
  postIntervalMs?: number;
}

/** What the sink remembers about one alert group. `v` lets a later version tell an old shape from its own. */
export interface SlackWebApiState {
  v: 1;
  /** The channel ID Slack answered with, and the message's ts: the message that tells this group's story. */
  channel: string;
  ts: string;
  firstSeenAt: string;
  /** The notification whose rendering the message shows, so a retry of the same delivery does not edit it again. */
  shown: string;
  /** Digest of the diagnosis the thread last described: a re-send that changes nothing adds no reply. */
  replied?: string;
  /** Digest whose chart was uploaded or given up on. */
  charted?: string;
  /** The "Resolved after…" reply is in the thread. */
  resolved: boolean;
}

type SinkFailure = Exclude<SinkOutcome, { status: "delivered" }>;
type Json = Record<string, unknown>;
type ApiAnswer = { ok: true; body: Json } | { ok: false; error: string; outcome: SinkFailure };

const DEFAULT_TIMEOUT_MS = 10_000;
/** Slack's own SDK waits 1 s when a 429 comes without Retry-After (protocols.md 2.4). */
const DEFAULT_RETRY_AFTER_MS = 1000;
// A little over a second: the gap is measured when a request leaves, Slack measures when it arrives.
const DEFAULT_POST_INTERVAL_MS = 1100;
const MAX_ANSWER_BYTES = 1024 * 1024;
const ALT_TEXT = 1000;

/** Slack's answers that say the message can no longer be edited, so the group needs a new one. */
const NOT_EDITABLE = new Set(["message_not_found", "cant_update_message", "edit_window_closed"]);
/** Slack's answers that say "not now" rather than "not ever". */
const TRANSIENT = new Set(["ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable"]);

/** What a person does about Slack's most common refusals. */
const HINTS: Record<string, string> = {
  channel_not_found: "no channel by that name or ID is visible to the bot; check SLACK_CHANNEL, where an ID such as C0123456789 is safest",
  not_in_channel: "the bot is not a member of the channel; invite it with /invite",
  is_archived: "the channel is archived",
  invalid_auth: "SLACK_BOT_TOKEN is not a valid token",
  not_authed: "no token reached Slack; check SLACK_BOT_TOKEN",
  account_inactive: "the token belongs to a deleted user or an uninstalled app; reinstall the app and update SLACK_BOT_TOKEN",
  token_revoked: "the token was revoked; reinstall the app and update SLACK_BOT_TOKEN",
  token_expired: "the token expired; update SLACK_BOT_TOKEN",
  missing_scope: "the token lacks a scope the call needs: chat:write for messages, files:write for charts",
  invalid_blocks: "Slack rejected the message's blocks",
  msg_too_long: "the message text is too long",
  msg_blocks_too_long: "the blocks carry more text than Slack accepts",
};

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A stored state of this version, or undefined for none, another sink's or an older shape: then the group starts over. */
export function readSlackWebApiState(value: unknown): SlackWebApiState | undefined {
  if (!isObject(value) || value.v !== 1) return undefined;
  const { channel, ts, firstSeenAt, shown, replied, charted, resolved } = value;
  if (typeof channel !== "string" || typeof ts !== "string" || typeof firstSeenAt !== "string" || typeof shown !== "string")
    return undefined;
  return {
    v: 1,
    channel,
    ts,
    firstSeenAt,
    shown,
    replied: typeof replied === "string" ? replied : undefined,
    charted: typeof charted === "string" ? charted : undefined,
    resolved: resolved === true,
  };
}

/**
 * What the thread says that matters to a reader: per alert, the top cause, its evidence and remediation.
 * Timestamps and run times are left out, so a re-run that finds the same thing is not news.
 */
export function diagnosisDigest(d: Diagnosis): string {
  const alerts = d.alerts
    .map((a) => {
      const cause = topCause(a);
      const about = cause && [cause.id, cause.summary, cause.evidence.map((e) => [e.step, e.text]), cause.remediation];
      return JSON.stringify([a.alert.fingerprint, a.playbook, about ?? null]);
    })
    .sort();
  return createHash("sha256").update(JSON.stringify(alerts)).digest("hex").slice(0, 16);
}

/** Axios and Node put the request URL and headers in some errors, so only the error code is kept. */
function transportFailure(error: unknown, timeoutMs: number): { text: string; code: "timeout" | "network" } {
  const code = isObject(error) && typeof error.code === "string" ? error.code : undefined;
  const name = error instanceof Error ? error.name : undefined;
  if (code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED" || name === "TimeoutError" || name === "CanceledError") {
    return { text: `no response within ${timeoutMs} ms`, code: "timeout" };
  }
  return { text: code !== undefined ? `connection failed (${code})` : "connection failed", code: "network" };
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

function chartFilename(d: Diagnosis): string {
  const name = (d.groupLabels.alertname ?? d.commonLabels.alertname ?? "diagnosis").toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return `${name.replace(/^-+|-+$/g, "").slice(0, 60) || "diagnosis"}-chart.png`;
}

export class SlackWebApiSink implements Sink {
  readonly name = "slack";
  readonly #token: string;
  readonly #channel: string;
  readonly #apiUrl: string;
  readonly #origin: string;
  readonly #timeoutMs: number;
  readonly #chart: SlackWebApiSinkOptions["chart"];
  readonly #postIntervalMs: number;
  #nextPostAt = 0;

  constructor(options: SlackWebApiSinkOptions) {
    this.#token = options.botToken;
    this.#channel = options.channel;
    this.#apiUrl = options.apiUrl.replace(/\/+$/, "");
    this.#origin = originOf(this.#apiUrl);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#chart = options.chart;
    this.#postIntervalMs = options.postIntervalMs ?? DEFAULT_POST_INTERVAL_MS;
  }

  /**
   * Brings the group's message and thread up to date, one step after another. Each step Slack accepted is saved at
   * once, so a retry (or another replica after a crash) carries on where this attempt stopped instead of posting twice.
   */
  async deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
    const saveState = context?.saveState ?? (async () => {});
    const save = async (next: SlackWebApiState): Promise<SinkFailure | undefined> => {
      try {
        await saveState(next);
        return undefined;
      } catch (error) {
        const why = serviceText(error instanceof Error ? error.message : String(error), [this.#token]);
        return {
          status: "retry",
          code: "state_not_saved",
          error: `Slack accepted a change to message ${next.ts} in ${next.channel}, but remembering it failed (${why}); the retry may repeat it`,
        };
      }
    };
    const did: string[] = [];
    let state = readSlackWebApiState(context?.state);
    // A group that fires again after it resolved is a new incident: a new message, not an edit far up the channel.
    if (state?.resolved === true && diagnosis.status === "firing") state = undefined;

    if (state === undefined) {
      const posted = await this.#postMessage(diagnosis);
      if (!posted.ok) return posted.outcome;
      state = { v: 1, ...posted.at, firstSeenAt: diagnosis.createdAt, shown: diagnosis.notificationId, resolved: false };
      const unsaved = await save(state);
      if (unsaved) return unsaved;
      did.push(`posted ${state.ts} in ${state.channel}`);
    } else if (state.shown !== diagnosis.notificationId) {
      const updated = await this.#call(
        "chat.update",
        { channel: state.channel, ts: state.ts, ...renderSlackMessage(diagnosis) },
        `message ${state.ts}`,
      );
      if (updated.ok) {
        state = { ...state, shown: diagnosis.notificationId };
        const unsaved = await save(state);
        if (unsaved) return unsaved;
        did.push(`updated ${state.ts} in ${state.channel}`);
      } else if (NOT_EDITABLE.has(updated.error)) {
        // The message was deleted, is too old to edit, or was not ours: only a new message shows the channel where the
        // group stands now. Its ts replaces the old one, so later updates land there, and its thread starts afresh.
        const posted = await this.#postMessage(diagnosis);
        if (!posted.ok) return posted.outcome;
        const old = state.ts;
        state = { v: 1, ...posted.at, firstSeenAt: state.firstSeenAt, shown: diagnosis.notificationId, resolved: false };
        const unsaved = await save(state);
        if (unsaved) return unsaved;
        did.push(`posted ${state.ts} in ${state.channel} because Slack would not edit ${old} (${updated.error})`);
      } else {
        return updated.outcome;
      }
    }

    if (diagnosis.status === "resolved") {
      if (!state.resolved) {
        const replied = await this.#reply(state, renderResolvedReply(diagnosis, state.firstSeenAt));
        if (!replied.ok) return replied.outcome;
        state = { ...state, resolved: true };
        const unsaved = await save(state);
        if (unsaved) return unsaved;
        did.push("replied resolved");
      }
      return { status: "delivered", detail: did.join("; ") || "already up to date" };
    }

    const digest = diagnosisDigest(diagnosis);
    if (state.replied !== digest) {
      const replied = await this.#reply(state, renderSlackThreadReply(diagnosis, { changed: state.replied !== undefined }));
      if (!replied.ok) return replied.outcome;
      state = { ...state, replied: digest };
      const unsaved = await save(state);
      if (unsaved) return unsaved;
      did.push("replied details");
    }
    if (this.#chart !== undefined && state.charted !== digest) {
      did.push(await this.#shareChart(this.#chart, diagnosis, state));
      state = { ...state, charted: digest };
      const unsaved = await save(state);
      if (unsaved) return unsaved;
    }
    return { status: "delivered", detail: did.join("; ") || "already up to date" };
  }

  async #postMessage(d: Diagnosis): Promise<{ ok: true; at: { channel: string; ts: string } } | { ok: false; outcome: SinkFailure }> {
    await this.#pace();
    const answer = await this.#call("chat.postMessage", {
      channel: this.#channel,
      ...renderSlackMessage(d),
      unfurl_links: false,
      unfurl_media: false,
    });
    if (!answer.ok) return answer;
    const { channel, ts } = answer.body;
    if (typeof channel !== "string" || typeof ts !== "string") {
      return {
        ok: false,
        outcome: {
          status: "failed",
          code: "invalid_response",
          error: this.#describe("chat.postMessage", "answered ok without channel and ts"),
        },
      };
    }
    return { ok: true, at: { channel, ts } };
  }

  async #reply(state: SlackWebApiState, reply: { text: string; blocks: unknown[] }): Promise<ApiAnswer> {
    await this.#pace();
    const args = { channel: state.channel, thread_ts: state.ts, ...reply, unfurl_links: false, unfurl_media: false };
    return this.#call("chat.postMessage", args, `reply under ${state.ts}`);
  }

  /** Uploads the chart into the thread. Never fails the delivery: says what happened, for the outcome's detail. */
  async #shareChart(draw: NonNullable<SlackWebApiSinkOptions["chart"]>, d: Diagnosis, state: SlackWebApiState): Promise<string> {
    let chart: SlackChart | undefined;
    try {
      chart = await this.#withTimeout(draw(d));
    } catch (error) {
      const why = serviceText(error instanceof Error ? error.message : String(error), [this.#token]);
      return `chart skipped: drawing it failed (${why})`;
    }
    if (chart === undefined) return "no chart";
    const asked = await this.#call("files.getUploadURLExternal", {
      filename: chartFilename(d),
      length: chart.png.length,
      alt_txt: truncate(chart.altText, ALT_TEXT),
    });
    if (!asked.ok) return `chart skipped: ${asked.outcome.error}`;
    const { upload_url: uploadUrl, file_id: fileId } = asked.body;
    if (typeof uploadUrl !== "string" || typeof fileId !== "string" || !/^https?:\/\//.test(uploadUrl)) {
      return "chart skipped: files.getUploadURLExternal answered without an upload URL and file ID";
    }
    const uploaded = await this.#upload(uploadUrl, chart.png);
    if (uploaded !== undefined) return `chart skipped: the upload ${uploaded}`;
    await this.#pace();
    const completed = await this.#call("files.completeUploadExternal", {
      files: [{ id: fileId, title: truncate(chart.title, 250) }],
      channel_id: state.channel,
      thread_ts: state.ts,
    });
    return completed.ok ? `chart ${fileId} uploaded` : `chart skipped: ${completed.outcome.error}`;
  }

  /** POSTs the bytes to the pre-signed upload URL; the token stays out of it because the URL itself authorises the upload. */
  async #upload(url: string, bytes: Buffer): Promise<string | undefined> {
    try {
      const response = await axios.post(url, bytes, {
        headers: { "Content-Type": "application/octet-stream" },
        timeout: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
        validateStatus: () => true,
        maxRedirects: 0,
        maxContentLength: 64 * 1024,
        responseType: "text",
        transformResponse: (data: unknown) => data,
      });
      // Slack: "HTTP 200 if the upload is successful; a non-200 response indicates a failure" (protocols.md 2.3).
      return response.status === 200 ? undefined : `answered HTTP ${response.status}`;
    } catch (error) {
      return transportFailure(error, this.#timeoutMs).text;
    }
  }

  async #withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no chart within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits for the channel's next free slot. Not a retry: a thread reply right after its message would otherwise meet
   * Slack's one-message-per-second limit on nearly every first delivery.
   */
  async #pace(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.#nextPostAt);
    this.#nextPostAt = at + this.#postIntervalMs;
    if (at > now) await sleep(at - now);
  }

  /** One call, no retries, its answer mapped to Slack's error name and words a person can act on. */
  async #call(method: string, args: Json, about?: string): Promise<ApiAnswer> {
    let response: AxiosResponse<string>;
    try {
      response = await axios.post<string>(`${this.#apiUrl}/${method}`, JSON.stringify(args), {
        headers: {
          Authorization: `Bearer ${this.#token}`,
          "Content-Type": "application/json; charset=utf-8",
          Accept: "application/json",
        },
        timeout: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
        validateStatus: () => true,
        maxRedirects: 0,
        maxContentLength: MAX_ANSWER_BYTES,
        responseType: "text",
        transformResponse: (data: unknown) => data,
      });
    } catch (error) {
      const failure = transportFailure(error, this.#timeoutMs);
      return {
        ok: false,
        error: failure.code,
        outcome: { status: "retry", code: failure.code, error: this.#describe(method, failure.text, about) },
      };
    }
    const status = response.status;
    const body = parseJson(typeof response.data === "string" ? response.data : "");
    if (status === 200 && body?.ok === true) return { ok: true, body };
    const slackError = errorName(body?.error);
    const said = this.#said(body);
    const http = status === 200 ? "" : `HTTP ${status} `;
    const failure = (outcome: SinkFailure): ApiAnswer => ({ ok: false, error: outcome.code ?? "", outcome });
    if (status === 429 || (slackError !== undefined && TRANSIENT.has(slackError))) {
      const code = slackError ?? "ratelimited";
      const limited = status === 429 || code === "ratelimited" || code === "rate_limited";
      const wait = retryAfterMs(response.headers["retry-after"]) ?? (limited ? DEFAULT_RETRY_AFTER_MS : undefined);
      const error = this.#describe(method, `${limited ? "rate limited" : "failed"}: ${http}${code}${said}`, about);
      return failure({ status: "retry", code, error, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
    }
    if (status >= 500)
      return failure({ status: "retry", code: `http_${status}`, error: this.#describe(method, `failed: HTTP ${status}${said}`, about) });
    if (slackError !== undefined || body?.ok === false) {
      const code = slackError ?? "slack_error";
      const hint = HINTS[code] !== undefined ? `: ${HINTS[code]}` : "";
      return failure({ status: "failed", code, error: this.#describe(method, `failed: ${http}${code}${hint}${said}`, about) });
    }
    if (status === 200) {
      return failure({
        status: "failed",
        code: "invalid_response",
        error: this.#describe(method, "answered HTTP 200 without Slack's JSON", about),
      });
    }
    return failure({ status: "failed", code: `http_${status}`, error: this.#describe(method, `failed: HTTP ${status}`, about) });
  }

  /** Slack's own explanation where it gave one (`needed` scope, block errors), with the token masked in case it is echoed. */
  #said(body: Json | undefined): string {
    if (body === undefined) return "";
    const parts: string[] = [];
    if (typeof body.error === "string" && errorName(body.error) === undefined) parts.push(body.error);
    if (typeof body.needed === "string") parts.push(`needed: ${body.needed}`);
    const meta = body.response_metadata;
    if (isObject(meta) && Array.isArray(meta.messages)) parts.push(...meta.messages.filter((m): m is string => typeof m === "string"));
    const text = serviceText(parts.join("; "), [this.#token]);
    return text !== "" ? ` - ${text}` : "";
  }

  #describe(method: string, what: string, about?: string): string {
    const call = about !== undefined ? `${method} (${about})` : method;
    return serviceText(`Slack Web API at ${this.#origin} ${call} for channel ${this.#channel} ${what}`, [this.#token]);
  }
}
