// A storm of alert groups as a standalone HTML page (README, "Storms"): the same story as its Slack message — the shared
// cause first, then every group by verdict, each linked to its own report — in the report pages' look.
import { nameFromGroupKey } from "../diagnosis/group-verdict.ts";
import { analyseStorm, verdictKey, verdictText } from "../diagnosis/storm.ts";
import type { StoredStorm, StormMember } from "../model/storm.ts";
import { timeHtml } from "./page-time.ts";
import { escapeHtml, reportDocument } from "./report-page.ts";

export interface StormPageOptions {
  /** Where a group's latest report opens (with its token); undefined leaves the group's name unlinked. */
  reportHref?: (notificationId: string) => string | undefined;
  /** Shown in the footer; the time the page was produced. */
  generatedAt?: Date;
}

function memberItem(member: StormMember, options: StormPageOptions): string {
  const name = escapeHtml(member.latest?.verdict?.name ?? nameFromGroupKey(member.groupKey));
  const href = member.latest !== null ? options.reportHref?.(member.latest.notificationId) : undefined;
  const named = href !== undefined ? `<a href="${escapeHtml(href)}">${name}</a>` : name;
  const resolved = member.latest?.firing === false ? " — <strong>resolved</strong> ✅" : "";
  const summary = member.latest?.verdict?.cause?.summary;
  return `<li>${named}${resolved}${summary !== undefined && summary !== "" ? `: ${escapeHtml(summary)}` : ""}</li>`;
}

export function renderStormPage(storm: StoredStorm, options: StormPageOptions = {}): string {
  const analysis = analyseStorm(storm.members.map((m) => ({ groupKey: m.groupKey, verdict: m.latest?.verdict ?? null })));
  const resolved = storm.members.filter((m) => m.latest?.firing === false).length;
  const firing = storm.members.length - resolved;
  const where = storm.cluster === "" ? "" : ` in ${storm.cluster}`;
  const title = `Storm${where}: ${storm.members.length} alert groups`;

  const shared = analysis.sharedCause;
  const lead =
    shared !== undefined
      ? `<p class="shared-cause"><strong>Shared cause: ${escapeHtml(shared.component)}</strong> — ${escapeHtml(shared.title)}. ` +
        `It explains ${shared.groups} of the ${analysis.groups} groups.</p>`
      : `<p class="shared-cause"><strong>No one cause on a shared component found</strong> (yet): the groups by verdict below.</p>`;

  // The groups not diagnosed yet come last: they say nothing yet.
  const shares = [...analysis.verdicts].sort((a, b) => Number(a.verdict === null) - Number(b.verdict === null));
  const sections = shares.map((share, i) => {
    const members = storm.members.filter((m) => verdictKey(m.latest?.verdict ?? null) === share.key);
    const count = `${share.groups} ${share.groups === 1 ? "group" : "groups"}`;
    return (
      `<section aria-labelledby="v${i}-h"><h2 id="v${i}-h">${count}: ${escapeHtml(verdictText(share.verdict))}</h2>` +
      `<ul>${members.map((m) => memberItem(m, options)).join("")}</ul></section>`
    );
  });

  const body = [
    `<header><h1>🌩️ ${escapeHtml(title)}</h1>`,
    `<dl><dt>Cluster</dt><dd>${storm.cluster === "" ? "(no cluster label)" : escapeHtml(storm.cluster)}</dd>` +
      `<dt>First alert</dt><dd>${timeHtml(storm.openedAt)}</dd><dt>Last alert</dt><dd>${timeHtml(storm.lastSeenAt)}</dd>` +
      `<dt>Groups</dt><dd>${firing} firing, ${resolved} resolved</dd></dl></header>`,
    `<main>`,
    lead,
    ...sections,
    `</main>`,
    `<footer><p>Storm ${escapeHtml(storm.id)}${options.generatedAt ? ` · generated ${timeHtml(options.generatedAt.toISOString())}` : ""} · each group's details are on its own report</p></footer>`,
  ].join("\n");
  return reportDocument(title, body);
}
