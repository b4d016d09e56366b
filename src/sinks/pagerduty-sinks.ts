// Which PagerDuty sinks PAGERDUTY_MODE asks for, and which incident the notes go on in each mode.
import { createHash } from "node:crypto";
import type { Diagnosis } from "../model/diagnosis.ts";
import { pagerDutyDedupKey } from "../render/pagerduty-event.ts";
import { pagerDutyStormDedupKey } from "../render/pagerduty-storm-event.ts";
import { PagerDutyEventsSink, type PagerDutyStormIncident } from "./pagerduty-events.ts";
import { PagerDutyNotesSink } from "./pagerduty-notes.ts";
import type { Sink } from "./sink.ts";

export type PagerDutyMode = "events" | "notes" | "both";

export interface PagerDutySinksConfig {
  routingKey?: string;
  eventsUrl: string;
  apiToken?: string;
  fromEmail?: string;
  apiUrl: string;
  mode?: PagerDutyMode;
  /** PAGERDUTY_STORM_INCIDENT: one incident per storm (the default) or per group even in a storm. */
  stormIncident?: PagerDutyStormIncident;
  /** A report link for a group's notification (reports on), for the storm incident's list of groups. */
  reportLink?: (notificationId: string) => string | undefined;
  /** The storm's own page (reports on), for the storm incident's links. */
  stormLink?: (stormId: string) => string | undefined;
}

/** Alertmanager's own PagerDuty receiver sends dedup_key = hex(sha256(groupKey)) (protocols.md 3.1), so its incident has that key. */
export function alertmanagerIncidentKey(groupKey: string): string {
  return createHash("sha256").update(groupKey).digest("hex");
}

/** The mode the operator asked for, or the one the configured credentials allow; undefined when PagerDuty is not configured. */
export function pagerDutyMode(config: PagerDutySinksConfig): PagerDutyMode | undefined {
  if (config.mode !== undefined) return config.mode;
  if (config.routingKey && config.apiToken) return "both";
  if (config.routingKey) return "events";
  if (config.apiToken) return "notes";
  return undefined;
}

/**
 * `events`: our own event per group. `notes`: a note on the incident Alertmanager's own PagerDuty receiver opened,
 * and no event from us. `both`: our event, and a note on the incident that event opened. The delivery worker orders
 * deliveries per group and sink, not across sinks, so in `both` the note may be tried before the event has opened
 * the incident: the notes sink retries until the incident exists, which is what puts the note after the event.
 * With PAGERDUTY_STORM_INCIDENT=storm (the default), a group in a storm pages the storm's incident in `events` and
 * `both`, and in `both` its note goes there too; `notes` stays per group, on the incidents Alertmanager opens.
 * Throws when the mode lacks the credentials it needs, naming the variables to set.
 */
export function pagerDutySinks(config: PagerDutySinksConfig): Sink[] {
  const mode = pagerDutyMode(config);
  if (mode === undefined) return [];
  const problems: string[] = [];
  if (mode !== "notes" && !config.routingKey) problems.push(`PAGERDUTY_MODE=${mode} needs PAGERDUTY_ROUTING_KEY`);
  if (mode !== "events" && (!config.apiToken || !config.fromEmail)) {
    problems.push(`PAGERDUTY_MODE=${mode} needs PAGERDUTY_API_TOKEN and PAGERDUTY_FROM_EMAIL`);
  }
  if (problems.length > 0) throw new Error(problems.join("; "));

  const stormIncident = config.stormIncident ?? "storm";
  const sinks: Sink[] = [];
  if (config.routingKey && mode !== "notes") {
    sinks.push(
      new PagerDutyEventsSink({
        routingKey: config.routingKey,
        eventsUrl: config.eventsUrl,
        stormIncident,
        reportLink: config.reportLink,
        stormLink: config.stormLink,
      }),
    );
  }
  if (config.apiToken && config.fromEmail && mode !== "events") {
    const incidentKey =
      mode === "both" ? (d: Diagnosis) => pagerDutyDedupKey(d.groupKey) : (d: Diagnosis) => alertmanagerIncidentKey(d.groupKey);
    const stormIncidentKey = mode === "both" && stormIncident === "storm" ? pagerDutyStormDedupKey : undefined;
    sinks.push(
      new PagerDutyNotesSink({
        apiToken: config.apiToken,
        fromEmail: config.fromEmail,
        apiUrl: config.apiUrl,
        incidentKey,
        stormIncidentKey,
      }),
    );
  }
  return sinks;
}
