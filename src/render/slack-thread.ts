// The replies under a Slack alert message: the full diagnosis (steps, every cause, evidence, logs) and the resolved note.
import { GO_ZERO_TIME } from "../model/alertmanager.ts";
import type { AlertDiagnosis, Cause, Diagnosis, LogExcerpt, StepRecord, StepStatus } from "../model/diagnosis.ts";
import {
  alertName,
  confidenceText,
  ELLIPSIS,
  groupAlertNames,
  headline,
  httpUrl,
  severityLevel,
  topCause,
  totalAlertCount,
  truncate,
  whereLabels,
} from "./alert-facts.ts";
import { safeMrkdwn, SEVERITY_EMOJI, SLACK_LIMITS, type SlackBlock, type SlackMrkdwnText, type SlackSectionBlock } from "./slack-blocks.ts";

export interface SlackThreadReply {
  /** Fallback for notifications and clients that cannot show blocks. */
  text: string;
  blocks: SlackBlock[];
}

/**
 * Slack rejects a message whose blocks carry too much text in total (`msg_blocks_too_long`, unpublished, reported
 * around 12,000 characters); a reply stays well below that.
 */
const TOTAL_TEXT_BUDGET = 9_000;
/** Below this an alert's share of the budget would show too little to be worth a section. */
const MIN_ALERT_BUDGET = 2_500;
/** Room kept for the "truncated" notes, so one always fits. */
const NOTE_RESERVE = 300;
const STEP_TITLE = 150;
const STEP_RESULT = 300;
const CAUSES_SHOWN = 15;
const CAUSE_TITLE = 150;
const CAUSE_SUMMARY = 300;
const CAUSES_SUMMARISED = 3;
const EVIDENCE_SHOWN = 10;
const EVIDENCE_TEXT = 300;
const REMEDIATION_SHOWN = 5;
const REMEDIATION_TEXT = 800;
const EXCERPTS_SHOWN = 5;
const EXCERPT_TEXT = 1000;
const FALLBACK_TEXT = 1000;

const STEP_EMOJI: Record<StepStatus, string> = {
  ok: "✅",
  failed: "❌",
  timeout: "⏱️",
  skipped: "⏭️",
};

function oneLine(raw: string): string {
  return raw.replace(/\s+/g, " ").trim();
}

/** A backtick in the value would end the inline code early. */
function inlineCode(raw: string, max: number): string {
  return `\`${safeMrkdwn(oneLine(raw).replace(/`/g, "ˋ"), max)}\``;
}

function codeBlock(raw: string, max: number): string {
  // Three backticks inside would close the block early.
  return `\`\`\`${safeMrkdwn(raw.replace(/```/g, "`\u200b``"), max)}\`\`\``;
}

function mrkdwn(text: string): SlackMrkdwnText {
  return { type: "mrkdwn", text: text === "" ? " " : text };
}

function section(text: string): SlackSectionBlock {
  return { type: "section", text: mrkdwn(truncate(text, SLACK_LIMITS.sectionText)) };
}

function note(text: string): SlackBlock {
  return { type: "context", elements: [mrkdwn(text)] };
}

/** Lines under a title, split over as many sections as the 3000-character limit needs; each line is already bounded. */
function sections(title: string, lines: string[]): SlackSectionBlock[] {
  const result: SlackSectionBlock[] = [];
  let current = title;
  for (const line of lines) {
    if (current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      result.push(section(current));
      current = line;
    } else {
      current = current === "" ? line : `${current}\n${line}`;
    }
  }
  if (current !== "") result.push(section(current));
  return result;
}

export function formatStepDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function stepLine(s: StepRecord): string {
  const result = s.error !== undefined ? `error: ${s.error}` : s.summary;
  const said = oneLine(result) !== "" ? `: ${safeMrkdwn(oneLine(result), STEP_RESULT)}` : "";
  return `${STEP_EMOJI[s.status]} *${safeMrkdwn(oneLine(s.title), STEP_TITLE)}* ${inlineCode(s.id, 100)} (${formatStepDuration(s.durationMs)})${said}`;
}

