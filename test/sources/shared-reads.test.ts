import { afterEach, describe, expect, it, vi } from "vitest";
import { ReadCacheBudget, requestKey, SharedReads } from "../../src/sources/shared-reads.ts";
import type { SourceOutput } from "../../src/sources/source.ts";

function backend(delayMs = 20) {
  const calls: Array<{ request: string; signal: AbortSignal }> = [];
  const read = (request: string, signal: AbortSignal): Promise<SourceOutput> => {
    calls.push({ request, signal });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve({ data: { request }, request, summary: `read ${calls.length}` }), delayMs);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
  };
  return { calls, read };
}

const never = new AbortController().signal;

describe("shared reads", () => {
  it("makes identical reads issued at the same moment once and gives every caller the result", async () => {
    const { calls, read } = backend();
    const shared = new SharedReads(read, (r) => r, { ttlMs: 0, maxEntries: 10 });
    const results = await Promise.all(Array.from({ length: 50 }, () => shared.read("pods in kube-system", never)));
    expect(calls).toHaveLength(1);
    expect(new Set(results.map((r) => r.summary))).toEqual(new Set(["read 1"]));
    expect(shared.stats).toEqual({ made: 1, shared: 49 });
  });

  it("reads different requests separately", async () => {
    const { calls, read } = backend();
    const shared = new SharedReads(read, (r) => r, { ttlMs: 0, maxEntries: 10 });
    await Promise.all([shared.read("a", never), shared.read("b", never), shared.read("a", never)]);
    expect(calls.map((c) => c.request).sort()).toEqual(["a", "b"]);
  });

  it("reuses a completed read for the configured time, then reads again", async () => {
    let now = 0;
    const { calls, read } = backend(1);
    const shared = new SharedReads(read, (r) => r, { ttlMs: 10_000, maxEntries: 10, now: () => now });
    await shared.read("a", never);
    now = 9_000;
    await shared.read("a", never);
    expect(calls).toHaveLength(1);
    now = 10_001;
    await shared.read("a", never);
    expect(calls).toHaveLength(2);
  });

  it("keeps at most maxEntries completed reads, whatever the number of alerts", async () => {
    const { calls, read } = backend(0);
    const shared = new SharedReads(read, (r) => r, { ttlMs: 60_000, maxEntries: 3 });
    for (const r of ["a", "b", "c", "d"]) await shared.read(r, never);
    await shared.read("d", never);
    await shared.read("a", never);
    expect(calls.map((c) => c.request)).toEqual(["a", "b", "c", "d", "a"]);
  });

  it("does not keep a failed read", async () => {
    let fail = true;
    const shared = new SharedReads(
      async () => {
        if (fail) throw new Error("API server answered 503");
        return { data: {}, request: "", summary: "ok" };
      },
      (r: string) => r,
      { ttlMs: 60_000, maxEntries: 10 },
    );
    await expect(shared.read("a", never)).rejects.toThrow("503");
    fail = false;
    await expect(shared.read("a", never)).resolves.toMatchObject({ summary: "ok" });
  });

  it("lets one caller give up without cancelling the read for the others, and cancels it when all have", async () => {
    const { calls, read } = backend(100);
    const shared = new SharedReads(read, (r) => r, { ttlMs: 0, maxEntries: 10 });
    const first = new AbortController();
    const second = new AbortController();
    const a = shared.read("a", first.signal);
    const b = shared.read("a", second.signal);
    first.abort(new Error("step timed out"));
    await expect(a).rejects.toThrow("step timed out");
    await expect(b).resolves.toMatchObject({ summary: "read 1" });

    const third = new AbortController();
    const c = shared.read("z", third.signal);
    third.abort(new Error("deadline"));
    await expect(c).rejects.toThrow("deadline");
    expect(calls.find((call) => call.request === "z")?.signal.aborted).toBe(true);
  });

  it("keys requests by content, not by field order", () => {
    expect(requestKey("k8s", { kind: "Pod", namespace: "a", limit: 5 })).toBe(
      requestKey("k8s", { limit: 5, namespace: "a", kind: "Pod", name: undefined }),
    );
    expect(requestKey("k8s", { kind: "Pod", namespace: "a" })).not.toBe(requestKey("k8s", { kind: "Pod", namespace: "b" }));
  });
});

describe("shared reads: memory", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("drops expired results on a timer, without another read of the same key, and then holds no timer", async () => {
    vi.useFakeTimers();
    const { calls, read } = backend(1);
    const shared = new SharedReads(read, (r) => r, { ttlMs: 10_000, maxEntries: 100 });
    const reads = Promise.all(["a", "b", "c"].map((r) => shared.read(r, never)));
    await vi.advanceTimersByTimeAsync(5);
    await reads;
    expect(shared.size).toBe(3);
    expect(shared.bytes).toBeGreaterThan(0);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(shared.size).toBe(3);
    // Nothing reads "a", "b" or "c" again: the timer alone lets them go once their time is up.
    await vi.advanceTimersByTimeAsync(12_000);
    expect(shared.size).toBe(0);
    expect(shared.bytes).toBe(0);
    expect(calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  /** A backend whose every answer is about `bytes` long as JSON. */
  function sized(bytes: number) {
    const calls: string[] = [];
    const read = async (request: string): Promise<SourceOutput> => {
      calls.push(request);
      return { data: { blob: "x".repeat(bytes) }, request, summary: "ok" };
    };
    return { calls, read };
  }

  it("never keeps more than its byte budget, letting the oldest results go first", async () => {
    const budget = new ReadCacheBudget(10_000);
    const { calls, read } = sized(3_000);
    const shared = new SharedReads(read, (r) => r, { ttlMs: 60_000, maxEntries: 100, budget });
    for (const r of ["a", "b", "c", "d", "e"]) {
      await shared.read(r, never);
      expect(shared.bytes).toBeLessThanOrEqual(10_000);
      expect(budget.used).toBe(shared.bytes);
    }
    expect(shared.size).toBe(3);
    // "c", "d" and "e" are kept; "a" went first.
    await shared.read("e", never);
    await shared.read("a", never);
    expect(calls).toEqual(["a", "b", "c", "d", "e", "a"]);
  });

  it("does not keep a result larger than the whole budget, but still shares it with the reads in flight", async () => {
    const budget = new ReadCacheBudget(1_000);
    const { calls, read } = sized(5_000);
    const shared = new SharedReads(read, (r) => r, { ttlMs: 60_000, maxEntries: 100, budget });
    await Promise.all([shared.read("big", never), shared.read("big", never)]);
    expect(calls).toHaveLength(1);
    expect(shared.size).toBe(0);
    expect(budget.used).toBe(0);
  });

  it("shares one budget between the caches of several backends", async () => {
    const budget = new ReadCacheBudget(10_000);
    const objects = new SharedReads(sized(3_000).read, (r) => r, { ttlMs: 60_000, maxEntries: 100, budget });
    const queries = new SharedReads(sized(3_000).read, (r) => r, { ttlMs: 60_000, maxEntries: 100, budget });
    await objects.read("pods", never);
    await queries.read("q1", never);
    await queries.read("q2", never);
    await queries.read("q3", never);
    expect(budget.used).toBeLessThanOrEqual(10_000);
    expect(budget.used).toBe(objects.bytes + queries.bytes);
    // The oldest result of all, in the other cache, made room.
    expect(objects.size).toBe(0);
    expect(queries.size).toBe(3);
  });
});
