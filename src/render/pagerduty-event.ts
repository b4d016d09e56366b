// A Diagnosis as one PagerDuty Events API v2 event: one PagerDuty alert per Alertmanager group, never over the size limit.
import { createHash } from "node:crypto";
import type { AlertDiagnosis, Diagnosis } from "../model/diagnosis.ts";
import {
  alertName,
  confidenceText,
  groupAlertNames,
  groupSeverity,
  headline,
  httpUrl,
  LINK_KINDS,
  LINK_TEXT,
  leadingAlert,
  notCheckedLine,
  type SeverityLevel,
  topCause,
  totalAlertCount,
  truncate,
  whereLabels,
} from "./alert-facts.ts";
import { stormLine } from "./storm-line.ts";

export type PagerDutySeverity = SeverityLevel;
export type PagerDutyEventAction = "trigger" | "acknowledge" | "resolve";

export interface PagerDutyPayload {
  summary: string;
  source: string;
  severity: PagerDutySeverity;
  timestamp?: string;
  component?: string;
  group?: string;
  class?: string;
  custom_details?: Record<string, unknown>;
}

export interface PagerDutyLink {
  href: string;
  text?: string;
}

export interface PagerDutyImage {
  src: string;
  href?: string;
  alt?: string;
}

export interface PagerDutyEvent {
  routing_key: string;
  event_action: PagerDutyEventAction;
  dedup_key: string;
  client?: string;
  client_url?: string;
  payload: PagerDutyPayload;
  links?: PagerDutyLink[];
  images?: PagerDutyImage[];
}

/** protocols.md 3.1: "Events API payloads are limited to 512 KB"; Alertmanager uses 512,000 bytes, and so do we. */
export const PAGERDUTY_MAX_EVENT_BYTES = 512_000;
export const PAGERDUTY_MAX_SUMMARY = 1024;
export const PAGERDUTY_MAX_DEDUP_KEY = 255;
const FIELD_MAX = 1024;
const CLIENT = "alert-enricher";

/** The same group always maps to the same key, so a later resolve closes the alert the trigger opened. */
export function pagerDutyDedupKey(groupKey: string): string {
  return `${CLIENT}:${createHash("sha256").update(groupKey).digest("hex")}`.slice(0, PAGERDUTY_MAX_DEDUP_KEY);
}

function summaryOf(d: Diagnosis, lead: AlertDiagnosis | undefined): string {
  const names = groupAlertNames(d);
  const total = totalAlertCount(d);
  const what = total > 1 ? `${names.join(", ")} (${total} alerts)` : (names[0] ?? "alert");
  const where = lead !== undefined ? whereLabels(lead.alert).map(([, value]) => value) : [];
  const on = where.length > 0 ? ` on ${where.join("/")}` : "";
  if (d.status === "resolved") return truncate(`Resolved: ${what}${on}`, PAGERDUTY_MAX_SUMMARY);
  const h = lead !== undefined && lead.playbook !== null ? headline(lead) : undefined;
  const why =
    h !== undefined
      ? `: ${h.label === "Probable cause" ? "" : `${h.label}: `}${h.text}${h.confidence !== undefined ? ` (${h.confidence})` : ""}`
      : lead?.alert.annotations.summary !== undefined
        ? `: ${lead.alert.annotations.summary}`
        : "";
  const partial = lead?.partial === true ? " [partial]" : "";
  return truncate(`${what}${on}${why}${partial}`.replace(/\s+/g, " "), PAGERDUTY_MAX_SUMMARY);
}

function links(d: Diagnosis, lead: AlertDiagnosis | undefined): PagerDutyLink[] {
  const result: PagerDutyLink[] = [];
  for (const kind of lead !== undefined ? LINK_KINDS : []) {
    const href = httpUrl(lead?.links[kind]);
    if (href !== undefined) result.push({ href, text: LINK_TEXT[kind] });
  }
  const storm = stormUrl(d);
  if (storm !== undefined) result.push({ href: storm, text: "The storm" });
  return result;
}

/** The storm's page, when the group is part of a storm and report pages are served. */
function stormUrl(d: Diagnosis): string | undefined {
  const url = httpUrl(d.storm?.link);
  return url !== undefined && url.length <= FIELD_MAX ? url : undefined;
}

interface Detail {
  logExcerpts: boolean;
  steps: boolean;
}

function alertDetails(a: AlertDiagnosis, detail: Detail): Record<string, unknown> {
  const details: Record<string, unknown> = {
    alertname: alertName(a.alert),
    status: a.alert.status,
    labels: a.alert.labels,
    startsAt: a.alert.startsAt,
    fingerprint: a.alert.fingerprint,
    playbook: a.playbook,
    ...(a.cluster !== undefined ? { cluster: a.cluster } : {}),
    partial: a.partial,
    ...(a.verdict !== undefined ? { verdict: a.verdict } : {}),
    ...(a.couldNotRead !== undefined ? { could_not_read: a.couldNotRead } : {}),
    ...(a.notChecked !== undefined ? { not_checked: a.notChecked.map((n) => `${n.title}: ${n.reason}`) } : {}),
    causes: a.causes.map((c) => ({
      title: c.title,
      summary: c.summary,
      confidence: confidenceText(c),
      evidence: c.evidence.map((e) => e.text),
      remediation: c.remediation,
    })),
  };
  if (a.playbook === null) {
    details.annotations = a.alert.annotations;
    // Why it was not diagnosed: no playbook, resolved, or from a cluster this service cannot read.
    if (a.note !== undefined) details.note = a.note;
  }
  if (detail.steps) {
    details.steps = a.steps.map((s) => ({
      id: s.id,
      status: s.status,
      durationMs: s.durationMs,
      request: s.request,
      result: s.error ?? s.summary,
    }));
  }
  if (detail.logExcerpts) {
    details.logExcerpts = a.logExcerpts.map((x) => ({ pod: x.pod, container: x.container, pattern: x.pattern, line: x.line }));
  }
  return details;
}

