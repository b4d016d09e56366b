// Callers that arrive while a run of their key waits to begin share it; those after it began get the next run.
import { expect, it } from "vitest";
import { CoalescedRuns } from "../../src/sinks/coalesced-runs.ts";

it("lets callers join the run that has not begun, runs one key at a time, and keeps keys apart", async () => {
  const runs = new CoalescedRuns<number>();
  let count = 0;
  let running = 0;
  let most = 0;
  const work = async (begin: () => void) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, 20));
    begin();
    count += 1;
    const seen = count;
    await new Promise((r) => setTimeout(r, 20));
    running -= 1;
    return seen;
  };
  // Ten callers at once share the first run.
  const first = await Promise.all(Array.from({ length: 10 }, () => runs.run("storm-a", work)));
  expect(first).toEqual(Array(10).fill(1));
  // One caller while a run is past its beginning gets a run of its own, after it; callers after that share it.
  const during = runs.run("storm-a", work);
  await new Promise((r) => setTimeout(r, 30));
  const after = [runs.run("storm-a", work), runs.run("storm-a", work)];
  expect(await during).toBe(2);
  expect(await Promise.all(after)).toEqual([3, 3]);
  expect(most).toBe(1);
  // Another key does not wait for this one.
  expect(await Promise.all([runs.run("storm-b", async () => 7), runs.run("storm-a", async () => 8)])).toEqual([7, 8]);
  // A failed run fails its callers only; the next run goes ahead.
  await expect(runs.run("storm-a", async () => Promise.reject(new Error("store down")))).rejects.toThrow("store down");
  expect(await runs.run("storm-a", async () => 9)).toBe(9);
});
