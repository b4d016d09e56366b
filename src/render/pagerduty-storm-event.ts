// A storm of alert groups as one PagerDuty Events API v2 alert (PAGERDUTY_STORM_INCIDENT=storm): its own dedup key,
// the cluster, the group count and the shared cause in the summary, every group with its verdict in custom_details.
import { createHash } from "node:crypto";
import { analyseStorm, describeVerdictShare, type StormGroup, verdictText } from "../diagnosis/storm.ts";
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import type { Diagnosis, GroupVerdict, SharedCause, StormMembership } from "../model/diagnosis.ts";
import type { StoredStorm } from "../model/storm.ts";
import { groupSeverity, httpUrl, leadingAlert, truncate } from "./alert-facts.ts";
import {
  PAGERDUTY_MAX_DEDUP_KEY,
  PAGERDUTY_MAX_EVENT_BYTES,
  PAGERDUTY_MAX_SUMMARY,
  type PagerDutyEvent,
  type PagerDutyLink,
} from "./pagerduty-event.ts";

const CLIENT = "alert-enricher";
const FIELD_MAX = 1024;
const NAME_MAX = 200;
/** Links beyond these are in custom_details only: PagerDuty shows the links list in full on the incident page. */
const MAX_LINKS = 20;
/** Each verdict line names its groups only when there are three or fewer, so few lines are ever long. */
const MAX_VERDICT_LINES = 50;

/** Never equal to a group's key (pagerDutyDedupKey: "alert-enricher:<hex>"), so the storm's alert is its own. */
export function pagerDutyStormDedupKey(stormId: string): string {
  return `${CLIENT}:storm:${createHash("sha256").update(stormId).digest("hex")}`.slice(0, PAGERDUTY_MAX_DEDUP_KEY);
}

/** One group of the storm as the event lists it. */
export interface StormEventGroup {
  groupKey: string;
  verdict: GroupVerdict | null;
  firing: boolean;
  report?: string;
}

/** What the event tells about the storm: read fresh from the store, or only what the group's own diagnosis carried. */
export interface StormView {
  id: string;
  cluster: string;
  openedAt: string;
  /** How many groups the storm has; more than `groups` when only the diagnosis' own view of the storm is known. */
  groupCount: number;
  groups: StormEventGroup[];
  sharedCause?: SharedCause;
  /** The storm's own page (its signed link), when report pages are served. */
  link?: string;
}

function ownReport(d: Diagnosis): string | undefined {
  return httpUrl(leadingAlert(d)?.links.report ?? d.alerts.find((a) => a.links.report !== undefined)?.links.report);
}

/**
 * The storm as the store has it now, with `d`'s group in it as this diagnosis says (the store may not have it yet).
 * `reportLink` signs a report link for another group's latest notification, and `stormLink` one for the storm's page,
 * when report pages are on.
 */
export function stormViewFromStore(
  storm: StoredStorm,
  d: Diagnosis,
  reportLink?: (notificationId: string) => string | undefined,
  stormLink?: (stormId: string) => string | undefined,
): StormView {
  const groups: StormEventGroup[] = storm.members.map((member) => {
    const report = member.latest !== null ? httpUrl(reportLink?.(member.latest.notificationId)) : undefined;
    return {
      groupKey: member.groupKey,
      verdict: member.latest?.verdict ?? null,
      // Not diagnosed yet means it is still firing: its first notification was a firing one.
      firing: member.latest?.firing ?? true,
      ...(report !== undefined ? { report } : {}),
    };
  });
  const own = ownGroup(d);
  const index = groups.findIndex((group) => group.groupKey === d.groupKey);
  if (index >= 0) groups[index] = own;
  else groups.push(own);
  const sharedCause = analyseStorm(groups.map((group): StormGroup => ({ groupKey: group.groupKey, verdict: group.verdict }))).sharedCause;
  const link = httpUrl(stormLink?.(storm.id));
  return {
    id: storm.id,
    cluster: storm.cluster,
    openedAt: storm.openedAt,
    groupCount: groups.length,
    groups,
    ...(sharedCause !== undefined ? { sharedCause } : {}),
    ...(link !== undefined ? { link } : {}),
  };
}

/** When the store cannot be read: the storm as `d` saw it when it was diagnosed, with only its own group named. */
export function stormViewFromMembership(membership: StormMembership, d: Diagnosis): StormView {
  const link = httpUrl(membership.link);
  return {
    id: membership.id,
    cluster: membership.cluster,
    openedAt: membership.openedAt,
    groupCount: membership.groups,
    groups: [ownGroup(d)],
    ...(membership.sharedCause !== undefined ? { sharedCause: membership.sharedCause } : {}),
    ...(link !== undefined ? { link } : {}),
  };
}

function ownGroup(d: Diagnosis): StormEventGroup {
  const report = ownReport(d);
  return { groupKey: d.groupKey, verdict: groupVerdictOf(d), firing: d.status === "firing", ...(report !== undefined ? { report } : {}) };
}

