// What every renderer says the same way about a diagnosis: severity, where an alert is, its top cause, confidence, bounded text.
import type { Alert } from "../model/alertmanager.ts";
import type { AlertDiagnosis, AlertLinks, Cause, Diagnosis } from "../model/diagnosis.ts";

/** The four levels PagerDuty accepts; the other renderers use the same scale so a page and a Slack colour agree. */
export type SeverityLevel = "critical" | "error" | "warning" | "info";

const SEVERITY_RANK: Record<SeverityLevel, number> = { critical: 3, error: 2, warning: 1, info: 0 };

const SEVERITY_ALIASES: Record<string, SeverityLevel> = {
  critical: "critical",
  page: "critical",
  error: "error",
  high: "error",
  warning: "warning",
  warn: "warning",
  info: "info",
  low: "info",
  none: "info",
};

/** Maps a `severity` label to a level; a missing or unknown label is treated as a warning. */
export function severityLevel(label: string | undefined): SeverityLevel {
  if (label === undefined) return "warning";
  return SEVERITY_ALIASES[label.trim().toLowerCase()] ?? "warning";
}

/** The highest severity among the firing alerts (all alerts when none fire), falling back to the common label. */
export function groupSeverity(d: Diagnosis): SeverityLevel {
  const firing = d.alerts.filter((a) => a.alert.status === "firing");
  const considered = firing.length > 0 ? firing : d.alerts;
  const labelled = considered.map((a) => a.alert.labels.severity).filter((s): s is string => s !== undefined);
  if (labelled.length === 0) return severityLevel(d.commonLabels.severity);
  return labelled.map(severityLevel).reduce((worst, s) => (SEVERITY_RANK[s] > SEVERITY_RANK[worst] ? s : worst));
}

export function alertName(alert: Alert): string {
  return alert.labels.alertname ?? "(unnamed alert)";
}

const WHERE_LABELS = ["cluster", "namespace", "instance", "job"] as const;

/** The labels that say where an alert fires, in a fixed order, only those present. */
export function whereLabels(alert: Alert): Array<[string, string]> {
  const where: Array<[string, string]> = [];
  for (const name of WHERE_LABELS) {
    const value = alert.labels[name];
    if (value !== undefined && value !== "") where.push([name, value]);
  }
  return where;
}

export function topCause(a: AlertDiagnosis): Cause | undefined {
  return a.causes[0];
}

/** What a diagnosed alert's message leads with: the verdict, in words every renderer uses. */
export interface Headline {
  /** "Probable cause", "Could not check" or "No cause found". */
  label: string;
  /** The cause's summary (after its chain, when it explains other causes), or what could not be read. */
  text: string;
  /** "81%, 3 of 4 checks made": only when a cause holds. */
  confidence?: string;
}

/**
 * The verdict of a diagnosed alert. A cause that explains other holding causes leads with the chain
 * ("etcd database near its quota → API server failing"); when no cause holds because reads failed, the headline is what
 * could not be checked and why — never a guess, never "no cause".
 */
export function headline(a: AlertDiagnosis): Headline | undefined {
  if (a.verdict === "could_not_check") {
    const unread = a.couldNotRead ?? [];
    const ruledOut = a.ruledOut ?? [];
    const seen = a.stillKnown ?? [];
    const text = [
      unread.length > 0 ? unread.join("; ") : "the reads that decide between the causes failed",
      ruledOut.length > 0 ? `Ruled out: ${ruledOut.join(", ")}` : "",
      seen.length > 0 ? `Still known: ${seen.join("; ")}` : "",
    ]
      .filter((part) => part !== "")
      .join(". ");
    return { label: "Could not check", text };
  }
  const cause = topCause(a);
  if (cause === undefined) return undefined;
  if (a.verdict === "no_cause") return { label: "No cause found", text: cause.summary };
  const explained = (cause.explains ?? []).map((id) => a.causes.find((c) => c.id === id)?.title).filter((t) => t !== undefined);
  const chain = explained.length > 0 ? `${cause.title} → ${explained.join(", ")}. ` : "";
  return { label: "Probable cause", text: `${chain}${cause.summary}`, confidence: confidenceText(cause) };
}

