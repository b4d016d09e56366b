// The list of recent diagnoses as an HTML page: filters, one row per notification, and how often each alert recurred.
import type { Diagnosis } from "../model/diagnosis.ts";
import { alertName, confidenceText, headline, topCause } from "./alert-facts.ts";
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

/** The alert names of a diagnosis and, per alert, the id of its top cause ("none" when none was found). */
function alertCauses(d: Diagnosis): Array<{ name: string; cause: string }> {
  return d.alerts.map((a) => ({
    name: alertName(a.alert),
    cause: a.verdict === "could_not_check" ? "could_not_check" : (topCause(a)?.id ?? "none"),
  }));
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
 * the notifications of the same alert in the 24 hours up to this one; undefined when it fired only once.
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
    const same = alertCauses(other.diagnosis).find((a) => a.name === first.name);
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
  const rows = shown
    .map((entry) => {
      const d = entry.diagnosis;
      const names = [...new Set(d.alerts.map((a) => alertName(a.alert)))].join(", ") || "(no alerts)";
      const lead = d.alerts[0];
      const h = lead ? headline(lead) : undefined;
      const cause = lead && lead.verdict !== "could_not_check" ? topCause(lead) : undefined;
      const verdict = cause ? `${cause.title} (${confidenceText(cause)})` : h?.label;
      const again = recurrence(entry, all);
      return (
        `<tr><th scope="row"><a href="${escapeHtml(entry.href)}">${escapeHtml(names)}</a></th><td>${escapeHtml(d.status)}</td>` +
        `<td>${escapeHtml(entry.receivedAt)}</td>` +
        `<td>${verdict !== undefined ? escapeHtml(verdict) : "—"}</td>` +
        `<td>${again ? escapeHtml(again) : "once"}</td></tr>`
      );
    })
    .join("\n");
  const table =
    shown.length === 0
      ? `<p>No diagnoses match.</p>`
      : `<table><caption>Recent diagnoses, newest first</caption><thead><tr><th scope="col">Alerts</th><th scope="col">Status</th>` +
        `<th scope="col">Received</th><th scope="col">Top cause</th><th scope="col">Recurrence</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
  return reportDocument(
    "Recent diagnoses",
    `<header><h1>Recent diagnoses</h1></header>\n<main>\n${filterForm(filters, token)}\n${table}\n</main>`,
  );
}