function nameOf(group: StormEventGroup): string {
  return truncate(group.verdict?.name ?? group.groupKey, NAME_MAX);
}

/** "Alert storm in cluster prod-eu: 41 alert groups; 40 point to the API server: The API server is failing the requests" */
export function stormSummary(view: StormView): string {
  const where = view.cluster === "" ? "" : ` in cluster ${view.cluster}`;
  const count = `${view.groupCount} alert ${view.groupCount === 1 ? "group" : "groups"}`;
  const cause =
    view.sharedCause !== undefined
      ? `; ${view.sharedCause.groups} point to ${view.sharedCause.component}: ${view.sharedCause.title}`
      : "; no one cause on a shared component found";
  return truncate(`Alert storm${where}: ${count}${cause}`.replace(/\s+/g, " "), PAGERDUTY_MAX_SUMMARY);
}

function groupDetails(groups: StormEventGroup[]): Record<string, unknown>[] {
  return groups.map((group) => ({
    name: nameOf(group),
    firing: group.firing,
    verdict: truncate(verdictText(group.verdict), FIELD_MAX),
    ...(group.verdict?.cause !== undefined ? { cause: truncate(group.verdict.cause.summary, FIELD_MAX) } : {}),
    ...(group.report !== undefined ? { report: group.report } : {}),
  }));
}

function customDetails(view: StormView, d: Diagnosis, listed: StormEventGroup[]): Record<string, unknown> {
  const shares = analyseStorm(view.groups.map((group): StormGroup => ({ groupKey: group.groupKey, verdict: group.verdict }))).verdicts;
  const own = ownGroup(d);
  return {
    storm: stormSummary(view),
    cluster: view.cluster,
    opened_at: view.openedAt,
    ...(view.link !== undefined && view.link.length <= FIELD_MAX ? { storm_url: view.link } : {}),
    group_count: view.groupCount,
    firing_groups: view.groups.filter((group) => group.firing).length,
    shared_cause:
      view.sharedCause !== undefined
        ? truncate(`${view.sharedCause.groups} point to ${view.sharedCause.component}: ${view.sharedCause.title}`, FIELD_MAX)
        : null,
    verdicts: shares.slice(0, MAX_VERDICT_LINES).map((share) => truncate(describeVerdictShare(share), FIELD_MAX)),
    latest_update: { name: nameOf(own), status: d.status, verdict: verdictText(own.verdict), at: d.createdAt },
    groups: groupDetails(listed),
    ...(listed.length < view.groups.length ? { groups_not_listed: view.groups.length - listed.length } : {}),
  };
}

function byteSize(event: PagerDutyEvent): number {
  return Buffer.byteLength(JSON.stringify(event), "utf8");
}

/**
 * A trigger for the storm's alert, sent by each group that joins it (or updates while in it): PagerDuty folds every
 * trigger with the same dedup_key into the one open alert (protocols.md 3.1). Over 512,000 bytes, the list of groups
 * is halved until it fits, and says how many it left out.
 */
export function renderPagerDutyStormEvent(
  view: StormView,
  d: Diagnosis,
  routingKey: string,
  action: "trigger" | "resolve" = "trigger",
): PagerDutyEvent {
  const stormPage: PagerDutyLink[] = view.link !== undefined ? [{ href: view.link, text: "The storm" }] : [];
  const reports: PagerDutyLink[] = view.groups
    .filter((group) => group.report !== undefined)
    .slice(0, MAX_LINKS)
    .map((group) => ({ href: group.report as string, text: `Report: ${nameOf(group)}` }));
  const links = [...stormPage, ...reports];
  let listed = view.groups;
  const event: PagerDutyEvent = {
    routing_key: routingKey,
    event_action: action,
    dedup_key: pagerDutyStormDedupKey(view.id),
    client: CLIENT,
    payload: {
      summary: stormSummary(view),
      source: view.cluster !== "" ? truncate(view.cluster, FIELD_MAX) : "alertmanager",
      severity: groupSeverity(d),
      timestamp: view.openedAt,
      ...(view.sharedCause !== undefined ? { component: view.sharedCause.component } : {}),
      ...(view.cluster !== "" ? { group: truncate(view.cluster, FIELD_MAX) } : {}),
      class: "alert storm",
      custom_details: customDetails(view, d, listed),
    },
    links,
  };
  const clientUrl = ownReport(d) ?? httpUrl(d.externalURL);
  if (clientUrl !== undefined && clientUrl.length <= FIELD_MAX * 8) event.client_url = clientUrl;
  while (byteSize(event) > PAGERDUTY_MAX_EVENT_BYTES && listed.length > 0) {
    listed = listed.slice(0, Math.floor(listed.length / 2));
    event.payload.custom_details = customDetails(view, d, listed);
    event.links = [...stormPage, ...reports.slice(0, Math.min(reports.length, listed.length))];
  }
  return event;
}