/** "81%", and the share of checks made when some could not be: "62%, 3 of 4 checks made". */
export function confidenceText(cause: Cause): string {
  const checks = cause.checks;
  const made = checks !== undefined && checks.made < checks.total ? `, ${checks.made} of ${checks.total} checks made` : "";
  return `${formatConfidence(cause.confidence)}${made}`;
}

const NOT_CHECKED_NAMED = 3;

/** The causes nobody could decide, beside a verdict that still stands: "Not checked: X, Y (the API server …)". */
export function notCheckedLine(a: AlertDiagnosis): string | undefined {
  const open = a.verdict === "could_not_check" ? [] : (a.notChecked ?? []);
  if (open.length === 0) return undefined;
  const reasons = [...new Set(open.map((n) => n.reason))];
  const titles = open.slice(0, NOT_CHECKED_NAMED).map((n) => n.title);
  const more = open.length > NOT_CHECKED_NAMED ? ` and ${open.length - NOT_CHECKED_NAMED} more` : "";
  return `Not checked: ${titles.join(", ")}${more} (${reasons.slice(0, 2).join("; ")}${reasons.length > 2 ? "; …" : ""})`;
}

/** 0..1 as a whole percentage; values outside the range are clamped because a playbook bug should not print "130%". */
export function formatConfidence(confidence: number): string {
  if (!Number.isFinite(confidence)) return "?%";
  return `${Math.round(Math.min(1, Math.max(0, confidence)) * 100)}%`;
}

/**
 * The alert a group-level summary leads with: a firing alert a playbook diagnosed, with the most confident top cause.
 * Ties keep Alertmanager's order.
 */
export function leadingAlert(d: Diagnosis): AlertDiagnosis | undefined {
  let best: AlertDiagnosis | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const a of d.alerts) {
    const cause = topCause(a);
    const score =
      (a.alert.status === "firing" ? 4 : 0) +
      (a.playbook !== null ? 2 : 0) +
      (cause !== undefined ? Math.min(1, Math.max(0, cause.confidence || 0)) : 0);
    if (score > bestScore) {
      best = a;
      bestScore = score;
    }
  }
  return best;
}

/** The group's alert names, most frequent first: "KubeClientErrors" or "KubeClientErrors, KubeAggregatedAPIDown". */
export function groupAlertNames(d: Diagnosis): string[] {
  const counts = new Map<string, number>();
  for (const a of d.alerts) {
    const name = alertName(a.alert);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.entries()].sort((x, y) => y[1] - x[1]).map(([name]) => name);
}

/** Every alert Alertmanager had, including the ones `max_alerts` dropped from the payload. */
export function totalAlertCount(d: Diagnosis): number {
  return d.alerts.length + Math.max(0, d.truncatedAlerts);
}

export const LINK_KINDS = ["runbook", "graph", "silence", "report"] as const satisfies ReadonlyArray<keyof AlertLinks>;

export const LINK_TEXT: Record<keyof AlertLinks, string> = {
  runbook: "Runbook",
  graph: "Graph",
  silence: "Silence",
  report: "Diagnosis report",
};

/**
 * Only absolute http(s) URLs become clickable links; anything else (javascript:, relative paths) is dropped.
 * The result is the parser's normalised form, so spaces and other stray characters arrive percent-encoded.
 */
export function httpUrl(href: string | undefined): string | undefined {
  if (href === undefined) return undefined;
  try {
    const url = new URL(href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export const ELLIPSIS = "…";

/**
 * Cuts text to at most `max` UTF-16 code units (never more characters than that), ending with the marker.
 * Never splits a surrogate pair: a lone surrogate turns into invalid JSON text for Slack and PagerDuty.
 */
export function truncate(text: string, max: number, marker: string = ELLIPSIS): string {
  if (text.length <= max) return text;
  if (max <= marker.length) return marker.slice(0, Math.max(0, max));
  let end = max - marker.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end) + marker;
}
