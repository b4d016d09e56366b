// A group's diagnosis in one line (its verdict and headline cause), stored with it so a storm can count verdicts cheaply.
import type { Diagnosis, GroupVerdict } from "../model/diagnosis.ts";

/** The labels that name what an alert group is about, most specific first. */
const NAME_LABELS = ["job", "service", "container", "pod", "alertname"] as const;

export function groupVerdictOf(diagnosis: Diagnosis): GroupVerdict {
  const name = groupName(diagnosis);
  const withCause = diagnosis.alerts.find((alert) => alert.verdict === "cause" && alert.causes.length > 0);
  if (withCause !== undefined) {
    const [headline] = withCause.causes;
    if (headline !== undefined)
      return { verdict: "cause", cause: { id: headline.id, title: headline.title, summary: headline.summary }, name };
  }
  if (diagnosis.alerts.some((alert) => alert.verdict === "could_not_check")) return { verdict: "could_not_check", name };
  if (diagnosis.alerts.some((alert) => alert.verdict === "no_cause")) return { verdict: "no_cause", name };
  return { verdict: "none", name };
}

function groupName(diagnosis: Diagnosis): string {
  for (const label of NAME_LABELS) {
    const value = diagnosis.commonLabels[label] ?? diagnosis.groupLabels[label];
    if (value !== undefined && value !== "") return value;
  }
  return diagnosis.groupKey;
}

/**
 * What a group not diagnosed yet is about, from its group key (`{}:{alertname="…", job="checkout"}`): the same labels
 * as a diagnosed group's name, when Alertmanager grouped by one of them; else the key itself.
 */
export function nameFromGroupKey(groupKey: string): string {
  const labels = new Map([...groupKey.matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, name, value]) => [name!, value!]));
  for (const label of NAME_LABELS) {
    const value = labels.get(label);
    if (value !== undefined && value !== "") return value;
  }
  return groupKey;
}
