// Delivers to Slack through the Web API: the story of one alert group as one message, edited as the group changes,
// with the details in its thread. This file decides what to post, reply and edit, and when; the calls themselves,
// their pacing and the file upload are the client's (slack-web-api-client.ts).
import { createHash } from "node:crypto";
import type { Diagnosis } from "../model/diagnosis.ts";
import { topCause, truncate } from "../render/alert-facts.ts";
import { renderSlackMessage } from "../render/slack-blocks.ts";
import { renderStormGroupReplies, renderStormGroupResolved } from "../render/slack-storm-reply.ts";
import { renderResolvedReply, renderSlackThreadReply } from "../render/slack-thread.ts";
import { serviceText } from "./http-delivery.ts";
import type { SinkFailure } from "./outcome-table.ts";
import type { DeliveryContext, Sink, SinkOutcome, StormAccess } from "./sink.ts";
import { SlackStormMessages, type StormShown } from "./slack-storm-message.ts";
import { SLACK_PRIORITY, SlackWebApiClient, type SlackPosted } from "./slack-web-api-client.ts";

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
  /** A group's report page, for the storm message's links (PUBLIC_URL). */
  reportLink?: (notificationId: string) => string | undefined;
  /** The storm's own page, for the storm message's context line (PUBLIC_URL). */
  stormLink?: (stormId: string) => string | undefined;
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
  /** Set when the group joined a storm: `channel` and `ts` are then the storm's message, whose thread it shares. */
  storm?: string;
}

