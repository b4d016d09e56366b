// A storm through an incoming webhook, which cannot edit a message: instead of a message per group, the storm's
// message (render/slack-storm.ts) is posted as a fresh snapshot at most every few seconds, naming every group with
// its verdict and linking its report page. The groups delivered while a snapshot waits are all in it.
import { renderSlackStormMessage, stormMessageDigest, type StormRenderOptions } from "../render/slack-storm.ts";
import type { SlackMessage } from "../render/slack-blocks.ts";
import { CoalescedRuns } from "./coalesced-runs.ts";
import type { SinkOutcome, StormAccess } from "./sink.ts";

/** What the sink remembers about a storm: the digest of the last snapshot posted, and when. */
interface WebhookStormState {
  v: 1;
  shown: string;
  postedAt: number;
}

function readState(value: unknown): WebhookStormState | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { v, shown, postedAt } = value as Record<string, unknown>;
  if (v !== 1 || typeof shown !== "string" || typeof postedAt !== "number") return undefined;
  return { v: 1, shown, postedAt };
}

/** Slack takes about a message a second from a webhook; a storm's snapshots leave room for everything else. */
export const STORM_SNAPSHOT_INTERVAL_MS = 3000;

export class SlackWebhookStormSnapshots {
  readonly #post: (message: SlackMessage) => Promise<SinkOutcome>;
  readonly #render: StormRenderOptions;
  readonly #intervalMs: number;
  readonly #snapshots = new CoalescedRuns<SinkOutcome>();

  constructor(post: (message: SlackMessage) => Promise<SinkOutcome>, render: StormRenderOptions, intervalMs = STORM_SNAPSHOT_INTERVAL_MS) {
    this.#post = post;
    this.#render = render;
    this.#intervalMs = intervalMs;
  }

  /** Resolves once a snapshot naming the storm as the store has it now is in the channel (or one already was). */
  show(stormId: string, storms: StormAccess): Promise<SinkOutcome> {
    return this.#snapshots.run(stormId, (begin) => this.#snapshot(stormId, storms, begin));
  }

  async #snapshot(stormId: string, storms: StormAccess, begin: () => void): Promise<SinkOutcome> {
    const last = readState(await storms.getState(stormId));
    const wait = last === undefined ? 0 : last.postedAt + this.#intervalMs - Date.now();
    // Deliveries arriving during the wait join this snapshot; it reads the store only when it is taken.
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    begin();
    const storm = await storms.read(stormId);
    if (storm === null) return { status: "failed", code: "storm_gone", error: `storm ${stormId} is no longer in the store` };
    const message = renderSlackStormMessage(storm, this.#render);
    const digest = stormMessageDigest(storm);
    if (last?.shown === digest) return { status: "delivered", detail: `storm ${stormId}: already shown` };
    const outcome = await this.#post(message);
    if (outcome.status !== "delivered") return outcome;
    await storms.saveState(stormId, { v: 1, shown: digest, postedAt: Date.now() } satisfies WebhookStormState);
    return { status: "delivered", detail: `storm ${stormId}: snapshot of ${storm.members.length} groups posted` };
  }
}
