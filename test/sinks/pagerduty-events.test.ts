// Tests for what is particular to the PagerDuty Events sink: real validation by the stand-in, trigger then resolve.
import { afterEach, describe, expect, it } from "vitest";
import { PAGERDUTY_EVENTS_URL, PagerDutyEventsSink } from "../../src/sinks/pagerduty-events.ts";
import { makeDiagnosis, makeResolvedDiagnosis } from "../support/diagnosis-fixtures.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";

const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";

describe("PagerDutyEventsSink", () => {
  let standIn: PagerDutyStandIn | undefined;

  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  it("triggers and later resolves the same PagerDuty alert", async () => {
    const running = await startPagerDutyStandIn();
    standIn = running;
    const sink = new PagerDutyEventsSink({ routingKey: ROUTING_KEY, eventsUrl: running.eventsUrl });
    expect(sink.name).toBe("pagerduty");
    const triggered = await sink.deliver(makeDiagnosis());
    const resolved = await sink.deliver(makeResolvedDiagnosis());
    expect(triggered.status).toBe("delivered");
    expect(resolved).toEqual(triggered);
    const dedupKey = running.events[0]?.dedup_key;
    expect(running.events.map((e) => [e.event_action, e.dedup_key])).toEqual([
      ["trigger", dedupKey],
      ["resolve", dedupKey],
    ]);
  });

  it("passes on PagerDuty's validation errors without the routing key", async () => {
    const running = await startPagerDutyStandIn();
    standIn = running;
    const badKey = "too-short-key";
    const outcome = await new PagerDutyEventsSink({ routingKey: badKey, eventsUrl: running.eventsUrl }).deliver(makeDiagnosis());
    expect(outcome).toEqual({
      status: "failed",
      code: "http_400",
      error: expect.stringContaining("400 Event object is invalid - errors: 'routing_key' must be a 32 character"),
    });
    expect(outcome.status === "failed" ? outcome.error : "").not.toContain(badKey);
  });

  it("defaults to PagerDuty's public enqueue endpoint", () => {
    expect(PAGERDUTY_EVENTS_URL).toBe("https://events.pagerduty.com/v2/enqueue");
  });
});
