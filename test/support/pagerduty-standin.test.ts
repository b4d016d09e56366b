// Tests for the PagerDuty Events API stand-in's rate limit: about 120 events a minute per routing key.
import { afterEach, describe, expect, it } from "vitest";
import { PAGERDUTY_EVENTS_RATE_LIMIT, type PagerDutyStandIn, startPagerDutyStandIn } from "./pagerduty-standin.ts";

const KEY = "e93facc04764012d7bfb002500d5d1a6";
const OTHER_KEY = "0123456789abcdef0123456789abcdef";

async function trigger(
  standIn: PagerDutyStandIn,
  routingKey = KEY,
  n = 0,
): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
  const response = await fetch(standIn.eventsUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      routing_key: routingKey,
      event_action: "trigger",
      dedup_key: `group-${n}`,
      payload: { summary: "KubeClientErrors firing", source: "demo", severity: "warning" },
    }),
  });
  return { status: response.status, body: await response.json(), retryAfter: response.headers.get("retry-after") };
}

describe("PagerDuty Events API stand-in", () => {
  let standIn: PagerDutyStandIn;

  afterEach(async () => {
    await standIn.close();
  });

  it("accepts 120 events a minute for one routing key and answers the next with 429 Request Limit Exceeded", async () => {
    standIn = await startPagerDutyStandIn();
    const limit = PAGERDUTY_EVENTS_RATE_LIMIT.perMinute;
    const statuses: number[] = [];
    for (let n = 0; n < limit; n++) statuses.push((await trigger(standIn, KEY, n)).status);
    expect(statuses.every((s) => s === 202)).toBe(true);

    const over = await trigger(standIn, KEY, limit);
    expect(over).toEqual({ status: 429, body: { status: "throttle event", message: "Request Limit Exceeded" }, retryAfter: null });
    expect(standIn.events).toHaveLength(limit);
    // The limit is per integration key.
    expect((await trigger(standIn, OTHER_KEY)).status).toBe(202);
    expect(standIn.rateLimits.sent429).toBe(1);
  });

  it("counts a client that sends to the key again within PagerDuty's advised 30 s as ignoring the 429", async () => {
    standIn = await startPagerDutyStandIn({ rateLimit: { perMinute: 2, advisedWaitMs: 30_000 } });
    await trigger(standIn, KEY, 1);
    await trigger(standIn, KEY, 2);
    expect((await trigger(standIn, KEY, 3)).status).toBe(429);
    expect((await trigger(standIn, KEY, 3)).status).toBe(429);

    expect(standIn.rateLimits).toMatchObject({ sent429: 2, ignored429: 1 });
    const [last] = standIn.rateLimits.requests.slice(-1);
    expect(last).toMatchObject({ bucket: `routing key …${KEY.slice(-4)}`, limited: true });
    expect(last?.earlyByMs).toBeGreaterThan(29_000);
    // The key itself is not in the record.
    expect(JSON.stringify(standIn.rateLimits.requests)).not.toContain(KEY);
  });
});
