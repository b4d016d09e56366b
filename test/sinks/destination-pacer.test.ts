// When the pacer lets requests go: by priority, at the rule's pace, never while held, names and IDs merged.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DestinationPacer } from "../../src/sinks/destination-pacer.ts";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Acquires for each label in order, recording when each was let through. */
function acquireAll(pacer: DestinationPacer, requests: Array<[label: string, priority: number]>, destination = "C1") {
  const granted: Array<[string, number]> = [];
  for (const [label, priority] of requests) {
    void pacer.acquire(destination, priority).then(() => granted.push([label, Date.now()]));
  }
  return granted;
}

describe("DestinationPacer", () => {
  it("lets one request go per interval, the most urgent waiting one first, first come first served within a priority", async () => {
    const pacer = new DestinationPacer({ kind: "interval", intervalMs: 1000 });
    const granted = acquireAll(pacer, [
      ["reply a", 1],
      ["chart a", 2],
      ["reply b", 1],
      ["headline c", 0],
      ["headline d", 0],
    ]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(granted).toEqual([
      ["reply a", 0],
      ["headline c", 1000],
      ["headline d", 2000],
      ["reply b", 3000],
      ["chart a", 4000],
    ]);
  });

  it("sends nothing while a destination is held, then resumes at the rule's pace; other destinations go on", async () => {
    const pacer = new DestinationPacer({ kind: "interval", intervalMs: 100 });
    pacer.hold("C1", 3000);
    const held = acquireAll(pacer, [
      ["a", 0],
      ["b", 0],
    ]);
    const other = acquireAll(pacer, [["elsewhere", 0]], "C2");
    await vi.advanceTimersByTimeAsync(2999);
    expect(held).toEqual([]);
    expect(other).toEqual([["elsewhere", 0]]);
    expect(pacer.heldForMs("C1")).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(held).toEqual([
      ["a", 3000],
      ["b", 3100],
    ]);
  });

  it("after a hold, keeps the slower interval for a while, then goes back to its own", async () => {
    const pacer = new DestinationPacer({ kind: "interval", intervalMs: 0, afterHold: { intervalMs: 1000, forMs: 10_000 } });
    pacer.hold("C1", 1000);
    const granted = acquireAll(pacer, [
      ["a", 0],
      ["b", 0],
      ["c", 0],
    ]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(granted.map(([, at]) => at)).toEqual([1000, 2000, 3000]);
    await vi.advanceTimersByTimeAsync(9000);
    const later = acquireAll(pacer, [
      ["d", 0],
      ["e", 0],
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(later.map(([, at]) => at)).toEqual([12_000, 12_000]);
  });

  it("a hold that arrives while requests wait for their slot pushes them back", async () => {
    const pacer = new DestinationPacer({ kind: "interval", intervalMs: 1000 });
    const granted = acquireAll(pacer, [
      ["a", 0],
      ["b", 0],
    ]);
    await vi.advanceTimersByTimeAsync(500);
    pacer.hold("C1", 5000);
    await vi.advanceTimersByTimeAsync(6000);
    expect(granted).toEqual([
      ["a", 0],
      ["b", 5500],
    ]);
  });

  it("keeps a sliding window: `limit` at once, the next when the oldest leaves the window (plus the margin)", async () => {
    const pacer = new DestinationPacer({ kind: "window", limit: 3, windowMs: 60_000, marginMs: 1000 });
    const granted = acquireAll(
      pacer,
      Array.from({ length: 5 }, (_, i): [string, number] => [`e${i}`, 0]),
    );
    await vi.advanceTimersByTimeAsync(60_999);
    expect(granted.map(([, at]) => at)).toEqual([0, 0, 0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(granted.map(([, at]) => at)).toEqual([0, 0, 0, 61_000, 61_000]);
  });

  it("merges a channel's name into its ID: their waiters share one pace", async () => {
    const pacer = new DestinationPacer({ kind: "interval", intervalMs: 1000 });
    const byName = acquireAll(
      pacer,
      [
        ["first", 0],
        ["second by name", 1],
      ],
      "#alerts",
    );
    pacer.alias("#alerts", "C1");
    const byId = acquireAll(pacer, [["headline by id", 0]], "C1");
    await vi.advanceTimersByTimeAsync(3000);
    expect([...byName, ...byId].sort((a, b) => a[1] - b[1])).toEqual([
      ["first", 0],
      ["headline by id", 1000],
      ["second by name", 2000],
    ]);
  });
});