function causeLines(causes: Cause[]): string[] {
  const lines = causes.slice(0, CAUSES_SHOWN).map((c, i) => {
    const line = `${i + 1}. *${safeMrkdwn(oneLine(c.title), CAUSE_TITLE)}* · ${confidenceText(c)}${i === 0 ? " · probable cause" : ""}`;
    // The strongest few carry their summary; the long tail is there to show what was ruled out.
    return i < CAUSES_SUMMARISED ? `${line}\n      ${safeMrkdwn(oneLine(c.summary), CAUSE_SUMMARY)}` : line;
  });
  if (causes.length > CAUSES_SHOWN) lines.push(`_${ELLIPSIS} and ${causes.length - CAUSES_SHOWN} more causes in the report (truncated)_`);
  return lines;
}

function evidenceLines(cause: Cause): string[] {
  const lines = cause.evidence.slice(0, EVIDENCE_SHOWN).map((e) => {
    const where = [e.step, e.at].filter((x): x is string => x !== undefined && x !== "").join(", ");
    return `• ${safeMrkdwn(oneLine(e.text), EVIDENCE_TEXT)}${where !== "" ? ` _(${safeMrkdwn(where, 100)})_` : ""}`;
  });
  if (cause.evidence.length > EVIDENCE_SHOWN)
    lines.push(`_${ELLIPSIS} and ${cause.evidence.length - EVIDENCE_SHOWN} more in the report (truncated)_`);
  return lines;
}

function remediationLines(cause: Cause): string[] {
  const lines = cause.remediation
    .slice(0, REMEDIATION_SHOWN)
    .map((r, i) => `${i === 0 ? "Do now" : "Then"}:\n${codeBlock(r, REMEDIATION_TEXT)}`);
  if (cause.remediation.length > REMEDIATION_SHOWN) {
    lines.push(`_${ELLIPSIS} and ${cause.remediation.length - REMEDIATION_SHOWN} more steps in the report (truncated)_`);
  }
  return lines;
}

function excerptBlock(x: LogExcerpt): SlackSectionBlock {
  const where = x.container !== undefined ? `${x.pod}/${x.container}` : x.pod;
  return section(`${inlineCode(where, 300)} matched ${inlineCode(x.pattern, 200)}\n${codeBlock(x.line, EXCERPT_TEXT)}`);
}

function alertHeading(a: AlertDiagnosis): string {
  const resolved = a.alert.status === "resolved";
  const where = whereLabels(a.alert)
    .map(([name, value]) => `${name} *${safeMrkdwn(value, 200)}*`)
    .join(" · ");
  const emoji = SEVERITY_EMOJI[resolved ? "resolved" : severityLevel(a.alert.labels.severity)];
  const lines = [
    `${emoji} *${safeMrkdwn(alertName(a.alert), 300)}* ${resolved ? "resolved" : "firing"}${where !== "" ? ` · ${where}` : ""}`,
  ];
  if (a.playbook !== null) {
    const ran = Date.parse(a.finishedAt) - Date.parse(a.startedAt);
    const took = Number.isFinite(ran) ? ` in ${formatStepDuration(ran)}` : "";
    const cluster = a.cluster !== undefined ? ` on cluster *${safeMrkdwn(a.cluster, 200)}*` : "";
    lines.push(`Playbook ${inlineCode(a.playbook, 200)}${cluster}: ${a.steps.length} step${a.steps.length === 1 ? "" : "s"}${took}`);
  }
  if (a.partial) lines.push("⚠️ *PARTIAL*: some steps failed or timed out; the causes rest on what did answer.");
  return lines.join("\n");
}

