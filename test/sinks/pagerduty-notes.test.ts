// Tests for the PagerDuty notes sink: which incident it finds, when it adds a note, and how it reports PagerDuty's answers.
import { afterEach, describe, expect, it } from "vitest";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { PAGERDUTY_API_URL, PAGERDUTY_NOTE_MAX_CHARS, PagerDutyNotesSink } from "../../src/sinks/pagerduty-notes.ts";
import { alertmanagerIncidentKey } from "../../src/sinks/pagerduty-sinks.ts";
import type { DeliveryContext, SinkOutcome } from "../../src/sinks/sink.ts";
import {
  FIXTURE_CAUSE,
  FIXTURE_GROUP_KEY,
  FIXTURE_REMEDIATION,
  makeAlertDiagnosis,
  makeCause,
  makeDiagnosis,
  makeHugeDiagnosis,
  makeResolvedDiagnosis,
} from "../support/diagnosis-fixtures.ts";
import {
  PAGERDUTY_MAX_NOTES,
  PAGERDUTY_STANDIN_API_TOKEN,
  PAGERDUTY_STANDIN_FROM_EMAIL,
  type PagerDutyRestStandIn,
  startPagerDutyRestStandIn,
} from "../support/pagerduty-rest-standin.ts";

const ALERTMANAGER_KEY = alertmanagerIncidentKey(FIXTURE_GROUP_KEY);

/** What the delivery worker hands a sink: the state it saved last time for this group. */
function groupContext(): DeliveryContext & { saves: number } {
  const context = {
    state: undefined as unknown,
    saves: 0,
    async saveState(state: unknown) {
      context.state = structuredClone(state);
      context.saves += 1;
    },
  };
  return context;
}

function errorOf(outcome: SinkOutcome): string {
  return outcome.status === "delivered" ? (outcome.detail ?? "") : outcome.error;
}

/** A diagnosis made just now: PagerDuty may still be opening its incident. */
function justMade(): Diagnosis {
  return makeDiagnosis({ createdAt: new Date().toISOString() });
}

function withTopCause(summary: string, id = "other-cause"): Diagnosis {
  return makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [makeCause({ id, summary, title: summary })] })] });
}