const ALT_TEXT = 1000;
const FILE_TITLE = 250;
/** Drawing a chart may take as long as one HTTP call. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Slack's answers that say the message can no longer be edited, so the group needs a new one. */
const NOT_EDITABLE = new Set(["message_not_found", "cant_update_message", "edit_window_closed"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A stored state of this version, or undefined for none, another sink's or an older shape: then the group starts over. */
export function readSlackWebApiState(value: unknown): SlackWebApiState | undefined {
  if (!isObject(value) || value.v !== 1) return undefined;
  const { channel, ts, firstSeenAt, shown, replied, charted, resolved, storm } = value;
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
    ...(typeof storm === "string" ? { storm } : {}),
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

function chartFilename(d: Diagnosis): string {
  const name = (d.groupLabels.alertname ?? d.commonLabels.alertname ?? "diagnosis").toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return `${name.replace(/^-+|-+$/g, "").slice(0, 60) || "diagnosis"}-chart.png`;
}

/**
 * Deliveries in flight at once: each waits in the channel's queue, so a storm's headlines are all in hand to overtake
 * the thread details of the groups before them. Posting stays one message per second per channel whatever this is.
 */
const DELIVERIES_IN_FLIGHT = 64;

export class SlackWebApiSink implements Sink {
  readonly name = "slack";
  readonly concurrency = DELIVERIES_IN_FLIGHT;
  readonly #client: SlackWebApiClient;
  readonly #token: string;
  readonly #channel: string;
  readonly #timeoutMs: number;
  readonly #chart: SlackWebApiSinkOptions["chart"];
  readonly #storms: SlackStormMessages;

  constructor(options: SlackWebApiSinkOptions) {
    this.#client = new SlackWebApiClient(options);
    this.#storms = new SlackStormMessages(this.#client, options.channel, {
      ...(options.reportLink !== undefined ? { reportLink: options.reportLink } : {}),
      ...(options.stormLink !== undefined ? { stormLink: options.stormLink } : {}),
    });
    this.#token = options.botToken;
    this.#channel = options.channel;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#chart = options.chart;
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

    // A storm's message comes first: it names every group of the storm, this one included.
    const stormId = diagnosis.storm?.id ?? state?.storm;
    let storm: { channel: string; ts: string } | undefined;
    if (stormId !== undefined && context?.storms !== undefined) {
      const shown = await this.#showStorm(stormId, context.storms);
      if (!shown.ok && "outcome" in shown) return shown.outcome;
      if (shown.ok) storm = shown;
    }

    if (state === undefined && diagnosis.storm !== undefined && storm !== undefined) {
      // A group that joins a storm gets no message of its own: its story goes in the storm message's thread.
      state = {
        v: 1,
        ...storm,
        firstSeenAt: diagnosis.createdAt,
        shown: diagnosis.notificationId,
        resolved: false,
        storm: diagnosis.storm.id,
      };
      const unsaved = await save(state);
      if (unsaved) return unsaved;
      did.push(`joined storm ${diagnosis.storm.id} (message ${storm.ts})`);
    } else if (state?.storm !== undefined) {
      // Its message is the storm's, brought up to date above; when the storm's message had to be posted anew, the
      // group's replies go on under the new one.
      const moved = storm !== undefined && (storm.channel !== state.channel || storm.ts !== state.ts);
      if (moved || state.shown !== diagnosis.notificationId) {
        state = { ...state, ...(moved ? { ...storm, replied: undefined, charted: undefined } : {}), shown: diagnosis.notificationId };
        const unsaved = await save(state);
        if (unsaved) return unsaved;
      }
    } else if (state === undefined) {
      const posted = await this.#postMessage(diagnosis);
      if (!posted.ok) return posted.outcome;
      state = {
        v: 1,
        channel: posted.channel,
        ts: posted.ts,
        firstSeenAt: diagnosis.createdAt,
        shown: diagnosis.notificationId,
        resolved: false,
      };
      const unsaved = await save(state);
      if (unsaved) return unsaved;
      did.push(`posted ${state.ts} in ${state.channel}`);
    } else if (state.shown !== diagnosis.notificationId) {
      const updated = await this.#client.updateMessage(
        { channel: state.channel, ts: state.ts, ...renderSlackMessage(diagnosis) },
        `message ${state.ts}`,
      );
      if (updated.ok) {
        state = { ...state, shown: diagnosis.notificationId };
        const unsaved = await save(state);
        if (unsaved) return unsaved;
        did.push(`updated ${state.ts} in ${state.channel}`);
      } else if (NOT_EDITABLE.has(updated.outcome.code ?? "")) {
        // The message was deleted, is too old to edit, or was not ours: only a new message shows the channel where the
        // group stands now. Its ts replaces the old one, so later updates land there, and its thread starts afresh.
        const posted = await this.#postMessage(diagnosis);
        if (!posted.ok) return posted.outcome;
        const old = state.ts;
        state = {
          v: 1,
          channel: posted.channel,
          ts: posted.ts,
          firstSeenAt: state.firstSeenAt,
          shown: diagnosis.notificationId,
          resolved: false,
        };
        const unsaved = await save(state);
        if (unsaved) return unsaved;
        did.push(`posted ${state.ts} in ${state.channel} because Slack would not edit ${old} (${updated.outcome.code})`);
      } else {
        return updated.outcome;
      }
    }

    if (diagnosis.status === "resolved") {
      if (!state.resolved) {
        const reply =
          state.storm !== undefined
            ? renderStormGroupResolved(diagnosis, state.firstSeenAt)
            : renderResolvedReply(diagnosis, state.firstSeenAt);
        const replied = await this.#reply(state, reply);
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
      const changed = state.replied !== undefined;
      const replies =
        state.storm !== undefined ? renderStormGroupReplies(diagnosis, { changed }) : [renderSlackThreadReply(diagnosis, { changed })];
      for (const reply of replies) {
        const replied = await this.#reply(state, reply);
        if (!replied.ok) return replied.outcome;
      }
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

  #postMessage(d: Diagnosis): Promise<SlackPosted> {
    return this.#client.postMessage({ channel: this.#channel, ...renderSlackMessage(d) }, SLACK_PRIORITY.headline);
  }

  /** A failure to read or remember the storm fails this delivery for a retry; Slack's answers come as they are. */
  async #showStorm(stormId: string, storms: StormAccess): Promise<StormShown> {
    try {
      return await this.#storms.show(stormId, storms);
    } catch (error) {
      const why = serviceText(error instanceof Error ? error.message : String(error), [this.#token]);
      return {
        ok: false,
        outcome: { status: "retry", code: "storm_unreadable", error: `the storm ${stormId} could not be read or remembered (${why})` },
      };
    }
  }

  #reply(state: SlackWebApiState, reply: { text: string; blocks: unknown[]; attachments?: unknown[] }): Promise<SlackPosted> {
    return this.#client.postMessage(
      { channel: state.channel, thread_ts: state.ts, ...reply },
      SLACK_PRIORITY.detail,
      `reply under ${state.ts}`,
    );
  }

  /** Uploads the chart into the thread. Never fails the delivery: says what happened, for the outcome's detail. */
  async #shareChart(draw: NonNullable<SlackWebApiSinkOptions["chart"]>, d: Diagnosis, state: SlackWebApiState): Promise<string> {
    // In a storm, one chart per distinct verdict: the groups that share an earlier group's verdict would show the same
    // story, and uploads are the last thing a rate-limited channel needs.
    if (d.storm !== undefined && d.storm.sameVerdict > 1)
      return `chart skipped: part of a storm, ${d.storm.sameVerdict - 1} other groups have this verdict`;
    let chart: SlackChart | undefined;
    try {
      chart = await this.#withTimeout(draw(d));
    } catch (error) {
      const why = serviceText(error instanceof Error ? error.message : String(error), [this.#token]);
      return `chart skipped: drawing it failed (${why})`;
    }
    if (chart === undefined) return "no chart";
    const shared = await this.#client.shareFile(
      {
        bytes: chart.png,
        filename: chartFilename(d),
        title: truncate(chart.title, FILE_TITLE),
        altText: truncate(chart.altText, ALT_TEXT),
      },
      { channel: state.channel, threadTs: state.ts },
    );
    return shared.ok ? `chart ${shared.fileId} uploaded` : `chart skipped: ${shared.why}`;
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
}