function customDetails(d: Diagnosis, lead: AlertDiagnosis | undefined, detail: Detail): Record<string, unknown> {
  const h = lead !== undefined ? headline(lead) : undefined;
  const cause = lead !== undefined && lead.verdict !== "could_not_check" ? topCause(lead) : undefined;
  const notChecked = lead !== undefined ? notCheckedLine(lead) : undefined;
  return {
    cause: h !== undefined ? (h.label === "Probable cause" ? h.text : `${h.label}: ${h.text}`) : (cause?.summary ?? null),
    confidence: h?.confidence ?? null,
    ...(notChecked !== undefined ? { not_checked: notChecked } : {}),
    ...stormDetail(d),
    evidence: cause?.evidence.map((e) => e.text) ?? [],
    remediation: cause?.remediation ?? [],
    partial: d.alerts.some((a) => a.partial),
    alert_count: totalAlertCount(d),
    truncated_alerts: d.truncatedAlerts,
    alerts: d.alerts.map((a) => alertDetails(a, detail)),
  };
}

function stormDetail(d: Diagnosis): { storm?: string; storm_url?: string } {
  if (d.storm === undefined) return {};
  const url = stormUrl(d);
  return { storm: truncate(stormLine(d.storm), FIELD_MAX), ...(url !== undefined ? { storm_url: url } : {}) };
}

/** The note that replaces custom_details when even the trimmed version is too big; it carries only bounded fields. */
function tooLargeNote(d: Diagnosis, lead: AlertDiagnosis | undefined): Record<string, unknown> {
  const h = lead !== undefined ? headline(lead) : undefined;
  const cause = lead !== undefined && lead.verdict !== "could_not_check" ? topCause(lead) : undefined;
  return {
    note: "The diagnosis was too large for a PagerDuty event (512,000 bytes); open the diagnosis report link for the full text.",
    cause: h !== undefined ? truncate(h.label === "Probable cause" ? h.text : `${h.label}: ${h.text}`, FIELD_MAX) : null,
    confidence: h?.confidence ?? null,
    remediation: cause?.remediation[0] !== undefined ? truncate(cause.remediation[0], FIELD_MAX) : null,
    ...stormDetail(d),
    partial: d.alerts.some((a) => a.partial),
    alert_count: totalAlertCount(d),
  };
}

function byteSize(event: PagerDutyEvent): number {
  return Buffer.byteLength(JSON.stringify(event), "utf8");
}

function optionalField(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : truncate(value, FIELD_MAX);
}

/**
 * One event for the whole group: `resolve` when Alertmanager says the group is resolved, `trigger` otherwise.
 * The summary leads with the strongest diagnosed alert. When the JSON would pass 512,000 bytes, custom_details
 * loses log excerpts, then steps, then becomes a short note; links go last.
 */
export function renderPagerDutyEvent(d: Diagnosis, routingKey: string): PagerDutyEvent {
  const lead = leadingAlert(d);
  const labels = lead?.alert.labels ?? d.commonLabels;
  const event: PagerDutyEvent = {
    routing_key: routingKey,
    event_action: d.status === "resolved" ? "resolve" : "trigger",
    dedup_key: pagerDutyDedupKey(d.groupKey),
    client: CLIENT,
    payload: {
      summary: summaryOf(d, lead),
      source: optionalField(labels.instance ?? labels.cluster ?? labels.job) ?? "alertmanager",
      severity: groupSeverity(d),
      timestamp: lead?.alert.startsAt,
      component: optionalField(labels.job ?? labels.alertname),
      group: optionalField(labels.namespace ?? labels.cluster),
      class: optionalField(labels.alertname ?? groupAlertNames(d)[0]),
      custom_details: customDetails(d, lead, { logExcerpts: true, steps: true }),
    },
    links: links(d, lead),
  };
  const clientUrl = httpUrl(lead?.links.report) ?? httpUrl(d.externalURL);
  if (clientUrl !== undefined && clientUrl.length <= FIELD_MAX * 8) event.client_url = clientUrl;

  const shrinkSteps: Array<() => void> = [
    () => {
      event.payload.custom_details = customDetails(d, lead, { logExcerpts: false, steps: true });
    },
    () => {
      event.payload.custom_details = customDetails(d, lead, { logExcerpts: false, steps: false });
    },
    () => {
      event.payload.custom_details = tooLargeNote(d, lead);
    },
    () => {
      event.links = [];
      delete event.client_url;
    },
  ];
  for (const shrink of shrinkSteps) {
    if (byteSize(event) <= PAGERDUTY_MAX_EVENT_BYTES) break;
    shrink();
  }
  return event;
}