/** Everything the thread says about one alert, most useful first, so a cut for size drops the least useful. */
function alertBlocks(a: AlertDiagnosis): SlackBlock[] {
  const blocks: SlackBlock[] = [section(alertHeading(a))];
  if (a.playbook === null) {
    blocks.push(note(safeMrkdwn(a.note ?? "No playbook covers this alert; forwarded as received.", 1000)));
    return blocks;
  }
  if (a.steps.length > 0) blocks.push(...sections("*Steps*", a.steps.map(stepLine)));
  if (a.verdict === "could_not_check") {
    const h = headline(a);
    if (h !== undefined) blocks.push(section(`*${h.label}*\n${safeMrkdwn(h.text, CAUSE_SUMMARY * 2)}`));
  }
  if (a.causes.length > 0 && a.verdict !== "could_not_check") blocks.push(...sections("*Causes that hold*", causeLines(a.causes)));
  const open = (a.notChecked ?? []).map(
    (n) => `• ${safeMrkdwn(oneLine(n.title), CAUSE_TITLE)}: ${safeMrkdwn(oneLine(n.reason), CAUSE_SUMMARY)}`,
  );
  if (open.length > 0) blocks.push(...sections("*Not checked*", open));
  if ((a.ruledOut ?? []).length > 0) blocks.push(note(safeMrkdwn(`Ruled out: ${(a.ruledOut ?? []).join(", ")}`, 1000)));
  const cause = a.verdict === "could_not_check" ? undefined : topCause(a);
  if (cause !== undefined && cause.evidence.length > 0) blocks.push(...sections("*Evidence for the probable cause*", evidenceLines(cause)));
  if (cause !== undefined && cause.remediation.length > 0) blocks.push(...sections("*Remediation*", remediationLines(cause)));
  if (a.logExcerpts.length > 0) {
    blocks.push(section(`*Log excerpts* (${a.logExcerpts.length} matching line${a.logExcerpts.length === 1 ? "" : "s"}, redacted)`));
    blocks.push(...a.logExcerpts.slice(0, EXCERPTS_SHOWN).map(excerptBlock));
    if (a.logExcerpts.length > EXCERPTS_SHOWN) {
      blocks.push(note(`${ELLIPSIS} and ${a.logExcerpts.length - EXCERPTS_SHOWN} more excerpts in the report (truncated)`));
    }
  }
  return blocks;
}

function blockTextLength(block: SlackBlock): number {
  switch (block.type) {
    case "header":
      return block.text.text.length;
    case "section":
      return (block.text?.text.length ?? 0) + (block.fields ?? []).reduce((n, f) => n + f.text.length, 0);
    case "context":
      return block.elements.reduce((n, e) => n + e.text.length, 0);
    case "actions":
      return block.elements.reduce((n, e) => n + e.text.text.length, 0);
    case "divider":
      return 0;
  }
}

const CUT_MARKER = `${ELLIPSIS} (truncated)`;
/** Below this a cut section would say too little to be worth showing. */
const MIN_CUT = 200;

