// The full report of one diagnosis as a standalone, accessible HTML page: readable without JavaScript, on a phone.
import { createHash } from "node:crypto";
import type { AlertDiagnosis, Diagnosis, LogExcerpt, ResultTable, StepRecord } from "../model/diagnosis.ts";
import { alertName, confidenceText, headline, httpUrl, leadingAlert, LINK_KINDS, LINK_TEXT, whereLabels } from "./alert-facts.ts";
import { renderChartSvg } from "./chart.ts";
import { escapeHtml } from "./html-text.ts";
import { LOCAL_TIME_SCRIPT, timeHtml } from "./page-time.ts";
import { isCommand } from "./remediation-command.ts";
import { stormLine } from "./storm-line.ts";

export { escapeHtml };

export interface ReportPageOptions {
  /** Shown in the footer; the time the page was produced. */
  generatedAt?: Date;
}

const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1a1a1a;background:#fff}
body{margin:0 auto;max-width:60rem;padding:1rem}
h1{font-size:1.35rem;margin:.25rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem;margin:1.25rem 0 .5rem}
h2 small{font-weight:normal;color:#555;font-size:.85rem;overflow-wrap:anywhere}
.context{margin:0;color:#555;font-size:.9rem}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f0f0f0}
table.labels th{width:30%}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
pre{background:#f4f4f4;color:#1a1a1a;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
td code{overflow-wrap:anywhere}
mark{background:#ffe066;color:#000}
a{color:#0645ad}.status-failed,.status-timeout{color:#a00000;font-weight:bold}.status-ok{color:#0a6b0a}
.summary{border-left:4px solid #0645ad;padding:.25rem 0 .25rem .75rem;margin:.5rem 0}
.summary p,.summary ul{margin:.3rem 0}.verdict{font-size:1.1rem}
.links ul{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;list-style:none;padding:0;margin:.4rem 0;font-weight:bold}
.storm{background:#fff4e5;border:1px solid #e0a040;padding:.4rem .6rem;margin:.5rem 0}
.remedy{display:flex;gap:.5rem;align-items:flex-start}.remedy pre{flex:1;min-width:0;margin:.25rem 0}
.advice{margin:.25rem 0}
button{font:inherit;padding:.25rem .75rem;border:1px solid #555;background:#fff;color:#1a1a1a;border-radius:4px}
table.steps col.step{width:20%}table.steps col.status{width:6.5rem}table.steps col.duration{width:6.5rem}table.steps col.request{width:27%}
table.result{font-size:.85rem}details.skipped{margin:.5rem 0}
.chart{margin:1rem 0}.chart svg{max-width:100%;height:auto}.chart figcaption{overflow-wrap:anywhere}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dd{margin:0;min-width:0;overflow-wrap:anywhere}
@media (max-width:40rem){body{padding:.5rem}.remedy{flex-direction:column}
table.steps,table.steps tbody,table.steps tr,table.steps th,table.steps td{display:block;width:auto}
table.steps thead,table.steps colgroup{display:none}table.steps caption{display:block;text-align:left}table.steps tr{border:1px solid #bbb;margin-bottom:.5rem}
table.steps th,table.steps td{border:0;border-bottom:1px solid #e4e4e4}
table.steps td[data-label]::before{content:attr(data-label) ": ";font-weight:bold}}
`;

const COPY_SCRIPT = `document.querySelectorAll("button[data-copy]").forEach(function(b){b.hidden=false;b.addEventListener("click",function(){var c=document.getElementById(b.getAttribute("data-copy"));if(c&&navigator.clipboard){navigator.clipboard.writeText(c.textContent).then(function(){b.textContent="Copied";},function(){b.textContent="Copy failed";});}});});`;

/** The pages' one inline script: the copy buttons and the local times. */
const SCRIPT = `${COPY_SCRIPT}\n${LOCAL_TIME_SCRIPT}`;

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** Allows only the page's own inline style and script (by hash); nothing is loaded from anywhere. */
export const REPORT_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "img-src data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function labelsTable(labels: Record<string, string>, caption: string): string {
  const rows = Object.entries(labels)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join("");
  return `<table class="labels"><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">Label</th><th scope="col">Value</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * The line with the parts that matched in <mark>. The step matched case-insensitively with the playbook's regex;
 * excerpts stored before the regex was kept with them have only the pattern's name, so nothing is marked.
 */
export function highlight(excerpt: LogExcerpt): string {
  let re: RegExp | undefined;
  try {
    re = excerpt.regex ? new RegExp(excerpt.regex, "gi") : undefined;
  } catch {
    re = undefined;
  }
  if (!re) return escapeHtml(excerpt.line);
  let out = "";
  let last = 0;
  for (const m of excerpt.line.matchAll(re)) {
    if (m[0].length === 0) continue;
    out += escapeHtml(excerpt.line.slice(last, m.index)) + `<mark>${escapeHtml(m[0])}</mark>`;
    last = m.index + m[0].length;
  }
  return out + escapeHtml(excerpt.line.slice(last));
}

/** The objects or series a step read, in a nested table (no more than the 20 rows the step kept). */
function resultTable(table: ResultTable | undefined): string {
  if (table === undefined || table.rows.length === 0) return "";
  const head = table.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join("");
  const body = table.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("");
  const more = table.more > 0 ? `<p>… and ${table.more} more</p>` : "";
  return `<details><summary>what it read</summary><table class="result"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${more}</details>`;
}

function link(href: string | undefined, text: string): string {
  const url = httpUrl(href);
  return url ? `<a href="${escapeHtml(url)}">${escapeHtml(text)}</a>` : "";
}

/** A remediation: a command in a code block with its Copy button (shown by the script), or advice as prose. */
function remedyHtml(remediation: string, codeId: string): string {
  if (!isCommand(remediation)) return `<p class="advice">${escapeHtml(remediation)}</p>`;
  return (
    `<div class="remedy"><pre><code id="${codeId}">${escapeHtml(remediation)}</code></pre>` +
    `<button type="button" data-copy="${codeId}" hidden aria-label="Copy command">Copy</button></div>`
  );
}

/** The links a person acts from: the alert's runbook, graph and silence, and the Alertmanager that sent it. */
function alertLinks(a: AlertDiagnosis, alertmanager: string | undefined): string {
  const links = LINK_KINDS.filter((k) => k !== "report").map((k) => link(a.links[k], LINK_TEXT[k]));
  links.push(link(alertmanager, "Alertmanager"));
  const shown = links.filter((l) => l !== "");
  if (shown.length === 0) return "";
  return `<nav class="links" aria-label="Links for ${escapeHtml(alertName(a.alert))}"><ul>${shown.map((l) => `<li>${l}</li>`).join("")}</ul></nav>`;
}

/**
 * What the first screen shows of an alert: the verdict and its confidence, what could not be checked, the one thing
 * to do first and the links to act from.
 */
function summaryHtml(a: AlertDiagnosis, id: string, alertmanager: string | undefined): string {
  const parts: string[] = [];
  const h = headline(a);
  if (h !== undefined) {
    parts.push(`<p class="verdict"><strong>${escapeHtml(h.label)}:</strong> ${escapeHtml(h.text)}</p>`);
    if (h.confidence !== undefined) parts.push(`<p class="confidence">Confidence: <strong>${escapeHtml(h.confidence)}</strong></p>`);
  } else {
    parts.push(
      `<p class="verdict">${a.playbook === null ? "No playbook ran" : "<strong>No cause was found.</strong>"}${a.note ? ` — ${escapeHtml(a.note)}` : ""}</p>`,
    );
  }
  const notChecked = a.notChecked ?? [];
  if (notChecked.length > 0) {
    parts.push(
      `<p>Not checked:</p><ul class="not-checked">${notChecked.map((n) => `<li>${escapeHtml(n.title)}: ${escapeHtml(n.reason)}</li>`).join("")}</ul>`,
    );
  } else if (a.playbook !== null && a.verdict !== undefined) {
    // Diagnoses with a verdict leave notChecked out when it is empty; older ones said nothing either way.
    parts.push(`<p class="not-checked">Not checked: nothing — every cause the playbook knows was checked.</p>`);
  }
  const first = a.causes[0]?.remediation[0];
  if (a.verdict !== "could_not_check" && first !== undefined)
    parts.push(`<div class="first-step"><p>Do first:</p>${remedyHtml(first, `${id}-first`)}</div>`);
  parts.push(alertLinks(a, alertmanager));
  return `<div class="summary">${parts.join("")}</div>`;
}

/** The alert's labels that are not already among the group's common labels. */
function ownLabels(a: AlertDiagnosis, common: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(a.alert.labels).filter(([k, v]) => common[k] !== v));
}

function stepsTable(steps: StepRecord[], caption: string): string {
  return (
    `<table class="steps"><caption>${escapeHtml(caption)}</caption>` +
    `<colgroup><col class="step"><col class="status"><col class="duration"><col class="request"><col class="result"></colgroup>` +
    `<thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Duration</th><th scope="col">Request</th><th scope="col">Result</th></tr></thead><tbody>` +
    steps
      .map(
        (s) =>
          `<tr><th scope="row">${escapeHtml(s.title)}</th><td class="status-${escapeHtml(s.status)}" data-label="Status">${escapeHtml(s.status)}</td>` +
          `<td data-label="Duration">${Math.round(s.durationMs)} ms</td><td data-label="Request"><code>${escapeHtml(s.request)}</code></td>` +
          `<td data-label="Result">${escapeHtml(s.summary)}${s.error ? `<br><strong>Error:</strong> ${escapeHtml(s.error)}` : ""}${resultTable(s.table)}</td></tr>`,
      )
      .join("") +
    `</tbody></table>`
  );
}

/** The steps that ran in a table; those skipped (their condition did not hold) collapsed below it. */
function stepsHtml(a: AlertDiagnosis): string {
  const ran = a.steps.filter((s) => s.status !== "skipped");
  const skipped = a.steps.filter((s) => s.status === "skipped");
  return (
    `<h3>Playbook steps</h3>` +
    (ran.length > 0 ? stepsTable(ran, "Every step that ran") : "") +
    (skipped.length > 0
      ? `<details class="skipped"><summary>${skipped.length} ${skipped.length === 1 ? "step" : "steps"} skipped</summary>${stepsTable(skipped, "Steps skipped: not needed for this alert")}</details>`
      : "")
  );
}

function alertSection(a: AlertDiagnosis, index: number, d: Diagnosis): string {
  const name = alertName(a.alert);
  const id = `a${index}`;
  const where = whereLabels(a.alert)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const parts: string[] = [];
  parts.push(
    `<section aria-labelledby="${id}-h"><h2 id="${id}-h">${escapeHtml(name)}${where !== "" ? ` <small>${escapeHtml(where)}</small>` : ""}</h2>`,
  );
  parts.push(summaryHtml(a, id, httpUrl(d.externalURL)));

  parts.push(
    `<dl><dt>Status</dt><dd>${escapeHtml(a.alert.status)}</dd><dt>Started</dt><dd>${timeHtml(a.alert.startsAt)}</dd>` +
      `<dt>Playbook</dt><dd>${a.playbook ? escapeHtml(a.playbook) : "none ran"}${a.note ? ` — ${escapeHtml(a.note)}` : ""}</dd>` +
      (a.cluster !== undefined ? `<dt>Cluster read</dt><dd>${escapeHtml(a.cluster)}</dd>` : "") +
      (a.partial ? `<dt>Completeness</dt><dd>Partial: a step failed or the run was cut short</dd>` : "") +
      `</dl>`,
  );
  if (a.alert.annotations?.summary) parts.push(`<p>${escapeHtml(a.alert.annotations.summary)}</p>`);
  if ((a.ruledOut ?? []).length > 0) parts.push(`<p>Ruled out: ${escapeHtml((a.ruledOut ?? []).join(", "))}</p>`);

  if (a.causes.length > 0) {
    parts.push(`<h3>Causes</h3><ol class="causes">`);
    a.causes.forEach((c, ci) => {
      parts.push(`<li><h4>${escapeHtml(c.title)} <span>(${escapeHtml(confidenceText(c))})</span></h4><p>${escapeHtml(c.summary)}</p>`);
      if (c.evidence.length > 0)
        parts.push(
          `<ul class="evidence">${c.evidence
            .map((e) => `<li>${escapeHtml(e.text)} <small>(step ${escapeHtml(e.step)}${e.at ? `, ${timeHtml(e.at)}` : ""})</small></li>`)
            .join("")}</ul>`,
        );
      if (c.remediation.length > 0) {
        parts.push(`<p>What to do:</p>`);
        c.remediation.forEach((remediation, ri) => parts.push(remedyHtml(remediation, `${id}-c${ci}-r${ri}`)));
      }
      parts.push(`</li>`);
    });
    parts.push(`</ol>`);
  }

  if (a.chart) {
    parts.push(
      `<h3>Chart</h3><figure class="chart">${renderChartSvg(a.chart)}<figcaption>${escapeHtml(a.chart.query)} over the last hour</figcaption></figure>`,
    );
  }

  const own = ownLabels(a, d.commonLabels);
  if (Object.keys(own).length > 0) parts.push(labelsTable(own, d.alerts.length > 1 ? "This alert's own labels" : "Labels"));

  if (a.steps.length > 0) parts.push(stepsHtml(a));

  if (a.logExcerpts.length > 0) {
    parts.push(`<h3>Log excerpts</h3>`);
    for (const e of a.logExcerpts)
      parts.push(
        `<p>${escapeHtml(e.pod)}${e.container ? ` / ${escapeHtml(e.container)}` : ""} — matched <code>${escapeHtml(e.pattern)}</code></p><pre><code>${highlight(e)}</code></pre>`,
      );
  }
  parts.push(`</section>`);
  return parts.join("\n");
}

export function renderReportPage(d: Diagnosis, options: ReportPageOptions = {}): string {
  const names = [...new Set(d.alerts.map((a) => alertName(a.alert)))];
  const title = `${names.join(", ") || "Alert"} — diagnosis`;
  // The alert the group's messages lead with comes first, so its verdict is the first thing on the page.
  const lead = leadingAlert(d);
  const ordered = d.alerts.map((a, i) => ({ a, i })).sort((x, y) => Number(y.a === lead) - Number(x.a === lead));
  const body = [
    `<header><h1>${escapeHtml(title)}</h1><p class="context">${escapeHtml(d.status)} · received ${timeHtml(d.createdAt)} · receiver ${escapeHtml(d.receiver)}</p></header>`,
    `<main>`,
    d.storm !== undefined
      ? `<p class="storm">${[escapeHtml(stormLine(d.storm)), link(d.storm.link, "See the storm")].join(" ").trim()}</p>`
      : "",
    ...ordered.map(({ a, i }) => alertSection(a, i, d)),
    Object.keys(d.commonLabels).length > 0
      ? `<section aria-labelledby="labels-h"><h2 id="labels-h">Labels</h2>${labelsTable(d.commonLabels, d.alerts.length > 1 ? "Labels common to the group" : "The alert's labels")}</section>`
      : "",
    d.truncatedAlerts > 0 ? `<p>${d.truncatedAlerts} more alerts were left out by Alertmanager.</p>` : "",
    `</main>`,
    `<footer><p>Report ${escapeHtml(d.notificationId)}${options.generatedAt ? ` · generated ${timeHtml(options.generatedAt.toISOString())}` : ""}</p></footer>`,
  ].join("\n");
  return reportDocument(title, body);
}

/** The page around `body` (already HTML): the one style and one script REPORT_CSP allows, no referrer sent on links. */
export function reportDocument(title: string, body: string): string {
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n<script>${SCRIPT}</script>\n</body></html>\n`
  );
}