describe("PagerDutyNotesSink", () => {
  let standIn: PagerDutyRestStandIn | undefined;
  const outcomes: SinkOutcome[] = [];

  async function start(): Promise<PagerDutyRestStandIn> {
    standIn = await startPagerDutyRestStandIn();
    return standIn;
  }

  function sinkFor(running: PagerDutyRestStandIn, options: { apiToken?: string; timeoutMs?: number } = {}) {
    const sink = new PagerDutyNotesSink({
      apiToken: options.apiToken ?? PAGERDUTY_STANDIN_API_TOKEN,
      fromEmail: PAGERDUTY_STANDIN_FROM_EMAIL,
      apiUrl: running.apiUrl,
      incidentKey: (d) => alertmanagerIncidentKey(d.groupKey),
      timeoutMs: options.timeoutMs,
    });
    return {
      name: sink.name,
      async deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
        const outcome = await sink.deliver(diagnosis, context);
        outcomes.push(outcome);
        return outcome;
      },
    };
  }

  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  it("adds the diagnosis as a note on the open incident for the group's key, written as the configured user", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const sink = sinkFor(running);
    expect(sink.name).toBe("pagerduty-notes");
    const outcome = await sink.deliver(makeDiagnosis(), groupContext());
    expect(outcome).toEqual({ status: "delivered", detail: `note on incident ${incident.id}` });
    expect(incident.notes).toHaveLength(1);
    const note = incident.notes[0];
    expect(note?.from).toBe(PAGERDUTY_STANDIN_FROM_EMAIL);
    expect(note?.content).toContain(FIXTURE_CAUSE);
    expect(note?.content).toContain(`do now: ${FIXTURE_REMEDIATION}`);
    expect(note?.content).toContain("Diagnosis report: https://enricher.example.com/reports/n-0001");
    const lookup = running.requests[0];
    expect(lookup?.query.get("incident_key")).toBe(ALERTMANAGER_KEY);
    expect(lookup?.query.get("date_range")).toBe("all");
    expect(lookup?.query.getAll("statuses[]")).toEqual(["triggered", "acknowledged"]);
  });

  it("adds no second note when the same diagnosis is sent again", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const sink = sinkFor(running);
    const context = groupContext();
    await sink.deliver(makeDiagnosis(), context);
    const again = await sink.deliver(makeDiagnosis({ notificationId: "n-0002" }), context);
    expect(again).toEqual({ status: "delivered", detail: `incident ${incident.id} already has this diagnosis` });
    expect(incident.notes).toHaveLength(1);
    expect(context.saves).toBe(1);
  });

  it("adds no note when only the evidence, the confidence or the report link changed", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const sink = sinkFor(running);
    const context = groupContext();
    await sink.deliver(makeDiagnosis(), context);
    const rerun = makeDiagnosis({
      notificationId: "n-0002",
      alerts: [
        makeAlertDiagnosis({
          causes: [makeCause({ confidence: 0.91, evidence: [{ step: "client-logs", text: 'logged "Unauthorized" 300 times' }] })],
          links: { report: "https://enricher.example.com/reports/n-0002" },
        }),
      ],
    });
    await sink.deliver(rerun, context);
    expect(incident.notes).toHaveLength(1);
  });

  it("adds a second note, marked as an update, when the top cause changed", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const sink = sinkFor(running);
    const context = groupContext();
    await sink.deliver(makeDiagnosis(), context);
    const outcome = await sink.deliver(withTopCause("The API server answers kube-state-metrics with 429"), context);
    expect(outcome.status).toBe("delivered");
    expect(incident.notes).toHaveLength(2);
    expect(incident.notes[1]?.content).toMatch(/^Updated diagnosis:\n\n/);
    expect(incident.notes[1]?.content).toContain("The API server answers kube-state-metrics with 429");
  });

  it("notes the new incident when the group fires again after its incident was resolved", async () => {
    const running = await start();
    const first = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const sink = sinkFor(running);
    const context = groupContext();
    await sink.deliver(makeDiagnosis(), context);
    first.status = "resolved";
    const second = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const outcome = await sink.deliver(makeDiagnosis({ notificationId: "n-0002" }), context);
    expect(outcome).toEqual({ status: "delivered", detail: `note on incident ${second.id}` });
    expect(first.notes).toHaveLength(1);
    expect(second.notes).toHaveLength(1);
    expect(second.notes[0]?.content).not.toContain("Updated diagnosis");
  });

  it("finds an incident opened more than a month ago", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY, createdAt: new Date(Date.now() - 40 * 24 * 3600 * 1000) });
    expect((await sinkFor(running).deliver(makeDiagnosis())).status).toBe("delivered");
    expect(incident.notes).toHaveLength(1);
  });

  it("asks to retry in 15 s, naming the key it looked up, until PagerDuty has opened the incident", async () => {
    const running = await start();
    const sink = sinkFor(running);
    const context = groupContext();
    const early = await sink.deliver(justMade(), context);
    expect(early).toMatchObject({ status: "retry", code: "incident_not_found", retryAfterMs: 15_000 });
    expect(errorOf(early)).toContain(ALERTMANAGER_KEY);
    expect(context.saves).toBe(0);

    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    expect(await sink.deliver(justMade(), context)).toEqual({ status: "delivered", detail: `note on incident ${incident.id}` });
    expect(incident.notes).toHaveLength(1);
  });

  it("gives up, asking whether the group is routed to PagerDuty, when no incident appeared within 30 min of the diagnosis", async () => {
    const running = await start();
    const diagnosis = makeDiagnosis({ createdAt: new Date(Date.now() - 31 * 60_000).toISOString() });
    const outcome = await sinkFor(running).deliver(diagnosis);
    expect(outcome).toMatchObject({ status: "failed", code: "incident_not_found" });
    expect(errorOf(outcome)).toContain(`incident_key ${ALERTMANAGER_KEY} 30 min after the diagnosis`);
    expect(errorOf(outcome)).toContain("is this alert group routed to PagerDuty?");
  });

  it("still retries a rate limit on an old diagnosis", async () => {
    const running = await start();
    running.rateLimitNext(1);
    expect(await sinkFor(running).deliver(makeDiagnosis({ createdAt: "2026-01-01T00:00:00Z" }))).toMatchObject({ status: "retry" });
  });

  it("does not note an incident that is already resolved", async () => {
    const running = await start();
    const resolved = running.addIncident({ incident_key: ALERTMANAGER_KEY, status: "resolved" });
    expect(await sinkFor(running).deliver(justMade())).toMatchObject({ status: "retry", code: "incident_not_found" });
    expect(resolved.notes).toHaveLength(0);
  });

  it("adds no note and makes no request when the group resolved", async () => {
    const running = await start();
    running.addIncident({ incident_key: ALERTMANAGER_KEY });
    expect(await sinkFor(running).deliver(makeResolvedDiagnosis(), groupContext())).toEqual({
      status: "delivered",
      detail: "no note: the group resolved",
    });
    expect(running.requests).toHaveLength(0);
  });

  it("cuts a huge diagnosis to 25,000 characters and says where the full one is", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    expect((await sinkFor(running).deliver(makeHugeDiagnosis())).status).toBe("delivered");
    const content = incident.notes[0]?.content ?? "";
    expect(content.length).toBeLessThanOrEqual(PAGERDUTY_NOTE_MAX_CHARS);
    expect(content.length).toBeGreaterThan(PAGERDUTY_NOTE_MAX_CHARS - 200);
    expect(content).toMatch(
      /\n\n\[Note cut at 25,000 characters; the full diagnosis: https:\/\/enricher\.example\.com\/reports\/n-0001\]$/,
    );
  });

  it("fails with code unauthorized when PagerDuty refuses the API token", async () => {
    const running = await start();
    running.addIncident({ incident_key: ALERTMANAGER_KEY });
    const wrongToken = "wrong-token-u+PzYd2mAEX";
    const outcome = await sinkFor(running, { apiToken: wrongToken }).deliver(makeDiagnosis());
    expect(outcome).toMatchObject({ status: "failed", code: "unauthorized" });
    expect(errorOf(outcome)).toContain("401");
    expect(errorOf(outcome)).toContain("Authentication failed");
    expect(errorOf(outcome)).not.toContain(wrongToken);
  });

  it("fails with code forbidden when the API token may not add notes", async () => {
    const running = await start();
    running.failNext(1, { status: 403, body: JSON.stringify({ error: { message: "Access Denied", code: 2010 } }) });
    const outcome = await sinkFor(running).deliver(makeDiagnosis());
    expect(outcome).toMatchObject({ status: "failed", code: "forbidden" });
    expect(errorOf(outcome)).toContain("Access Denied");
  });

  it("fails when the incident is gone by the time the note is added, and remembers nothing", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    running.failNotesNext(1, { status: 404, body: { error: { message: "Incident Not Found", code: 5001 } } });
    const context = groupContext();
    const outcome = await sinkFor(running).deliver(makeDiagnosis(), context);
    expect(outcome).toMatchObject({ status: "failed", code: "incident_not_found" });
    expect(errorOf(outcome)).toContain(`incident ${incident.id}`);
    expect(errorOf(outcome)).toContain("Incident Not Found");
    expect(context.saves).toBe(0);
  });

  it("asks for a retry after the ratelimit-reset seconds when rate limited", async () => {
    const running = await start();
    running.addIncident({ incident_key: ALERTMANAGER_KEY });
    running.rateLimitNext(1, { resetSeconds: 23 });
    const outcome = await sinkFor(running).deliver(makeDiagnosis());
    expect(outcome).toMatchObject({ status: "retry", code: "rate_limited", retryAfterMs: 23_000 });
    expect(errorOf(outcome)).toContain("Rate Limit Exceeded (code 2020)");
  });

  it("waits a minute when a 429 comes without any header", async () => {
    const running = await start();
    running.addIncident({ incident_key: ALERTMANAGER_KEY });
    running.rateLimitNext(1);
    expect(await sinkFor(running).deliver(makeDiagnosis())).toMatchObject({ status: "retry", retryAfterMs: 60_000 });
  });

  it("asks for a retry, and adds the note only once, when the note itself is rate limited", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    running.failNotesNext(1, {
      status: 429,
      body: { error: { message: "Rate Limit Exceeded", code: 2020 } },
      headers: { "ratelimit-reset": "4" },
    });
    const sink = sinkFor(running);
    const context = groupContext();
    expect(await sink.deliver(makeDiagnosis(), context)).toMatchObject({ status: "retry", retryAfterMs: 4000 });
    expect(context.saves).toBe(0);
    expect((await sink.deliver(makeDiagnosis(), context)).status).toBe("delivered");
    expect(await sink.deliver(makeDiagnosis(), context)).toMatchObject({ detail: expect.stringContaining("already has") });
    expect(incident.notes).toHaveLength(1);
  });

  it("asks for a retry when PagerDuty answers 500 or does not answer", async () => {
    const running = await start();
    running.addIncident({ incident_key: ALERTMANAGER_KEY });
    running.failNext(1, { status: 500 });
    expect(await sinkFor(running).deliver(makeDiagnosis())).toMatchObject({ status: "retry", code: "http_500" });
    running.failNext(1, { hang: true });
    const outcome = await sinkFor(running, { timeoutMs: 300 }).deliver(makeDiagnosis());
    expect(outcome).toMatchObject({ status: "retry", code: "timeout" });
    expect(errorOf(outcome)).toContain("300 ms");
  });

  it("gives up with PagerDuty's words when the incident already has 2000 notes", async () => {
    const running = await start();
    const incident = running.addIncident({ incident_key: ALERTMANAGER_KEY });
    incident.notes.push(...Array.from({ length: PAGERDUTY_MAX_NOTES }, () => ({ content: "earlier", from: "someone@example.com" })));
    const outcome = await sinkFor(running).deliver(makeDiagnosis());
    expect(outcome).toMatchObject({ status: "failed", code: "http_400" });
    expect(errorOf(outcome)).toContain("A maximum of 2000 notes can be added to an incident");
  });

  it("never puts the API token into any outcome", () => {
    expect(outcomes.length).toBeGreaterThanOrEqual(15);
    expect(outcomes.map(errorOf).join("\n")).not.toContain(PAGERDUTY_STANDIN_API_TOKEN);
  });

  it("defaults to PagerDuty's public REST API", () => {
    expect(PAGERDUTY_API_URL).toBe("https://api.pagerduty.com");
  });
});
