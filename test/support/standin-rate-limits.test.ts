// Tests for the rate-limit models the stand-ins share, on a clock the test drives.
import { describe, expect, it } from "vitest";
import { fixedWindow, RateLimitLedger, slidingWindow, tokenBucket, wholeSeconds } from "./standin-rate-limits.ts";

const exact = (ms: number) => ms;

describe("the stand-ins' rate limits", () => {
  it("a token bucket lets a burst through, then one request per interval, and says how long until the next", () => {
    const bucket = tokenBucket({ perSecond: 1, burst: 3 });
    const at0 = [0, 1, 2, 3].map(() => bucket.decide("C1", 0));
    expect(at0.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(at0[3]).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(bucket.decide("C1", 400)).toEqual({ allowed: false, retryAfterMs: 600 });
    expect(bucket.decide("C1", 1000).allowed).toBe(true);
    expect(bucket.decide("C1", 1500).allowed).toBe(false);
    expect(bucket.decide("C1", 2000).allowed).toBe(true);
    // After a quiet spell the burst is back, but never more than the burst.
    expect([0, 1, 2, 3].map(() => bucket.decide("C1", 60_000).allowed)).toEqual([true, true, true, false]);
  });

  it("keeps one bucket per channel: a busy channel does not hold up another", () => {
    const bucket = tokenBucket({ perSecond: 1, burst: 1 });
    expect(bucket.decide("C1", 0).allowed).toBe(true);
    expect(bucket.decide("C1", 0).allowed).toBe(false);
    expect(bucket.decide("C2", 0).allowed).toBe(true);
  });

  it("a sliding window allows the limit in any minute looking back, and frees a slot when the oldest request leaves it", () => {
    const window = slidingWindow(3, 60_000);
    expect([0, 10_000, 20_000].map((t) => window.decide("key", t).allowed)).toEqual([true, true, true]);
    expect(window.decide("key", 30_000)).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(window.decide("key", 59_999).allowed).toBe(false);
    expect(window.decide("key", 60_001).allowed).toBe(true);
    expect(window.decide("other key", 60_001).allowed).toBe(true);
  });

  it("a fixed window counts down the remaining requests and resets a minute after it began", () => {
    const window = fixedWindow(2, 60_000);
    expect(window.decide("token", 1000).allowed).toBe(true);
    expect(window.state("token", 1000)).toEqual({ limit: 2, remaining: 1, resetMs: 60_000 });
    expect(window.decide("token", 20_000).allowed).toBe(true);
    expect(window.decide("token", 41_000)).toEqual({ allowed: false, retryAfterMs: 20_000 });
    expect(window.decide("token", 61_000).allowed).toBe(true);
    expect(window.state("token", 61_000)).toEqual({ limit: 2, remaining: 1, resetMs: 60_000 });
  });

  it("announces waits in whole seconds, rounded up and never zero", () => {
    expect([1, 999, 1000, 1001, 0].map(wholeSeconds)).toEqual([1, 1, 1, 2, 1]);
  });

  it("counts every 429 it sends, and a request that comes back before the announced wait as ignoring it", () => {
    const ledger = new RateLimitLedger();
    const bucket = tokenBucket({ perSecond: 1, burst: 1 });
    const announce = (ms: number) => wholeSeconds(ms) * 1000;
    expect(ledger.check("C1", bucket, announce, { now: 0 }).allowed).toBe(true);
    expect(ledger.check("C1", bucket, announce, { now: 100 })).toMatchObject({ allowed: false, announcedWaitMs: 1000 });
    // 300 ms later: still limited, and too early.
    expect(ledger.check("C1", bucket, announce, { now: 400 })).toMatchObject({ allowed: false });
    // The second 429 (at 400) asked for another second: the wait now ends at 1400.
    expect(ledger.check("C1", bucket, announce, { now: 1400 }).allowed).toBe(true);
    expect(ledger.sent429).toBe(2);
    expect(ledger.ignored429).toBe(1);
    expect(ledger.requests).toEqual([
      { at: 0, bucket: "C1", limited: false },
      { at: 100, bucket: "C1", limited: true, announcedWaitMs: 1000 },
      { at: 400, bucket: "C1", limited: true, announcedWaitMs: 1000, earlyByMs: 700 },
      { at: 1400, bucket: "C1", limited: false },
    ]);
  });

  it("tells a retry of the limited request that came back early from another request sent into the held bucket", () => {
    const ledger = new RateLimitLedger();
    const bucket = tokenBucket({ perSecond: 1, burst: 1 });
    const announce = (ms: number) => wholeSeconds(ms) * 1000;
    ledger.check("C1", bucket, announce, { now: 0, request: "message A" });
    ledger.check("C1", bucket, announce, { now: 100, request: "message B" });
    // Another worker's message while B waits: it ignores the channel's 429, but is no early retry.
    ledger.check("C1", bucket, announce, { now: 200, request: "message C" });
    // B itself, 500 ms into its one-second wait.
    ledger.check("C1", bucket, announce, { now: 600, request: "message B" });
    expect(ledger.ignored429).toBe(2);
    expect(ledger.requests.slice(2).map((r) => [r.earlyByMs !== undefined, r.retryEarlyByMs])).toEqual([
      [true, undefined],
      [true, 500],
    ]);
  });

  it("counts a request as ignoring the 429 even when it finds room again: the wait was announced for the whole bucket", () => {
    const ledger = new RateLimitLedger();
    const bucket = tokenBucket({ perSecond: 1, burst: 1 });
    // The bucket refills after 900 ms, but the 429 announced a whole second.
    ledger.check("C1", bucket, exact, { now: 100 });
    ledger.check("C1", bucket, (ms) => wholeSeconds(ms) * 1000, { now: 200 });
    const early = ledger.check("C1", bucket, exact, { now: 1100 });
    expect(early.allowed).toBe(true);
    expect(ledger.ignored429).toBe(1);
    expect(ledger.requests.at(-1)).toEqual({ at: 1100, bucket: "C1", limited: false, earlyByMs: 100 });
    // Another bucket was never held.
    expect(ledger.check("C2", bucket, exact, { now: 1100 }).allowed).toBe(true);
    expect(ledger.ignored429).toBe(1);
  });
});
