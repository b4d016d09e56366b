// Tests for the PagerDuty Events API v2 rendering: dedup key, actions, severity, summary and size limits.
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { PAGERDUTY_MAX_EVENT_BYTES, renderPagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { PagerDutyEventsSink } from "../../src/sinks/pagerduty-events.ts";
import {
  FIXTURE_CAUSE,
  FIXTURE_GROUP_KEY,
  FIXTURE_REMEDIATION,
  makeAlert,
  makeAlertDiagnosis,
  makeCause,
  makeDiagnosis,
  makeHugeDiagnosis,
  makeResolvedDiagnosis,
} from "../support/diagnosis-fixtures.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { FIXTURE_STORM, FIXTURE_STORM_LINE } from "../support/storm-fixtures.ts";

const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";

function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * makeHugeDiagnosis with a tenth of its evidence and log lines: about 5 MB instead of 47 MB, still ten times
 * PagerDuty's 512,000 bytes once trimmed of logs and steps, so each rendering (which measures the event several times)
 * takes milliseconds instead of most of a second.
 */
function makeTooLargeForPagerDuty(): Diagnosis {
  const huge = makeHugeDiagnosis();
  return {
    ...huge,
    alerts: huge.alerts.map((a) => ({
      ...a,
      causes: a.causes.map((c) => ({ ...c, evidence: c.evidence.slice(0, 20) })),
      logExcerpts: a.logExcerpts.slice(0, 5),
    })),
  };
}

describe("renderPagerDutyEvent", () => {
  let standIn: PagerDutyStandIn | undefined;

  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  it("triggers with the top cause, its confidence and the alert's whereabouts", () => {
    const event = renderPagerDutyEvent(makeDiagnosis(), ROUTING_KEY);
    expect(event).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: "trigger",
      client: "alert-enricher",
      payload: {
        source: "10.244.1.17:8443",
        severity: "warning",
        timestamp: "2026-08-20T10:00:00.123Z",
        component: "kube-state-metrics",
        group: "monitoring",
        class: "KubeClientErrors",
        custom_details: { cause: FIXTURE_CAUSE, confidence: "86%", partial: false },
      },
    });
    expect(event.payload.summary).toContain(FIXTURE_CAUSE);
    expect(event.payload.summary).toContain("86%");
    expect(event.payload.custom_details?.remediation).toEqual([FIXTURE_REMEDIATION, expect.any(String)]);
  });

  it("derives the dedup key from the group key, the same every time", () => {
    const event = renderPagerDutyEvent(makeDiagnosis(), ROUTING_KEY);
    const expected = `alert-enricher:${createHash("sha256").update(FIXTURE_GROUP_KEY).digest("hex")}`;
    expect(event.dedup_key).toBe(expected);
    expect(renderPagerDutyEvent(makeDiagnosis({ notificationId: "another" }), ROUTING_KEY).dedup_key).toBe(expected);
    expect(renderPagerDutyEvent(makeResolvedDiagnosis(), ROUTING_KEY).dedup_key).toBe(expected);
  });

  it("keeps the dedup key stable and within 255 characters for a 10 kB group key", () => {
    const groupKey = `{}/{severity="critical"}:{alertname="${"x".repeat(10_000)}"}`;
    const first = renderPagerDutyEvent(makeDiagnosis({ groupKey }), ROUTING_KEY).dedup_key;
    expect(first.length).toBeLessThanOrEqual(255);
    expect(renderPagerDutyEvent(makeDiagnosis({ groupKey }), ROUTING_KEY).dedup_key).toBe(first);
    expect(renderPagerDutyEvent(makeDiagnosis({ groupKey: `${groupKey} ` }), ROUTING_KEY).dedup_key).not.toBe(first);
  });

  it("resolves when the diagnosis is resolved", () => {
    expect(renderPagerDutyEvent(makeResolvedDiagnosis(), ROUTING_KEY)).toMatchObject({
      event_action: "resolve",
      payload: { summary: expect.stringMatching(/^Resolved: KubeClientErrors/) },
    });
  });

  it.each([
    ["critical", "critical"],
    ["page", "critical"],
    ["error", "error"],
    ["high", "error"],
    ["warning", "warning"],
    ["info", "info"],
    ["low", "info"],
    ["none", "info"],
    ["P1", "warning"],
  ])("maps severity label %s to %s", (label, expected) => {
    const alert = makeAlert({ labels: { ...makeAlert().labels, severity: label } });
    expect(renderPagerDutyEvent(makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert })] }), ROUTING_KEY).payload.severity).toBe(expected);
  });

  it("summarises a group of several alerts with a count and the most confident cause first", () => {
    const weak = makeAlertDiagnosis({ causes: [makeCause({ summary: "A weak guess", confidence: 0.2 })] });
    const strong = makeAlertDiagnosis({ alert: makeAlert({ fingerprint: "0000000000000002" }) });
    const event = renderPagerDutyEvent(makeDiagnosis({ alerts: [weak, strong], truncatedAlerts: 1 }), ROUTING_KEY);
    expect(event.payload.summary).toMatch(/^KubeClientErrors \(3 alerts\)/);
    expect(event.payload.summary).toContain(FIXTURE_CAUSE);
    expect(event.payload.custom_details?.alerts).toHaveLength(2);
  });

  it("truncates the summary to 1024 characters with a marker", () => {
    const d = makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [makeCause({ summary: "y".repeat(10_000) })] })] });
    const summary = renderPagerDutyEvent(d, ROUTING_KEY).payload.summary;
    expect(summary.length).toBeLessThanOrEqual(1024);
    expect(summary.endsWith("…")).toBe(true);
  });

  it("falls back to cluster, job or alertmanager for the source", () => {
    const labels = { alertname: "KubeAggregatedAPIDown", cluster: "prod-eu-1", severity: "warning" };
    const withCluster = makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert: makeAlert({ labels }) })] });
    expect(renderPagerDutyEvent(withCluster, ROUTING_KEY).payload).toMatchObject({
      source: "prod-eu-1",
      group: "prod-eu-1",
      component: "KubeAggregatedAPIDown",
    });
    const bare = makeDiagnosis({
      alerts: [makeAlertDiagnosis({ alert: makeAlert({ labels: { alertname: "Watchdog" } }) })],
      commonLabels: {},
    });
    expect(renderPagerDutyEvent(bare, ROUTING_KEY).payload.source).toBe("alertmanager");
  });

  it("links only http(s) addresses", () => {
    const d = makeDiagnosis({
      alerts: [makeAlertDiagnosis({ links: { runbook: "javascript:alert(1)", graph: "ftp://x/y", report: "https://r.example/1" } })],
    });
    expect(renderPagerDutyEvent(d, ROUTING_KEY).links).toEqual([{ href: "https://r.example/1", text: "Diagnosis report" }]);
  });

  it("stays under 512,000 bytes by dropping log excerpts first", () => {
    const excerpts = Array.from({ length: 40 }, (_, i) => ({
      step: "client-logs",
      pod: "ksm",
      pattern: "Unauthorized",
      line: `${i} `.padEnd(20_000, "z"),
    }));
    const d = makeDiagnosis({ alerts: [makeAlertDiagnosis({ logExcerpts: excerpts })] });
    const event = renderPagerDutyEvent(d, ROUTING_KEY);
    expect(bytes(event)).toBeLessThanOrEqual(PAGERDUTY_MAX_EVENT_BYTES);
    expect(event.payload.custom_details?.alerts).toEqual([expect.objectContaining({ steps: expect.any(Array) })]);
    expect(JSON.stringify(event)).not.toContain("logExcerpts");
    expect(event.payload.custom_details?.cause).toBe(FIXTURE_CAUSE);
  });

  it("replaces custom details with a note when even the trimmed diagnosis is too big", () => {
    const tooLarge = makeTooLargeForPagerDuty();
    const trimmed = { ...tooLarge, alerts: tooLarge.alerts.map((a) => ({ ...a, logExcerpts: [], steps: [] })) };
    expect(bytes(trimmed)).toBeGreaterThan(5 * PAGERDUTY_MAX_EVENT_BYTES);
    const event = renderPagerDutyEvent(tooLarge, ROUTING_KEY);
    expect(bytes(event)).toBeLessThanOrEqual(PAGERDUTY_MAX_EVENT_BYTES);
    expect(event.payload.custom_details?.note).toMatch(/too large/);
    expect(event.payload.summary.length).toBeLessThanOrEqual(1024);
  });

  it("produces events the PagerDuty stand-in accepts, huge or resolved", async () => {
    standIn = await startPagerDutyStandIn();
    const sink = new PagerDutyEventsSink({ routingKey: ROUTING_KEY, eventsUrl: standIn.eventsUrl });
    for (const d of [makeDiagnosis(), makeTooLargeForPagerDuty(), makeResolvedDiagnosis()]) {
      expect(await sink.deliver(d)).toMatchObject({ status: "delivered", detail: expect.stringMatching(/^alert-enricher:[0-9a-f]{64}$/) });
    }
    expect(standIn.rejections).toEqual([]);
    expect(standIn.events.map((e) => e.event_action)).toEqual(["trigger", "trigger", "resolve"]);
  });

  it("carries the storm line in custom_details when the group is part of a storm", () => {
    const event = renderPagerDutyEvent(makeDiagnosis({ storm: FIXTURE_STORM }), ROUTING_KEY);
    expect(event.payload.custom_details?.storm).toBe(FIXTURE_STORM_LINE);
    expect(renderPagerDutyEvent(makeDiagnosis(), ROUTING_KEY).payload.custom_details).not.toHaveProperty("storm");
  });
});
