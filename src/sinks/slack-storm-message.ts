// A storm's own Slack message (README, "Storms"): posted once, then edited as its groups' diagnoses land. The groups
// of a storm are delivered side by side, so the edits of one storm are queued here and coalesced: a delivery that
// finds an edit already waiting joins it, and that edit reads the storm from the store when its turn comes, so it shows
// everything stored by then. Slack's chat.update tier (about 50 a minute) is spent on news, not on each group.
import type { StoredStorm } from "../model/storm.ts";
import { renderSlackStormMessage, stormMessageDigest, type StormRenderOptions } from "../render/slack-storm.ts";
import { CoalescedRuns } from "./coalesced-runs.ts";
import type { SinkFailure } from "./outcome-table.ts";
import type { StormAccess } from "./sink.ts";
import { SLACK_PRIORITY, type SlackWebApiClient } from "./slack-web-api-client.ts";

/** What the sink remembers about a storm: where its message is, and a digest of what it shows. */
export interface SlackStormState {
  v: 1;
  channel: string;
  ts: string;
  shown: string;
}

export type StormShown = { ok: true; channel: string; ts: string } | { ok: false; outcome: SinkFailure } | { ok: false; missing: true };

const NOT_EDITABLE = new Set(["message_not_found", "cant_update_message", "edit_window_closed"]);

function readState(value: unknown): SlackStormState | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { v, channel, ts, shown } = value as Record<string, unknown>;
  if (v !== 1 || typeof channel !== "string" || typeof ts !== "string" || typeof shown !== "string") return undefined;
  return { v: 1, channel, ts, shown };
}

export class SlackStormMessages {
  readonly #client: SlackWebApiClient;
  readonly #channel: string;
  readonly #render: StormRenderOptions;
  readonly #refreshes = new CoalescedRuns<StormShown>();

  constructor(client: SlackWebApiClient, channel: string, render: StormRenderOptions) {
    this.#client = client;
    this.#channel = channel;
    this.#render = render;
  }

  /**
   * Brings the storm's message up to date with the store, posting it when the storm has none yet. `missing` when the
   * store knows no such storm (pruned): the group then gets a message of its own.
   */
  show(stormId: string, storms: StormAccess): Promise<StormShown> {
    return this.#refreshes.run(stormId, (begin) => {
      begin();
      return this.#refresh(stormId, storms);
    });
  }

  async #refresh(stormId: string, storms: StormAccess, mayPost = true): Promise<StormShown> {
    const storm = await storms.read(stormId);
    if (storm === null) return { ok: false, missing: true };
    const message = renderSlackStormMessage(storm, this.#render);
    const digest = stormMessageDigest(storm);
    const state = readState(await storms.getState(stormId));
    if (state === undefined && !mayPost) {
      const error = `another delivery posted storm ${stormId}'s Slack message, but what it remembered cannot be read`;
      return { ok: false, outcome: { status: "retry", code: "storm_state_unreadable", error } };
    }
    if (state === undefined) return this.#post(storm, storms, message, digest);
    if (state.shown === digest) return { ok: true, channel: state.channel, ts: state.ts };
    const updated = await this.#client.updateMessage({ channel: state.channel, ts: state.ts, ...message }, `storm message ${state.ts}`);
    if (updated.ok) {
      await storms.saveState(stormId, { ...state, shown: digest });
      return { ok: true, channel: state.channel, ts: state.ts };
    }
    // Deleted or too old to edit: a new message carries the storm on, and its groups' replies from then on.
    if (NOT_EDITABLE.has(updated.outcome.code ?? "")) {
      const posted = await this.#client.postMessage({ channel: this.#channel, ...message }, SLACK_PRIORITY.headline, "storm message");
      if (!posted.ok) return posted;
      await storms.saveState(stormId, { v: 1, channel: posted.channel, ts: posted.ts, shown: digest });
      return { ok: true, channel: posted.channel, ts: posted.ts };
    }
    return updated;
  }

  /**
   * Posts the storm's first message. Replicas sharing the store may each post one; the first to remember its message
   * keeps it, and the others delete theirs and carry on with the one that stays.
   */
  async #post(
    storm: StoredStorm,
    storms: StormAccess,
    message: ReturnType<typeof renderSlackStormMessage>,
    digest: string,
  ): Promise<StormShown> {
    const posted = await this.#client.postMessage({ channel: this.#channel, ...message }, SLACK_PRIORITY.headline, "storm message");
    if (!posted.ok) return posted;
    const mine: SlackStormState = { v: 1, channel: posted.channel, ts: posted.ts, shown: digest };
    if (await storms.saveStateIfAbsent(storm.id, mine)) return { ok: true, channel: posted.channel, ts: posted.ts };
    await this.#client.deleteMessage({ channel: posted.channel, ts: posted.ts }, "a second storm message");
    return this.#refresh(storm.id, storms, false);
  }
}
