// The full report of one diagnosis as a standalone, accessible HTML page: readable without JavaScript, on a phone.
import { createHash } from "node:crypto";
import type { AlertDiagnosis, Diagnosis, LogExcerpt, ResultTable } from "../model/diagnosis.ts";
import { alertName, confidenceText, headline, httpUrl, LINK_KINDS, LINK_TEXT } from "./alert-facts.ts";
import { renderChartSvg } from "./chart.ts";
import { stormLine } from "./storm-line.ts";

export interface ReportPageOptions {
  /** Shown in the footer; the time the page was produced. */
  generatedAt?: Date;
}

/** HTML-escapes text for element content and quoted attributes alike. */
export function escapeHtml(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- control characters have no place in the page
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;")
  );
}

const STYLE = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1a1a1a;background:#fff}
body{margin:0 auto;max-width:60rem;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.1rem}
table{border-collapse:collapse;width:100%;display:block;overflow-x:auto}
th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f0f0f0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
pre{background:#f4f4f4;color:#1a1a1a;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
mark{background:#ffe066;color:#000}
a{color:#0645ad}.status-failed,.status-timeout{color:#a00000;font-weight:bold}.status-ok{color:#0a6b0a}
.remedy{display:flex;gap:.5rem;align-items:flex-start}.remedy pre{flex:1;margin:.25rem 0}
button{font:inherit;padding:.25rem .75rem;border:1px solid #555;background:#fff;color:#1a1a1a;border-radius:4px}
.chart svg{max-width:100%;height:auto}.chart figcaption{overflow-wrap:anywhere}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dd{margin:0}
@media (max-width:40rem){body{padding:.5rem}.remedy{flex-direction:column}}
`;

const SCRIPT = `document.querySelectorAll("button[data-copy]").forEach(function(b){b.hidden=false;b.addEventListener("click",function(){var c=document.getElementById(b.getAttribute("data-copy"));if(c&&navigator.clipboard){navigator.clipboard.writeText(c.textContent).then(function(){b.textContent="Copied";},function(){b.textContent="Copy failed";});}});});`;

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
  return `<table><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">Label</th><th scope="col">Value</th></tr></thead><tbody>${rows}</tbody></table>`;
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

function alertSection(a: AlertDiagnosis, index: number): string {
  const name = alertName(a.alert);
  const id = `a${index}`;
  const parts: string[] = [];
  parts.push(`<section aria-labelledby="${id}-h"><h2 id="${id}-h">${escapeHtml(name)}</h2>`);
  parts.push(
    `<dl><dt>Status</dt><dd>${escapeHtml(a.alert.status)}</dd><dt>Started</dt><dd>${escapeHtml(a.alert.startsAt)}</dd>` +
      `<dt>Playbook</dt><dd>${a.playbook ? escapeHtml(a.playbook) : "none ran"}${a.note ? ` — ${escapeHtml(a.note)}` : ""}</dd>` +
      (a.cluster !== undefined ? `<dt>Cluster read</dt><dd>${escapeHtml(a.cluster)}</dd>` : "") +
      (a.partial ? `<dt>Completeness</dt><dd>Partial: a step failed or the run was cut short</dd>` : "") +
      `</dl>`,
  );
  if (a.alert.annotations?.summary) parts.push(`<p>${escapeHtml(a.alert.annotations.summary)}</p>`);
  parts.push(labelsTable(a.alert.labels, "Labels"));

  parts.push(`<h3>Verdict</h3>`);
  const h = headline(a);
  if (h !== undefined) {
    parts.push(
      `<p class="verdict"><strong>${escapeHtml(h.label)}</strong>${h.confidence !== undefined ? ` (${escapeHtml(h.confidence)})` : ""}: ${escapeHtml(h.text)}</p>`,
    );
  }
  if ((a.notChecked ?? []).length > 0) {
    parts.push(
      `<p>Not checked:</p><ul class="not-checked">${(a.notChecked ?? [])
        .map((n) => `<li>${escapeHtml(n.title)}: ${escapeHtml(n.reason)}</li>`)
        .join("")}</ul>`,
    );
  }
  if ((a.ruledOut ?? []).length > 0) parts.push(`<p>Ruled out: ${escapeHtml((a.ruledOut ?? []).join(", "))}</p>`);
  if (a.causes.length === 0) {
    if (h === undefined) parts.push(`<p>No cause was found.</p>`);
  } else {
    parts.push(`<ol class="causes">`);
    a.causes.forEach((c, ci) => {
      parts.push(`<li><h4>${escapeHtml(c.title)} <span>(${escapeHtml(confidenceText(c))})</span></h4><p>${escapeHtml(c.summary)}</p>`);
      if (c.evidence.length > 0)
        parts.push(
          `<ul class="evidence">${c.evidence
            .map((e) => `<li>${escapeHtml(e.text)} <small>(step ${escapeHtml(e.step)}${e.at ? `, ${escapeHtml(e.at)}` : ""})</small></li>`)
            .join("")}</ul>`,
        );
      if (c.remediation.length > 0) {
        parts.push(`<p>What to do:</p>`);
        c.remediation.forEach((command, ri) => {
          const codeId = `${id}-c${ci}-r${ri}`;
          parts.push(
            `<div class="remedy"><pre><code id="${codeId}">${escapeHtml(command)}</code></pre>` +
              `<button type="button" data-copy="${codeId}" hidden aria-label="Copy command">Copy</button></div>`,
          );
        });
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

  if (a.steps.length > 0) {
    parts.push(
      `<h3>Playbook steps</h3><table><caption>Every step as it ran</caption><thead><tr><th scope="col">Step</th><th scope="col">Status</th>` +
        `<th scope="col">Duration</th><th scope="col">Request</th><th scope="col">Result</th></tr></thead><tbody>` +
        a.steps
          .map(
            (s) =>
              `<tr><th scope="row">${escapeHtml(s.title)}</th><td class="status-${escapeHtml(s.status)}">${escapeHtml(s.status)}</td>` +
              `<td>${Math.round(s.durationMs)} ms</td><td><code>${escapeHtml(s.request)}</code></td>` +
              `<td>${escapeHtml(s.summary)}${s.error ? `<br><strong>Error:</strong> ${escapeHtml(s.error)}` : ""}${resultTable(s.table)}</td></tr>`,
          )
          .join("") +
        `</tbody></table>`,
    );
  }

  if (a.logExcerpts.length > 0) {
    parts.push(`<h3>Log excerpts</h3>`);
    for (const e of a.logExcerpts)
      parts.push(
        `<p>${escapeHtml(e.pod)}${e.container ? ` / ${escapeHtml(e.container)}` : ""} — matched <code>${escapeHtml(e.pattern)}</code></p><pre><code>${highlight(e)}</code></pre>`,
      );
  }

  const links = LINK_KINDS.filter((k) => k !== "report")
    .map((k) => link(a.links[k], LINK_TEXT[k]))
    .filter((l) => l !== "");
  if (links.length > 0)
    parts.push(`<nav aria-label="Links for ${escapeHtml(name)}"><ul>${links.map((l) => `<li>${l}</li>`).join("")}</ul></nav>`);
  parts.push(`</section>`);
  return parts.join("\n");
}

export function renderReportPage(d: Diagnosis, options: ReportPageOptions = {}): string {
  const names = [...new Set(d.alerts.map((a) => alertName(a.alert)))];
  const title = `${names.join(", ") || "Alert"} — diagnosis`;
  const body = [
    `<header><h1>${escapeHtml(title)}</h1><p>${escapeHtml(d.status)} · received ${escapeHtml(d.createdAt)} · receiver ${escapeHtml(d.receiver)}</p></header>`,
    `<main>`,
    d.storm !== undefined
      ? `<p class="storm">${[escapeHtml(stormLine(d.storm)), link(d.storm.link, "See the storm")].join(" ").trim()}</p>`
      : "",
    labelsTable(d.commonLabels, "Labels common to the group"),
    ...d.alerts.map((a, i) => alertSection(a, i)),
    d.truncatedAlerts > 0 ? `<p>${d.truncatedAlerts} more alerts were left out by Alertmanager.</p>` : "",
    `</main>`,
    `<footer><p>Report ${escapeHtml(d.notificationId)}${options.generatedAt ? ` · generated ${escapeHtml(options.generatedAt.toISOString())}` : ""}</p></footer>`,
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
