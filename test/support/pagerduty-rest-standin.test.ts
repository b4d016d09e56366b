// Tests for the PagerDuty REST API stand-in's rate limit: 960 requests a minute per API token, told in ratelimit-* headers.
import { afterEach, describe, expect, it } from "vitest";
import {
  PAGERDUTY_REST_RATE_LIMIT,
  PAGERDUTY_STANDIN_API_TOKEN,
  type PagerDutyRestStandIn,
  startPagerDutyRestStandIn,
} from "./pagerduty-rest-standin.ts";

const HEADERS = {
  authorization: `Token token=${PAGERDUTY_STANDIN_API_TOKEN}`,
  accept: "application/vnd.pagerduty+json;version=2",
};

async function list(standIn: PagerDutyRestStandIn): Promise<{ status: number; body: unknown; headers: Record<string, string | null> }> {
  const response = await fetch(`${standIn.apiUrl}/incidents?incident_key=abc`, { headers: HEADERS });
  const header = (name: string) => response.headers.get(name);
  return {
    status: response.status,
    body: await response.json(),
    headers: { limit: header("ratelimit-limit"), remaining: header("ratelimit-remaining"), reset: header("ratelimit-reset") },
  };
}

describe("PagerDuty REST API stand-in", () => {
  let standIn: PagerDutyRestStandIn;

  afterEach(async () => {
    await standIn.close();
  });

  it("tells every answer how much of the minute's 960 requests is left", async () => {
    standIn = await startPagerDutyRestStandIn();
    const first = await list(standIn);
    const second = await list(standIn);
    expect(first.status).toBe(200);
    expect(first.headers).toEqual({ limit: "960", remaining: "959", reset: "60" });
    expect(second.headers.remaining).toBe("958");
  });

  it("answers request 961 of a minute with 429, PagerDuty's error body and the headers", async () => {
    standIn = await startPagerDutyRestStandIn();
    const limit = PAGERDUTY_REST_RATE_LIMIT.perMinute;
    const statuses: number[] = [];
    for (let i = 0; i < limit; i++) statuses.push((await list(standIn)).status);
    expect(statuses.every((s) => s === 200)).toBe(true);

    const over = await list(standIn);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ error: { message: "Rate Limit Exceeded", code: 2020 } });
    expect(over.headers.limit).toBe("960");
    expect(over.headers.remaining).toBe("0");
    expect(Number(over.headers.reset)).toBeGreaterThan(0);
    expect(Number(over.headers.reset)).toBeLessThanOrEqual(60);
    expect(standIn.rateLimits.sent429).toBe(1);

    // Coming back before ratelimit-reset is ignoring the 429.
    expect((await list(standIn)).status).toBe(429);
    expect(standIn.rateLimits).toMatchObject({ sent429: 2, ignored429: 1 });
  }, 30_000);

  it("takes a raised limit, for a test that is not about pacing", async () => {
    standIn = await startPagerDutyRestStandIn({ rateLimit: { perMinute: 5000 } });
    expect((await list(standIn)).headers.limit).toBe("5000");
  });
});
