// Tests for the Slack incoming-webhook stand-in's rate limit: what a client that posts too fast meets.
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { SLACK_WEBHOOK_RATE_LIMIT, type SlackStandIn, startSlackStandIn } from "./slack-standin.ts";

const MESSAGE = { text: "KubeClientErrors firing", blocks: [{ type: "section", text: { type: "mrkdwn", text: "firing" } }] };

async function post(url: string): Promise<{ status: number; body: string; retryAfter: string | null }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(MESSAGE) });
  return { status: response.status, body: await response.text(), retryAfter: response.headers.get("retry-after") };
}

describe("Slack webhook stand-in", () => {
  let standIn: SlackStandIn;

  afterEach(async () => {
    await standIn.close();
  });

  it("answers a burst beyond one message per second with 429 and Retry-After in seconds, as Slack does", async () => {
    standIn = await startSlackStandIn();
    const burst = SLACK_WEBHOOK_RATE_LIMIT.burst;
    const answers = [];
    for (let i = 0; i < burst + 2; i++) answers.push(await post(standIn.webhookUrl));

    expect(answers.slice(0, burst).map((a) => a.status)).toEqual(Array(burst).fill(200));
    expect(answers[burst]).toEqual({ status: 429, body: "rate_limited", retryAfter: "1" });
    expect(standIn.messages).toHaveLength(burst);
    expect(standIn.rateLimits.sent429).toBe(2);
  });

  it("lets a client that waits out the Retry-After through, and does not count it as ignoring the 429", async () => {
    standIn = await startSlackStandIn({ rateLimit: { perSecond: 1, burst: 1 } });
    expect((await post(standIn.webhookUrl)).status).toBe(200);
    const limited = await post(standIn.webhookUrl);
    expect(limited.status).toBe(429);

    await sleep(Number(limited.retryAfter) * 1000);
    expect((await post(standIn.webhookUrl)).status).toBe(200);
    expect(standIn.messages).toHaveLength(2);
    expect(standIn.rateLimits).toMatchObject({ sent429: 1, ignored429: 0 });
  });

  it("counts a client that comes back before its Retry-After as ignoring the 429, and says by how much", async () => {
    standIn = await startSlackStandIn({ rateLimit: { perSecond: 1, burst: 1 } });
    await post(standIn.webhookUrl);
    await post(standIn.webhookUrl);
    await sleep(200);
    expect((await post(standIn.webhookUrl)).status).toBe(429);

    expect(standIn.rateLimits).toMatchObject({ sent429: 2, ignored429: 1 });
    const early = standIn.rateLimits.requests.filter((r) => r.earlyByMs !== undefined);
    expect(early).toHaveLength(1);
    expect(early[0]?.earlyByMs).toBeGreaterThan(500);
    expect(early[0]?.earlyByMs).toBeLessThanOrEqual(800);
    // The same message again: the retry itself came back too soon.
    expect(early[0]?.retryEarlyByMs).toBeGreaterThan(500);
  });

  it("takes a raised limit, for a test that is not about pacing", async () => {
    standIn = await startSlackStandIn({ rateLimit: { perSecond: 100, burst: 20 } });
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(standIn.webhookUrl)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(standIn.rateLimits.sent429).toBe(0);
  });
});
