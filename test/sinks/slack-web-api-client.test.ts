// Tests for the Slack Web API client's own job: pacing posts per channel by priority, whichever way the channel is
// named, and holding a channel after a 429 for every caller.
import { afterEach, describe, expect, it } from "vitest";
import { SLACK_PRIORITY, SlackWebApiClient } from "../../src/sinks/slack-web-api-client.ts";
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
    const posted = await slack.postMessage({ channel, text: `to ${channel}` }, SLACK_PRIORITY.headline);
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

  it("lets a waiting headline overtake waiting thread replies, keeping one post per interval", async () => {
    // Four posts at the test's 300 ms pace: the stand-in allows 4 a second so the test stays short; the order is the point.
    standIn = await startSlackWebApiStandIn({ channels: CHANNELS, rateLimits: { "chat.postMessage": { perSecond: 4, burst: 3 } } });
    const slack = new SlackWebApiClient({ botToken: standIn.token, apiUrl: standIn.apiUrl, postIntervalMs: INTERVAL_MS });
    const order: string[] = [];
    const post = async (text: string, priority: (typeof SLACK_PRIORITY)[keyof typeof SLACK_PRIORITY]) => {
      const posted = await slack.postMessage({ channel: "C0ALERTS01", text }, priority);
      if (!posted.ok) throw new Error(posted.outcome.error);
      order.push(text);
    };
    // The first post goes at once; the rest queue behind it and leave by priority.
    await Promise.all([
      post("first", SLACK_PRIORITY.headline),
      post("chart", SLACK_PRIORITY.chart),
      post("reply", SLACK_PRIORITY.detail),
      post("headline", SLACK_PRIORITY.headline),
    ]);
    expect(standIn.messages.map((m) => m.text)).toEqual(["first", "headline", "reply", "chart"]);
    expect(order).toEqual(["first", "headline", "reply", "chart"]);
    expect(standIn.rateLimits.sent429).toBe(0);
  });

  it("holds the channel for every caller after a 429 until its Retry-After has passed", async () => {
    standIn = await startSlackWebApiStandIn({ channels: CHANNELS });
    // Paced faster than the stand-in's one a second, so the burst of three runs out and Slack answers 429.
    const slack = new SlackWebApiClient({ botToken: standIn.token, apiUrl: standIn.apiUrl, postIntervalMs: 300 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => slack.postMessage({ channel: "C0ALERTS01", text: `m${i}` }, SLACK_PRIORITY.detail)),
    );
    expect(standIn.rateLimits.sent429).toBe(1);
    expect(standIn.rateLimits.ignored429).toBe(0);
    const limited = results.filter((r) => !r.ok);
    expect(limited).toEqual([expect.objectContaining({ outcome: expect.objectContaining({ rateLimited: true, retryAfterMs: 1000 }) })]);
    const arrivals = standIn.rateLimits.requests.map((r) => r.at);
    const limitedAt = standIn.rateLimits.requests.findIndex((r) => r.limited);
    expect(arrivals[limitedAt + 1]! - arrivals[limitedAt]!).toBeGreaterThanOrEqual(950);
  });

  it("answers a refusal with the outcome to report, never a thrown error", async () => {
    const slack = await client();
    const posted = await slack.postMessage({ channel: "#no-such-channel", text: "hello" }, SLACK_PRIORITY.headline);
    expect(posted).toMatchObject({ ok: false, outcome: { status: "failed", code: "channel_not_found" } });
  });
});
