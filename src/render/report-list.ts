// The list of recent diagnoses as an HTML page: filters, one row per notification with the instance it is about, and
// how often that alert — of that instance — recurred.
import type { Alert } from "../model/alertmanager.ts";
import type { Diagnosis } from "../model/diagnosis.ts";
import { alertName, confidenceText, headline, topCause } from "./alert-facts.ts";
import { timeHtml } from "./page-time.ts";
import { escapeHtml, reportDocument } from "./report-page.ts";

export interface ReportListEntry {
  id: string;
  receivedAt: string;
  diagnosis: Diagnosis;
  /** Where the entry's own report opens (with its token). */
  href: string;
}

export interface ReportListFilters {
  alert?: string;
  status?: string;
  cause?: string;
}

const DAY_MS = 24 * 3_600_000;

/**
 * An alert's identity across notifications: its full label set, as Alertmanager tells alerts apart. Two instances of
 * one alert are two alerts, and each recurs on its own.
 */
export function alertIdentity(alert: Alert): string {
  return JSON.stringify(Object.entries(alert.labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** The alerts of a diagnosis by identity and, per alert, the id of its top cause ("none" when none was found). */
function alertCauses(d: Diagnosis): Array<{ identity: string; cause: string }> {
  return d.alerts.map((a) => ({
    identity: alertIdentity(a.alert),
    cause: a.verdict === "could_not_check" ? "could_not_check" : (topCause(a)?.id ?? "none"),
  }));
}

const WHERE_ORDER = ["cluster", "namespace", "instance", "job"];

/** Where-labels first (cluster, namespace, instance, job), then the others by name. */
function labelOrder(x: string, y: string): number {
  const rank = (name: string) => {
    const i = WHERE_ORDER.indexOf(name);
    return i === -1 ? WHERE_ORDER.length : i;
  };
  return rank(x) - rank(y) || (x < y ? -1 : x > y ? 1 : 0);
}

/**
 * Per alert name, the labels whose values differ between its alerts in `all`: what tells one instance from another
 * ("instance", "pod", …). The instance label is always among them when alerts carry it.
 */
export function identifyingLabels(all: ReadonlyArray<{ diagnosis: Diagnosis }>): Map<string, string[]> {
  const alerts = new Map<string, { count: number; labels: Map<string, { values: Set<string>; count: number }> }>();
  for (const { diagnosis } of all) {
    for (const a of diagnosis.alerts) {
      const name = alertName(a.alert);
      const seen = alerts.get(name) ?? { count: 0, labels: new Map() };
      alerts.set(name, seen);
      seen.count += 1;
      for (const [label, value] of Object.entries(a.alert.labels)) {
        const entry = seen.labels.get(label) ?? { values: new Set<string>(), count: 0 };
        seen.labels.set(label, entry);
        entry.values.add(value);
        entry.count += 1;
      }
    }
  }
  const result = new Map<string, string[]>();
  for (const [name, seen] of alerts) {
    // A label tells alerts apart when it has two values, or only some of the alerts carry it.
    const differing = [...seen.labels.entries()]
      .filter(([label, e]) => label === "instance" || (label !== "alertname" && (e.values.size > 1 || e.count < seen.count)))
      .map(([label]) => label);
    result.set(name, differing.sort(labelOrder));
  }
  return result;
}

/** "instance=10.0.0.1:8443 pod=x" for the alert, from the labels that tell its alerts apart; "" when none do. */
export function instanceText(alert: Alert, identifying: ReadonlyMap<string, string[]>): string {
  return (identifying.get(alertName(alert)) ?? [])
    .filter((label) => alert.labels[label] !== undefined)
    .map((label) => `${label}=${alert.labels[label] ?? ""}`)
    .join(" ");
}

/** Whether the entry passes the filters: an alert by name, the group's status, a top cause by id or words of its title. */
export function matchesFilters(d: Diagnosis, filters: ReportListFilters): boolean {
  if (filters.status && d.status !== filters.status) return false;
  if (filters.alert && !d.alerts.some((a) => alertName(a.alert) === filters.alert)) return false;
  if (filters.cause) {
    const wanted = filters.cause.toLowerCase();
    const found = d.alerts.some((a) => {
      const c = topCause(a);
      return c !== undefined && (c.id.toLowerCase() === wanted || c.title.toLowerCase().includes(wanted));
    });
    if (!found) return false;
  }
  return true;
}

/**
 * For the entry's first alert: "fired 4 times in 24 h, same cause each time" (or "3 different causes"), counting
 * the notifications of the same alert — same name and labels, so the same instance — in the 24 hours up to this one;
 * undefined when it fired only once.
 */
export function recurrence(
  entry: { receivedAt: string; diagnosis: Diagnosis },
  all: ReadonlyArray<{ receivedAt: string; diagnosis: Diagnosis }>,
): string | undefined {
  const first = alertCauses(entry.diagnosis)[0];
  if (first === undefined) return undefined;
  const at = Date.parse(entry.receivedAt);
  const causes: string[] = [];
  for (const other of all) {
    const t = Date.parse(other.receivedAt);
    if (t > at || t <= at - DAY_MS) continue;
    const same = alertCauses(other.diagnosis).find((a) => a.identity === first.identity);
    if (same) causes.push(same.cause);
  }
  if (causes.length < 2) return undefined;
  const distinct = new Set(causes).size;
  return `fired ${causes.length} times in 24 h, ${distinct === 1 ? "same cause each time" : `${distinct} different causes`}`;
}

function filterForm(filters: ReportListFilters, token: string): string {
  const field = (name: keyof ReportListFilters, label: string) =>
    `<label>${label} <input name="${name}" value="${escapeHtml(filters[name] ?? "")}"></label>`;
  return (
    `<form method="get" action="" role="search"><input type="hidden" name="token" value="${escapeHtml(token)}">` +
    `${field("alert", "Alert")} ${field("status", "Status")} ${field("cause", "Cause")} <button type="submit">Filter</button></form>`
  );
}

/** `all` is every entry of the window (for recurrence); `shown` the filtered ones to list. */
export function renderReportList(
  shown: ReportListEntry[],
  all: ReadonlyArray<{ receivedAt: string; diagnosis: Diagnosis }>,
  filters: ReportListFilters,
  token: string,
): string {
  const identifying = identifyingLabels(all);
  const rows = shown
    .map((entry) => {
      const d = entry.diagnosis;
      const names = [...new Set(d.alerts.map((a) => alertName(a.alert)))].join(", ") || "(no alerts)";
      const lead = d.alerts[0];
      const instance = lead ? instanceText(lead.alert, identifying) : "";
      const others = d.alerts.length > 1 ? ` and ${d.alerts.length - 1} more ${d.alerts.length === 2 ? "alert" : "alerts"}` : "";
      const h = lead ? headline(lead) : undefined;
      const cause = lead && lead.verdict !== "could_not_check" ? topCause(lead) : undefined;
      const verdict = cause ? `${cause.title} (${confidenceText(cause)})` : h?.label;
      const again = recurrence(entry, all);
      return (
        `<tr><th scope="row"><a href="${escapeHtml(entry.href)}">${escapeHtml(names)}</a></th>` +
        `<td class="instance">${instance !== "" ? escapeHtml(instance) : "—"}${escapeHtml(others)}</td><td>${escapeHtml(d.status)}</td>` +
        `<td>${timeHtml(entry.receivedAt)}</td>` +
        `<td>${verdict !== undefined ? escapeHtml(verdict) : "—"}</td>` +
        `<td>${again ? escapeHtml(again) : "once"}</td></tr>`
      );
    })
    .join("\n");
  const table =
    shown.length === 0
      ? `<p>No diagnoses match.</p>`
      : `<table><caption>Recent diagnoses, newest first</caption><thead><tr><th scope="col">Alerts</th><th scope="col">Instance</th><th scope="col">Status</th>` +
        `<th scope="col">Received</th><th scope="col">Top cause</th><th scope="col">Recurrence</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
  return reportDocument(
    "Recent diagnoses",
    `<header><h1>Recent diagnoses</h1></header>\n<main>\n${filterForm(filters, token)}\n${table}\n</main>`,
  );
}