/** The whole lines of `text` that fit in `room` with the marker, keeping a code block closed; undefined when too few fit. */
function cutAtLine(text: string, room: number): string | undefined {
  if (room < MIN_CUT) return undefined;
  const lines = text.split("\n");
  let kept = "";
  for (const line of lines) {
    const next = kept === "" ? line : `${kept}\n${line}`;
    if (next.length + CUT_MARKER.length + 4 > room) break;
    kept = next;
  }
  if (kept === "" || kept.length < MIN_CUT / 2) return undefined;
  const openCode = (kept.match(/```/g) ?? []).length % 2 === 1 ? "```" : "";
  return `${kept}${openCode}\n${CUT_MARKER}`;
}

function reportLink(a: AlertDiagnosis): string {
  const url = httpUrl(a.links.report);
  return url !== undefined && url.length <= 2000 ? `: <${url}|diagnosis report>` : "";
}

/**
 * The full diagnosis as one reply, within Block Kit's limits. Each alert gets a fair share of the text budget,
 * so a first alert with a hundred log lines cannot crowd out the others; whatever is cut is marked as truncated.
 */
export function renderSlackThreadReply(d: Diagnosis, options: { changed?: boolean } = {}): SlackThreadReply {
  const blocks: SlackBlock[] = [];
  if (options.changed === true) blocks.push(note("🔄 *The diagnosis changed* since the last update; the message above shows the new one."));
  let textUsed = blocks.reduce((n, b) => n + blockTextLength(b), 0);
  const perAlert = Math.max(MIN_ALERT_BUDGET, Math.floor(TOTAL_TEXT_BUDGET / Math.max(1, d.alerts.length)));
  let shown = 0;
  for (const a of d.alerts) {
    const candidates: SlackBlock[] = shown > 0 ? [{ type: "divider" }, ...alertBlocks(a)] : alertBlocks(a);
    // One block and some text stay free for this alert's note and one for the group's.
    const blockRoom = SLACK_LIMITS.blocksPerMessage - blocks.length - 2;
    const textRoom = Math.min(perAlert, TOTAL_TEXT_BUDGET - NOTE_RESERVE - textUsed);
    const taken: SlackBlock[] = [];
    let takenText = 0;
    for (const block of candidates) {
      const size = blockTextLength(block);
      if (taken.length + 1 > blockRoom) break;
      if (takenText + size > textRoom) {
        const cut = block.type === "section" && block.text !== undefined ? cutAtLine(block.text.text, textRoom - takenText) : undefined;
        if (cut !== undefined) {
          taken.push(section(cut));
          takenText += cut.length;
        }
        break;
      }
      taken.push(block);
      takenText += size;
    }
    // An alert whose heading does not fit is left to the group's note rather than shown as a bare divider.
    if (taken.filter((b) => b.type !== "divider").length === 0) break;
    blocks.push(...taken);
    textUsed += takenText;
    shown += 1;
    if (taken.length < candidates.length) {
      const marker = note(`${ELLIPSIS} the rest of this alert's diagnosis is cut here (truncated)${reportLink(a)}`);
      blocks.push(marker);
      textUsed += blockTextLength(marker);
    }
  }
  const hidden = totalAlertCount(d) - shown;
  if (hidden > 0)
    blocks.push(note(`${ELLIPSIS} and ${hidden} more alert${hidden === 1 ? "" : "s"} not shown here (truncated); see the report.`));
  return { text: fallbackText(d, options.changed === true), blocks };
}

function fallbackText(d: Diagnosis, changed: boolean): string {
  const steps = d.alerts.reduce((n, a) => n + a.steps.length, 0);
  const causes = d.alerts.reduce((n, a) => n + a.causes.length, 0);
  const what = changed ? "Diagnosis changed" : "Diagnosis details";
  return safeMrkdwn(`${what} for ${groupAlertNames(d).join(", ")}: ${steps} steps run, ${causes} causes considered`, FALLBACK_TEXT);
}

/** "45s", "23m", "1h 5m", "2d 3h": rounded to the smallest unit shown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "an unknown time";
  if (ms < 59_500) return `${Math.round(ms / 1000)}s`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes}m`;
  if (minutes < 24 * 60) {
    const rest = minutes % 60;
    return `${Math.floor(minutes / 60)}h${rest > 0 ? ` ${rest}m` : ""}`;
  }
  const hours = Math.round(ms / 3_600_000);
  const rest = hours % 24;
  return `${Math.floor(hours / 24)}d${rest > 0 ? ` ${rest}h` : ""}`;
}

function validTime(iso: string | undefined): number | undefined {
  if (iso === undefined || iso === GO_ZERO_TIME) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * How long the group fired: from its earliest startsAt (or when the sink first saw it) to its latest endsAt
 * (or when the resolved notification was diagnosed).
 */
export function firingDurationMs(d: Diagnosis, firstSeenAt?: string): number | undefined {
  const starts = d.alerts.map((a) => validTime(a.alert.startsAt)).filter((t): t is number => t !== undefined);
  const ends = d.alerts.map((a) => validTime(a.alert.endsAt)).filter((t): t is number => t !== undefined);
  const start = starts.length > 0 ? Math.min(...starts) : validTime(firstSeenAt);
  const end = ends.length > 0 ? Math.max(...ends) : validTime(d.createdAt);
  if (start === undefined || end === undefined || end < start) return undefined;
  return end - start;
}

/** The reply that closes the thread: "Resolved after 23m". */
export function renderResolvedReply(d: Diagnosis, firstSeenAt?: string): SlackThreadReply {
  const ms = firingDurationMs(d, firstSeenAt);
  const text = ms !== undefined ? `${SEVERITY_EMOJI.resolved} Resolved after ${formatDuration(ms)}` : `${SEVERITY_EMOJI.resolved} Resolved`;
  return { text, blocks: [section(text)] };
}
