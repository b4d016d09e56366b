// Tests for the Slack Web API client's own job: pacing posts per channel, whichever way the channel is named.
import { afterEach, describe, expect, it } from "vitest";
import { SlackWebApiClient } from "../../src/sinks/slack-web-api-client.ts";
import { type SlackWebApiStandIn, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const INTERVAL_MS = 300;
const CHANNELS = [
  { id: "C0ALERTS01", name: "alerts" },
  { id: "C0PLATFORM", name: "platform" },
];

describe("SlackWebApiClient", () => {
  let standIn: SlackWebApiStandIn;

  afterEach(async () => {
    await standIn.close();
  });

  async function client(): Promise<SlackWebApiClient> {
    standIn = await startSlackWebApiStandIn({ channels: CHANNELS });
    return new SlackWebApiClient({ botToken: standIn.token, apiUrl: standIn.apiUrl, postIntervalMs: INTERVAL_MS });
  }

  /** How long one post took, waiting included. */
  async function timed(slack: SlackWebApiClient, channel: string): Promise<number> {
    const startedAt = performance.now();
    const posted = await slack.postMessage({ channel, text: `to ${channel}` });
    expect(posted.ok).toBe(true);
    return performance.now() - startedAt;
  }

  it("spaces two posts to one channel by the interval, and lets another channel's post through at once", async () => {
    const slack = await client();
    await timed(slack, "C0ALERTS01");
    expect(await timed(slack, "C0PLATFORM")).toBeLessThan(INTERVAL_MS / 2);
    expect(await timed(slack, "C0ALERTS01")).toBeGreaterThanOrEqual(INTERVAL_MS - 150);
    expect(standIn.messages.map((m) => m.channel)).toEqual(["C0ALERTS01", "C0PLATFORM", "C0ALERTS01"]);
  });

  it("treats a channel's name and the ID Slack answers with as one channel", async () => {
    const slack = await client();
    await timed(slack, "#alerts");
    expect(await timed(slack, "C0ALERTS01")).toBeGreaterThanOrEqual(INTERVAL_MS - 150);
    expect(await timed(slack, "#alerts")).toBeGreaterThanOrEqual(INTERVAL_MS - 150);
  });

  it("answers a refusal with the outcome to report, never a thrown error", async () => {
    const slack = await client();
    const posted = await slack.postMessage({ channel: "#no-such-channel", text: "hello" });
    expect(posted).toMatchObject({ ok: false, outcome: { status: "failed", code: "channel_not_found" } });
  });
});
