// The Events sink keeps to PagerDuty's limit per routing key (about 120 events in any 60 s, protocols.md 3.1): a storm
// of more waits for the window instead of meeting 429s. The clock is faked so the minute passes at once.
import { afterEach, describe, expect, it, vi } from "vitest";
import { PagerDutyEventsSink } from "../../src/sinks/pagerduty-events.ts";
import type { SinkOutcome } from "../../src/sinks/sink.ts";
import { makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";

const ROUTING_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL";
const realSetTimeout = globalThis.setTimeout;
const realSleep = (ms: number) => new Promise((resolve) => realSetTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error("timed out waiting");
    await realSleep(10);
  }
}

describe("PagerDutyEventsSink pacing", () => {
  let standIn: PagerDutyStandIn | undefined;

  afterEach(async () => {
    vi.useRealTimers();
    await standIn?.close();
  });

  it("sends 150 events at once as 120 now and 30 once the 60 s window allows: no 429, all delivered", async () => {
    standIn = await startPagerDutyStandIn();
    // Only the clock and the pacer's timers are faked; sockets keep real time.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const start = Date.now();
    const sink = new PagerDutyEventsSink({ routingKey: ROUTING_KEY, eventsUrl: standIn.eventsUrl });
    const outcomes: SinkOutcome[] = [];
    const deliveries = Array.from({ length: 150 }, (_, i) =>
      sink.deliver(makeDiagnosis({ notificationId: `n${i}`, groupKey: `{}:{group="${i}"}` })).then((outcome) => outcomes.push(outcome)),
    );
    const events = standIn.events;
    await until(() => outcomes.length === 120);
    await realSleep(200);
    expect(events).toHaveLength(120);

    await vi.advanceTimersByTimeAsync(59_000);
    await realSleep(200);
    // Still inside the minute of the first 120: nothing more has gone.
    expect(events).toHaveLength(120);
    expect(standIn.requests).toBe(120);

    await vi.advanceTimersByTimeAsync(2_000);
    await until(() => outcomes.length === 150);
    await Promise.all(deliveries);
    expect(outcomes.every((o) => o.status === "delivered")).toBe(true);
    expect(events).toHaveLength(150);
    expect(standIn.rateLimits.sent429).toBe(0);
    const late = standIn.rateLimits.requests.slice(120);
    expect(late.every((r) => r.at - start >= 60_000)).toBe(true);
  });

  it("holds the routing key for PagerDuty's advised 30 s after a 429, for every caller", async () => {
    standIn = await startPagerDutyStandIn({ rateLimit: { perMinute: 2, advisedWaitMs: 30_000 } });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    // The sink believes in a larger limit than the stand-in's, so the third event meets a 429.
    const sink = new PagerDutyEventsSink({
      routingKey: ROUTING_KEY,
      eventsUrl: standIn.eventsUrl,
      rateLimit: { limit: 10, windowMs: 60_000 },
    });
    const outcomes: SinkOutcome[] = [];
    for (let i = 0; i < 3; i++) outcomes.push(await sink.deliver(makeDiagnosis({ notificationId: `n${i}`, groupKey: `g${i}` })));
    expect(outcomes[2]).toMatchObject({ status: "retry", rateLimited: true, retryAfterMs: 30_000 });
    const later = sink.deliver(makeDiagnosis({ notificationId: "n3", groupKey: "g3" }));
    await vi.advanceTimersByTimeAsync(29_000);
    await realSleep(100);
    expect(standIn.requests).toBe(3);
    await vi.advanceTimersByTimeAsync(1_500);
    await later;
    expect(standIn.requests).toBe(4);
    expect(standIn.rateLimits.ignored429).toBe(0);
  });
});
