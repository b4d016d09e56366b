// The rules of a sink's shown state that a live run cannot time exactly: a rate limit ends by itself when its time
// has passed, showing again what the sink did last; a delivery ends a run of failures and any hold.
import { describe, expect, it } from "vitest";
import { SinkHealth } from "../../src/sinks/sink-health.ts";

function clock(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const T0 = Date.parse("2026-12-04T10:00:00.000Z");

describe("SinkHealth", () => {
  it("shows each added sink idle until its first outcome", () => {
    const health = new SinkHealth(() => T0);
    health.add("slack");
    health.add("console");
    expect(health.states()).toEqual({ slack: { state: "idle" }, console: { state: "idle" } });
  });

  it("shows rate_limited until the hold passes, then the failing run it interrupted, then ok after a delivery", () => {
    const time = clock(T0);
    const health = new SinkHealth(time.now);
    health.add("slack");
    health.failed("slack", "Slack answered 500 rollup_error");
    time.advance(1_000);
    health.rateLimited("slack", 30_000);
    expect(health.states().slack).toEqual({ state: "rate_limited", until: "2026-12-04T10:00:31.000Z" });

    time.advance(30_000);
    health.failed("slack", "gave up after 40 attempts: Slack answered 500 rollup_error");
    expect(health.states().slack).toEqual({
      state: "failing",
      since: "2026-12-04T10:00:00.000Z",
      lastError: "gave up after 40 attempts: Slack answered 500 rollup_error",
      attempts: 2,
    });

    time.advance(5_000);
    health.delivered("slack");
    expect(health.states().slack).toEqual({ state: "ok", lastDeliveredAt: "2026-12-04T10:00:36.000Z" });
  });

  it("lets a delivery end a hold early: the destination took a message, so it no longer holds the sink", () => {
    const time = clock(T0);
    const health = new SinkHealth(time.now);
    health.rateLimited("pagerduty", 60_000);
    time.advance(2_000);
    health.delivered("pagerduty");
    expect(health.states().pagerduty).toEqual({ state: "ok", lastDeliveredAt: "2026-12-04T10:00:02.000Z" });
  });
});
