// Tests for PAGERDUTY_STORM_INCIDENT: one PagerDuty incident per storm of alert groups (or per group), against the
// Events API and REST API stand-ins, with the store's storm records played by an in-memory double.
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { groupVerdictOf } from "../../src/diagnosis/group-verdict.ts";
import type { Diagnosis, StormMembership } from "../../src/model/diagnosis.ts";
import type { StoredStorm } from "../../src/model/storm.ts";
import { type PagerDutyEvent, pagerDutyDedupKey } from "../../src/render/pagerduty-event.ts";
import { pagerDutyStormDedupKey } from "../../src/render/pagerduty-storm-event.ts";
import { type PagerDutySinksConfig, pagerDutySinks } from "../../src/sinks/pagerduty-sinks.ts";
import type { DeliveryContext, Sink, StormAccess } from "../../src/sinks/sink.ts";
import { makeAlert, makeAlertDiagnosis, makeCause, makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import {
  PAGERDUTY_STANDIN_API_TOKEN,
  PAGERDUTY_STANDIN_FROM_EMAIL,
  type PagerDutyRestStandIn,
  startPagerDutyRestStandIn,
} from "../support/pagerduty-rest-standin.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";

const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";
const STORM_ID = "storm-7f3a";
const CLUSTER = "prod-eu";
const OPENED_AT = "2026-08-20T10:14:00.000Z";
const CLIENTS = ["billing-api", "report-exporter", "checkout", "search-indexer", "cert-manager"];
const API_SERVER_CAUSE = makeCause({
  id: "apiserver_side_errors",
  title: "The API server is failing the requests",
  summary: "The API server answers 5xx to most clients",
});

function groupKeyOf(client: string): string {
  return `{}/{severity=~"warning|critical"}:{job="${client}"}`;
}

/** A client's alert group, firing or resolved; most clients see the API server failing them. */
function clientDiagnosis(
  client: string,
  options: { status?: "firing" | "resolved"; storm?: StormMembership; seq?: number } = {},
): Diagnosis {
  const status = options.status ?? "firing";
  const alert = makeAlert({
    status,
    labels: { alertname: "KubeClientErrors", cluster: CLUSTER, job: client, severity: "warning" },
    ...(status === "resolved" ? { endsAt: "2026-08-20T10:42:00.000Z" } : {}),
  });
  const notificationId = `n-${client}-${options.seq ?? 1}`;
  return makeDiagnosis({
    notificationId,
    groupKey: groupKeyOf(client),
    status,
    groupLabels: { job: client },
    commonLabels: { alertname: "KubeClientErrors", cluster: CLUSTER, job: client, severity: "warning" },
    alerts: [
      makeAlertDiagnosis({
        alert,
        verdict: "cause",
        causes: [client === "report-exporter" ? makeCause() : API_SERVER_CAUSE],
        links: { report: `https://enricher.example.com/reports/${notificationId}` },
      }),
    ],
    ...(options.storm !== undefined ? { storm: options.storm } : {}),
  });
}

function membership(groups: number): StormMembership {
  return { id: STORM_ID, openedAt: OPENED_AT, groups, cluster: CLUSTER, windowSeconds: 120, sameVerdict: groups };
}

/**
 * The store's side of a storm: the storm with each member's latest done notification (stored before its delivery
 * runs, as the service does), and what each sink remembers per group.
 */
class StormStoreDouble {
  readonly storm: StoredStorm = { id: STORM_ID, cluster: CLUSTER, openedAt: OPENED_AT, lastSeenAt: OPENED_AT, members: [] };
  readonly #groupStates = new Map<string, unknown>();
  readonly #stormStates = new Map<string, unknown>();
  failReads = false;

  /** Stores a done notification of a group that is part of the storm. */
  record(d: Diagnosis): void {
    const latest = { notificationId: d.notificationId, receivedAt: d.createdAt, firing: d.status === "firing", verdict: groupVerdictOf(d) };
    const member = this.storm.members.find((m) => m.groupKey === d.groupKey);
    if (member !== undefined) member.latest = latest;
    else this.storm.members.push({ groupKey: d.groupKey, firstReceivedAt: d.createdAt, latest });
  }

  context(d: Diagnosis, sink: string): DeliveryContext {
    const key = `${sink}/${d.groupKey}`;
    const storms: StormAccess = {
      read: async (id) => {
        if (this.failReads) throw new Error("database is locked");
        return id === this.storm.id ? structuredClone(this.storm) : null;
      },
      getState: async (id) => this.#stormStates.get(`${sink}/${id}`) ?? null,
      saveState: async (id, state) => {
        this.#stormStates.set(`${sink}/${id}`, structuredClone(state));
      },
      saveStateIfAbsent: async (id, state) => {
        if (this.#stormStates.has(`${sink}/${id}`)) return false;
        this.#stormStates.set(`${sink}/${id}`, structuredClone(state));
        return true;
      },
    };
    return {
      state: this.#groupStates.get(key) ?? null,
      saveState: async (state) => {
        this.#groupStates.set(key, structuredClone(state));
      },
      storms,
    };
  }
}

function sinkNamed(sinks: Sink[], name: string): Sink {
  const sink = sinks.find((s) => s.name === name);
  if (sink === undefined) throw new Error(`no ${name} sink`);
  return sink;
}

function actions(events: PagerDutyEvent[]): Array<[string, string]> {
  return events.map((e) => [e.event_action, e.dedup_key]);
}

describe("PagerDuty in a storm of alert groups", () => {
  let events: PagerDutyStandIn | undefined;
  let rest: PagerDutyRestStandIn | undefined;

  afterEach(async () => {
    await Promise.all([events?.close(), rest?.close()]);
    events = undefined;
    rest = undefined;
  });

  async function eventsSink(config: Partial<PagerDutySinksConfig> = {}): Promise<{ sink: Sink; standIn: PagerDutyStandIn }> {
    events = await startPagerDutyStandIn();
    const sinks = pagerDutySinks({ eventsUrl: events.eventsUrl, apiUrl: "https://api.pagerduty.com", routingKey: ROUTING_KEY, ...config });
    return { sink: sinkNamed(sinks, "pagerduty"), standIn: events };
  }

  /** Each client's group is stored, then delivered, in order; every one is diagnosed inside the storm. */
  async function stormOfFive(sink: Sink, store: StormStoreDouble | undefined): Promise<void> {
    for (const [i, client] of CLIENTS.entries()) {
      const d = clientDiagnosis(client, { storm: membership(i + 1) });
      store?.record(d);
      expect((await sink.deliver(d, store?.context(d, sink.name))).status).toBe("delivered");
    }
  }

  it("pages one incident for a storm of five groups, listing every group with its verdict and report", async () => {
    const { sink, standIn } = await eventsSink();
    const store = new StormStoreDouble();
    await stormOfFive(sink, store);

    const stormKey = pagerDutyStormDedupKey(STORM_ID);
    expect(actions(standIn.events)).toEqual(CLIENTS.map(() => ["trigger", stormKey]));
    expect(CLIENTS.map((client) => pagerDutyDedupKey(groupKeyOf(client)))).not.toContain(stormKey);

    const last = standIn.events.at(-1)?.payload;
    expect(last?.summary).toBe(
      "Alert storm in cluster prod-eu: 5 alert groups; 4 point to the API server: The API server is failing the requests",
    );
    const groups = last?.custom_details?.groups as Array<Record<string, unknown>>;
    expect(groups.map((g) => g.name)).toEqual(CLIENTS);
    expect(groups.find((g) => g.name === "report-exporter")).toMatchObject({ verdict: "Client credentials rejected", firing: true });
    // The joining group's own report link comes from its diagnosis; the others' need report pages (PUBLIC_URL).
    expect(groups.at(-1)?.report).toBe("https://enricher.example.com/reports/n-cert-manager-1");
  });

  it("links every group's report when report pages are on", async () => {
    const { sink, standIn } = await eventsSink({ reportLink: (id) => `https://enricher.example.com/reports/${id}?token=t` });
    await stormOfFive(sink, new StormStoreDouble());
    const groups = standIn.events.at(-1)?.payload.custom_details?.groups as Array<Record<string, unknown>>;
    expect(groups.map((g) => g.report)).toEqual([
      ...CLIENTS.slice(0, 4).map((client) => `https://enricher.example.com/reports/n-${client}-1?token=t`),
      "https://enricher.example.com/reports/n-cert-manager-1",
    ]);
  });

  it("keeps the storm incident open while a group still fires, and resolves it with the last one", async () => {
    const { sink, standIn } = await eventsSink();
    const store = new StormStoreDouble();
    await stormOfFive(sink, store);
    const stormKey = pagerDutyStormDedupKey(STORM_ID);
    const triggers = standIn.events.length;

    for (const client of CLIENTS.slice(0, 4)) {
      const resolved = clientDiagnosis(client, { status: "resolved", seq: 2 });
      store.record(resolved);
      expect((await sink.deliver(resolved, store.context(resolved, sink.name))).status).toBe("delivered");
    }
    // No group had an incident of its own, and one group still fires: nothing to resolve yet.
    expect(standIn.events.length).toBe(triggers);

    const last = clientDiagnosis("cert-manager", { status: "resolved", seq: 2 });
    store.record(last);
    expect(await sink.deliver(last, store.context(last, sink.name))).toEqual({ status: "delivered", detail: stormKey });
    expect(actions(standIn.events.slice(triggers))).toEqual([["resolve", stormKey]]);
  });

  it("resolves the incident a group opened before the storm, and the storm's only when no group fires", async () => {
    const { sink, standIn } = await eventsSink();
    const store = new StormStoreDouble();
    const ownKey = pagerDutyDedupKey(groupKeyOf("billing-api"));
    // billing-api fired before there were enough groups for a storm: it paged its own incident.
    const early = clientDiagnosis("billing-api");
    await sink.deliver(early, store.context(early, sink.name));
    await stormOfFive(sink, store);

    const resolved = clientDiagnosis("billing-api", { status: "resolved", seq: 2 });
    store.record(resolved);
    await sink.deliver(resolved, store.context(resolved, sink.name));
    expect(actions(standIn.events)).toEqual([
      ["trigger", ownKey],
      ...CLIENTS.map((): [string, string] => ["trigger", pagerDutyStormDedupKey(STORM_ID)]),
      ["resolve", ownKey],
    ]);
  });

  it("keeps a group that paged the storm on the storm's incident when it updates after the storm went quiet", async () => {
    const { sink, standIn } = await eventsSink();
    const store = new StormStoreDouble();
    await stormOfFive(sink, store);
    const later = clientDiagnosis("checkout", { seq: 2 });
    store.record(later);
    await sink.deliver(later, store.context(later, sink.name));
    expect(standIn.events.at(-1)?.dedup_key).toBe(pagerDutyStormDedupKey(STORM_ID));
  });

  it("still pages the storm when the store cannot be read, from what the diagnosis knows of it", async () => {
    const { sink, standIn } = await eventsSink();
    const store = new StormStoreDouble();
    store.failReads = true;
    const d = clientDiagnosis("checkout", {
      storm: { ...membership(41), sharedCause: { component: "etcd", causeId: "etcd_object_leak", title: "etcd is full", groups: 30 } },
    });
    expect((await sink.deliver(d, store.context(d, sink.name))).status).toBe("delivered");
    const event = standIn.events[0];
    expect(event?.dedup_key).toBe(pagerDutyStormDedupKey(STORM_ID));
    expect(event?.payload.summary).toBe("Alert storm in cluster prod-eu: 41 alert groups; 30 point to etcd: etcd is full");
    expect((event?.payload.custom_details?.groups as Array<Record<string, unknown>>).map((g) => g.name)).toEqual(["checkout"]);
  });

  it("with PAGERDUTY_STORM_INCIDENT=group pages one incident per group, as outside a storm", async () => {
    const { sink, standIn } = await eventsSink({ stormIncident: "group" });
    await stormOfFive(sink, new StormStoreDouble());
    expect(actions(standIn.events)).toEqual(CLIENTS.map((client) => ["trigger", pagerDutyDedupKey(groupKeyOf(client))]));
  });

  it("pages one incident per group where no store is behind the delivery", async () => {
    const { sink, standIn } = await eventsSink();
    await stormOfFive(sink, undefined);
    expect(new Set(standIn.events.map((e) => e.dedup_key)).size).toBe(CLIENTS.length);
  });

  it("in both mode notes each joining group on the storm's one incident", async () => {
    events = await startPagerDutyStandIn();
    rest = await startPagerDutyRestStandIn({ events: events.events });
    const sinks = pagerDutySinks({
      eventsUrl: events.eventsUrl,
      apiUrl: rest.apiUrl,
      routingKey: ROUTING_KEY,
      apiToken: PAGERDUTY_STANDIN_API_TOKEN,
      fromEmail: PAGERDUTY_STANDIN_FROM_EMAIL,
      mode: "both",
    });
    const store = new StormStoreDouble();
    for (const [i, client] of CLIENTS.entries()) {
      const d = clientDiagnosis(client, { storm: membership(i + 1) });
      store.record(d);
      for (const sink of sinks) expect((await sink.deliver(d, store.context(d, sink.name))).status).toBe("delivered");
    }
    expect(rest.incidents.map((incident) => incident.incident_key)).toEqual([pagerDutyStormDedupKey(STORM_ID)]);
    const notes = rest.incidents[0]?.notes.map((note) => note.content.split("\n")[0]);
    expect(notes).toEqual([
      "Joined the storm: alert group billing-api: The API server is failing the requests",
      "Joined the storm: alert group report-exporter: Client credentials rejected",
      "Joined the storm: alert group checkout: The API server is failing the requests",
      "Joined the storm: alert group search-indexer: The API server is failing the requests",
      "Joined the storm: alert group cert-manager: The API server is failing the requests",
    ]);
    expect(rest.incidents[0]?.notes[1]?.content).toContain("Client credentials rejected by the API server (401)");
  });
});

describe("PAGERDUTY_STORM_INCIDENT", () => {
  const OPEN = { ALLOW_UNAUTHENTICATED: "true" };

  it("is storm unless set to group", () => {
    expect(loadConfig(OPEN).pagerduty.stormIncident).toBe("storm");
    expect(loadConfig({ ...OPEN, PAGERDUTY_STORM_INCIDENT: "group" }).pagerduty.stormIncident).toBe("group");
  });

  it("refuses any other value, naming the variable", () => {
    expect(() => loadConfig({ ...OPEN, PAGERDUTY_STORM_INCIDENT: "incident" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...OPEN, PAGERDUTY_STORM_INCIDENT: "incident" })).toThrow(
      "PAGERDUTY_STORM_INCIDENT must be storm or group (got incident)",
    );
  });
});
