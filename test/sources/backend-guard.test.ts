import { describe, expect, it } from "vitest";
import { BackendGuard } from "../../src/sources/backend-guard.ts";
import { type SourceOutput, SourceError } from "../../src/sources/source.ts";

const ok: SourceOutput = { data: {}, request: "", summary: "ok" };
const never = new AbortController().signal;

describe("the backend guard", () => {
  it("never has more requests in flight than its cap", async () => {
    const guard = new BackendGuard({ name: "API server", maxInFlight: 3, failureThreshold: 5, cooldownMs: 1000 });
    let inFlight = 0;
    let peak = 0;
    const read = guard.wrap(async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 10));
      inFlight--;
      return ok;
    });
    await Promise.all(Array.from({ length: 30 }, () => read("x", never)));
    expect(peak).toBe(3);
    expect(guard.stats.peakInFlight).toBe(3);
  });

  it("stops calling a backend that failed five times in a row, says so, and tries again after the cooldown", async () => {
    let now = 0;
    let calls = 0;
    let healthy = false;
    const guard = new BackendGuard({ name: "API server", maxInFlight: 4, failureThreshold: 5, cooldownMs: 30_000, now: () => now });
    const read = guard.wrap(async () => {
      calls++;
      if (!healthy) throw new SourceError("API server answered 503 ServiceUnavailable", { backendTrouble: true });
      return ok;
    });
    for (let i = 0; i < 5; i++) await expect(read("x", never)).rejects.toThrow("503");
    await expect(read("x", never)).rejects.toThrow("the API server failed 5 reads in a row, so alert-enricher stopped calling it for 30 s");
    expect(calls).toBe(5);
    now = 30_001;
    healthy = true;
    await expect(read("x", never)).resolves.toBe(ok);
    await expect(read("x", never)).resolves.toBe(ok);
    expect(calls).toBe(7);
  });

  it("opens again at once when the trial call after the cooldown fails", async () => {
    let now = 0;
    const guard = new BackendGuard({ name: "Prometheus", maxInFlight: 4, failureThreshold: 2, cooldownMs: 10_000, now: () => now });
    const read = guard.wrap(async () => {
      throw new SourceError("Prometheus at p:9090 could not be reached: ECONNREFUSED", { backendTrouble: true });
    });
    await expect(read("x", never)).rejects.toThrow("ECONNREFUSED");
    await expect(read("x", never)).rejects.toThrow("ECONNREFUSED");
    now = 10_001;
    await expect(read("x", never)).rejects.toThrow("ECONNREFUSED");
    await expect(read("x", never)).rejects.toThrow("stopped calling it");
  });

  it("does not count a refusal of one request (403, a bad query) as the backend failing", async () => {
    const guard = new BackendGuard({ name: "API server", maxInFlight: 4, failureThreshold: 2, cooldownMs: 10_000 });
    const read = guard.wrap(async () => {
      throw new SourceError("API server answered 403 Forbidden: pods is forbidden");
    });
    for (let i = 0; i < 5; i++) await expect(read("x", never)).rejects.toThrow("403");
    expect(guard.stats.circuitOpenUntil).toBe(0);
  });

  it("waits out the backend's Retry-After before the next call", async () => {
    const guard = new BackendGuard({ name: "API server", maxInFlight: 4, failureThreshold: 10, cooldownMs: 10_000 });
    let first = true;
    const times: number[] = [];
    const read = guard.wrap(async () => {
      times.push(Date.now());
      if (first) {
        first = false;
        throw new SourceError("API server answered 429 TooManyRequests", { backendTrouble: true, retryAfterMs: 300 });
      }
      return ok;
    });
    await expect(read("x", never)).rejects.toThrow("429");
    await read("x", never);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(290);
  });

  it("gives a slow backend a quarter of the cap", async () => {
    const guard = new BackendGuard({ name: "API server", maxInFlight: 8, failureThreshold: 10, cooldownMs: 1000, slowMs: 20 });
    const read = guard.wrap(async () => {
      await new Promise((r) => setTimeout(r, 40));
      return ok;
    });
    await read("x", never);
    expect(guard.limit).toBe(2);
  });
});

describe("the backend guard's state, as /readyz and the backend gauges show it", () => {
  it("goes ok → unreachable since the first failure → circuit open until the cooldown ends → ok after a good answer", async () => {
    let now = Date.parse("2026-12-04T10:00:00Z");
    let healthy = true;
    const guard = new BackendGuard({ name: "Prometheus", maxInFlight: 4, failureThreshold: 3, cooldownMs: 30_000, now: () => now });
    const read = guard.wrap(async () => {
      if (!healthy) throw new SourceError("Prometheus at prom:9090 could not be reached: ECONNREFUSED", { backendTrouble: true });
      return ok;
    });
    expect(guard.state()).toEqual({ state: "ok" });
    await read("x", never);
    expect(guard.state()).toEqual({ state: "ok", since: "2026-12-04T10:00:00.000Z" });
    healthy = false;
    now += 1000;
    await expect(read("x", never)).rejects.toThrow("ECONNREFUSED");
    now += 1000;
    await expect(read("x", never)).rejects.toThrow("ECONNREFUSED");
    expect(guard.state()).toEqual({
      state: "unreachable",
      since: "2026-12-04T10:00:01.000Z",
      lastError: "Prometheus at prom:9090 could not be reached: ECONNREFUSED",
    });
    now += 1000;
    await expect(read("x", never)).rejects.toThrow("ECONNREFUSED");
    expect(guard.state()).toEqual({
      state: "circuit_open",
      since: "2026-12-04T10:00:03.000Z",
      until: "2026-12-04T10:00:33.000Z",
      lastError: "Prometheus at prom:9090 could not be reached: ECONNREFUSED",
    });
    now += 31_000;
    healthy = true;
    await read("x", never);
    expect(guard.state()).toEqual({ state: "ok", since: "2026-12-04T10:00:34.000Z" });
  });

  it("stays ok when a read fails for its own sake (a 4xx), not the backend's", async () => {
    const guard = new BackendGuard({ name: "API server", maxInFlight: 4, failureThreshold: 3, cooldownMs: 30_000 });
    const read = guard.wrap(async () => {
      throw new SourceError("API server answered 404 NotFound", { backendTrouble: false });
    });
    await expect(read("x", never)).rejects.toThrow("404");
    expect(guard.state().state).toBe("ok");
  });
});
