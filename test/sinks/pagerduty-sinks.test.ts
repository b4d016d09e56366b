// Tests for PAGERDUTY_MODE: which sinks each mode makes, which incident the notes land on, and the configuration errors.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { pagerDutyDedupKey } from "../../src/render/pagerduty-event.ts";
import { alertmanagerIncidentKey, type PagerDutySinksConfig, pagerDutySinks } from "../../src/sinks/pagerduty-sinks.ts";
import type { DeliveryContext, Sink } from "../../src/sinks/sink.ts";
import { FIXTURE_CAUSE, FIXTURE_GROUP_KEY, makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import {
  PAGERDUTY_STANDIN_API_TOKEN,
  PAGERDUTY_STANDIN_FROM_EMAIL,
  type PagerDutyRestStandIn,
  startPagerDutyRestStandIn,
} from "../support/pagerduty-rest-standin.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";

const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";
const URLS = { eventsUrl: "https://events.pagerduty.com/v2/enqueue", apiUrl: "https://api.pagerduty.com" };
const NOTES = { apiToken: PAGERDUTY_STANDIN_API_TOKEN, fromEmail: PAGERDUTY_STANDIN_FROM_EMAIL };

function names(config: PagerDutySinksConfig): string[] {
  return pagerDutySinks(config).map((s) => s.name);
}

function sinkNamed(sinks: Sink[], name: string): Sink {
  const sink = sinks.find((s) => s.name === name);
  if (sink === undefined) throw new Error(`no ${name} sink`);
  return sink;
}

function groupContext(): DeliveryContext {
  const context: DeliveryContext = {
    state: undefined,
    async saveState(state) {
      context.state = structuredClone(state);
    },
  };
  return context;
}

describe("pagerDutySinks", () => {
  it("makes both sinks when both the routing key and the API token are set", () => {
    expect(names({ ...URLS, routingKey: ROUTING_KEY, ...NOTES })).toEqual(["pagerduty", "pagerduty-notes"]);
  });

  it("makes only the events sink with only a routing key, and only the notes sink with only an API token", () => {
    expect(names({ ...URLS, routingKey: ROUTING_KEY })).toEqual(["pagerduty"]);
    expect(names({ ...URLS, ...NOTES })).toEqual(["pagerduty-notes"]);
  });

  it("makes no sink when PagerDuty is not configured", () => {
    expect(names(URLS)).toEqual([]);
  });

  it("follows PAGERDUTY_MODE over what the credentials would allow", () => {
    expect(names({ ...URLS, routingKey: ROUTING_KEY, ...NOTES, mode: "events" })).toEqual(["pagerduty"]);
    expect(names({ ...URLS, routingKey: ROUTING_KEY, ...NOTES, mode: "notes" })).toEqual(["pagerduty-notes"]);
  });

  it("names the missing variables when the mode lacks its credentials", () => {
    expect(() => pagerDutySinks({ ...URLS, mode: "events", ...NOTES })).toThrow("PAGERDUTY_MODE=events needs PAGERDUTY_ROUTING_KEY");
    expect(() => pagerDutySinks({ ...URLS, mode: "notes", routingKey: ROUTING_KEY })).toThrow(
      "PAGERDUTY_MODE=notes needs PAGERDUTY_API_TOKEN and PAGERDUTY_FROM_EMAIL",
    );
    expect(() => pagerDutySinks({ ...URLS, mode: "both" })).toThrow(
      "PAGERDUTY_MODE=both needs PAGERDUTY_ROUTING_KEY; PAGERDUTY_MODE=both needs PAGERDUTY_API_TOKEN and PAGERDUTY_FROM_EMAIL",
    );
    expect(() => pagerDutySinks({ ...URLS, apiToken: PAGERDUTY_STANDIN_API_TOKEN })).toThrow("PAGERDUTY_FROM_EMAIL");
  });

  it("keeps the API token out of the error", () => {
    expect(() => pagerDutySinks({ ...URLS, mode: "both", apiToken: PAGERDUTY_STANDIN_API_TOKEN })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(PAGERDUTY_STANDIN_API_TOKEN) }),
    );
  });

  it("uses Alertmanager's key for its incidents: the sha256 of the group key in hex", () => {
    expect(alertmanagerIncidentKey(FIXTURE_GROUP_KEY)).toBe(createHash("sha256").update(FIXTURE_GROUP_KEY).digest("hex"));
    expect(alertmanagerIncidentKey(FIXTURE_GROUP_KEY)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("PagerDuty modes against the stand-ins", () => {
  let events: PagerDutyStandIn | undefined;
  let rest: PagerDutyRestStandIn | undefined;

  afterEach(async () => {
    await Promise.all([events?.close(), rest?.close()]);
    events = undefined;
    rest = undefined;
  });

  async function start(): Promise<{ events: PagerDutyStandIn; rest: PagerDutyRestStandIn }> {
    events = await startPagerDutyStandIn();
    rest = await startPagerDutyRestStandIn({ events: events.events });
    return { events, rest };
  }

  it("in notes mode notes the incident Alertmanager opened and sends no event of its own", async () => {
    const running = await start();
    const incident = running.rest.addIncident({ incident_key: alertmanagerIncidentKey(FIXTURE_GROUP_KEY) });
    const sinks = pagerDutySinks({ eventsUrl: running.events.eventsUrl, apiUrl: running.rest.apiUrl, ...NOTES, mode: "notes" });
    const outcomes = await Promise.all(sinks.map((s) => s.deliver(makeDiagnosis(), groupContext())));
    expect(outcomes).toEqual([{ status: "delivered", detail: `note on incident ${incident.id}` }]);
    expect(running.events.requests).toBe(0);
    expect(incident.notes[0]?.content).toContain(FIXTURE_CAUSE);
  });

  it("in both mode sends the event, then notes the incident that event opened once PagerDuty has it", async () => {
    const running = await start();
    const sinks = pagerDutySinks({ eventsUrl: running.events.eventsUrl, apiUrl: running.rest.apiUrl, routingKey: ROUTING_KEY, ...NOTES });
    const ourKey = pagerDutyDedupKey(FIXTURE_GROUP_KEY);
    const notes = sinkNamed(sinks, "pagerduty-notes");
    const context = groupContext();

    // Nothing orders the two sinks' deliveries: the note may run before the event has opened the incident.
    const early = await notes.deliver(makeDiagnosis({ createdAt: new Date().toISOString() }), context);
    expect(early).toMatchObject({ status: "retry", code: "incident_not_found", error: expect.stringContaining(ourKey) });

    expect((await sinkNamed(sinks, "pagerduty").deliver(makeDiagnosis())).status).toBe("delivered");
    expect(running.events.events.map((e) => e.dedup_key)).toEqual([ourKey]);

    expect((await notes.deliver(makeDiagnosis(), context)).status).toBe("delivered");
    expect(running.rest.incidents.map((i) => [i.incident_key, i.notes.length])).toEqual([[ourKey, 1]]);
  });
});
