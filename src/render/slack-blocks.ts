// A Diagnosis as a Slack message: typed Block Kit, a severity-coloured attachment, and every Block Kit limit respected.
import type { AlertDiagnosis, Diagnosis, StormMembership } from "../model/diagnosis.ts";
import {
  alertName,
  ELLIPSIS,
  formatConfidence,
  groupAlertNames,
  groupSeverity,
  headline,
  httpUrl,
  LINK_KINDS,
  LINK_TEXT,
  leadingAlert,
  notCheckedLine,
  type SeverityLevel,
  severityLevel,
  topCause,
  totalAlertCount,
  truncate,
  whereLabels,
} from "./alert-facts.ts";
import { stormLine } from "./storm-line.ts";

export interface SlackPlainText {
  type: "plain_text";
  text: string;
  emoji?: boolean;
}

export interface SlackMrkdwnText {
  type: "mrkdwn";
  text: string;
}

export type SlackTextObject = SlackPlainText | SlackMrkdwnText;

export interface SlackHeaderBlock {
  type: "header";
  text: SlackPlainText;
}

export interface SlackSectionBlock {
  type: "section";
  text?: SlackTextObject;
  fields?: SlackTextObject[];
}

export interface SlackContextBlock {
  type: "context";
  elements: SlackTextObject[];
}

export interface SlackDividerBlock {
  type: "divider";
}

export interface SlackLinkButton {
  type: "button";
  text: SlackPlainText;
  url: string;
  action_id: string;
}

export interface SlackActionsBlock {
  type: "actions";
  elements: SlackLinkButton[];
}

export type SlackBlock = SlackHeaderBlock | SlackSectionBlock | SlackContextBlock | SlackDividerBlock | SlackActionsBlock;

export interface SlackAttachment {
  color: string;
  blocks: SlackBlock[];
}

export interface SlackMessage {
  /** Fallback for notifications and clients that cannot show blocks. */
  text: string;
  blocks: SlackBlock[];
  attachments: [SlackAttachment];
}

/** Block Kit limits for messages (protocols.md 2.2). */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  headerText: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonUrl: 3000,
} as const;

/**
 * Slack also rejects messages whose blocks carry too much text in total (`msg_blocks_too_long`); the limit is not
 * published and reports put it around 12,000 characters, so the renderer stays well below that.
 */
const TOTAL_TEXT_BUDGET = 10_000;
const FALLBACK_TEXT = 3000;
const CAUSE_SUMMARY = 1500;
const STORM_LINK_URL = 1400;
const EVIDENCE_ITEMS = 3;
const EVIDENCE_TEXT = 300;
const COMMAND_TEXT = 1000;
const OTHER_CAUSES = 5;
const CONTEXT_TEXT = 1000;
const RESOLVED_LINES = 20;

export const SEVERITY_COLOUR: Record<SeverityLevel | "resolved", string> = {
  critical: "#E01E5A",
  error: "#E01E5A",
  warning: "#ECB22E",
  info: "#36C5F0",
  resolved: "#2EB67D",
};

export const SEVERITY_EMOJI: Record<SeverityLevel | "resolved", string> = {
  critical: "🔴",
  error: "🔴",
  warning: "🟠",
  info: "🔵",
  resolved: "✅",
};

/** Slack's escaping rule for mrkdwn: these three only, so alert data cannot open a link or a mention like <!channel>. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Escapes, then fits into `max`; a cut never leaves half an entity (`&am…`, \u2026 in the patterns) behind. */
export function safeMrkdwn(raw: string, max: number): string {
  const escaped = escapeMrkdwn(raw);
  if (escaped.length <= max) return escaped;
  return truncate(escaped, max).replace(/&[a-z]{0,3}\u2026$/, ELLIPSIS);
}

/** Fits text that is already mrkdwn (escaped where it came from alert data) into a limit, marking the cut. */
function fitted(mrkdwn: string, max: number): string {
  if (mrkdwn.length <= max) return mrkdwn;
  return truncate(mrkdwn, max, `${ELLIPSIS} (truncated)`).replace(/&[a-z]{0,3}\u2026 \(truncated\)$/, `${ELLIPSIS} (truncated)`);
}

function mrkdwn(text: string): SlackMrkdwnText {
  return { type: "mrkdwn", text: text === "" ? " " : text };
}

function section(text: string): SlackSectionBlock {
  return { type: "section", text: mrkdwn(fitted(text, SLACK_LIMITS.sectionText)) };
}

function codeBlock(raw: string): string {
  // Three backticks inside the command would close the block early.
  return `\`\`\`${safeMrkdwn(raw.replace(/```/g, "`\u200b``"), COMMAND_TEXT)}\`\`\``;
}

function severityKey(d: Diagnosis): SeverityLevel | "resolved" {
  return d.status === "resolved" ? "resolved" : groupSeverity(d);
}

function alertKey(a: AlertDiagnosis): SeverityLevel | "resolved" {
  if (a.alert.status === "resolved") return "resolved";
  return severityLevel(a.alert.labels.severity);
}

function whereMrkdwn(a: AlertDiagnosis): string {
  return whereLabels(a.alert)
    .map(([name, value]) => `${name} *${safeMrkdwn(value, 300)}*`)
    .join(" · ");
}

function groupTitle(d: Diagnosis): string {
  const names = groupAlertNames(d);
  const total = totalAlertCount(d);
  const what = names.length <= 2 ? names.join(", ") : `${names.slice(0, 2).join(", ")} and ${names.length - 2} more`;
  return total > 1 ? `${what} (${total} alerts)` : what;
}

function header(d: Diagnosis): SlackHeaderBlock {
  const key = severityKey(d);
  const text = `${SEVERITY_EMOJI[key]} ${d.status === "resolved" ? "RESOLVED" : "FIRING"} · ${groupTitle(d)}`;
  return { type: "header", text: { type: "plain_text", text: truncate(text, SLACK_LIMITS.headerText), emoji: true } };
}

function linkButtons(a: AlertDiagnosis, index: number): SlackActionsBlock | undefined {
  const elements: SlackLinkButton[] = [];
  for (const kind of LINK_KINDS) {
    const url = httpUrl(a.links[kind]);
    if (url === undefined || url.length > SLACK_LIMITS.buttonUrl) continue;
    elements.push({
      type: "button",
      text: { type: "plain_text", text: truncate(LINK_TEXT[kind], SLACK_LIMITS.buttonText), emoji: false },
      url,
      action_id: `link-${kind}-${index}`,
    });
  }
  return elements.length > 0 ? { type: "actions", elements } : undefined;
}

function alertHeading(a: AlertDiagnosis): string {
  const status = a.alert.status === "resolved" ? "resolved" : "firing";
  const lines = [`${SEVERITY_EMOJI[alertKey(a)]} *${safeMrkdwn(alertName(a.alert), 300)}* ${status}`];
  const where = whereMrkdwn(a);
  if (where !== "") lines.push(where);
  if (a.partial) lines.push("⚠️ *PARTIAL*: some steps failed or timed out; the diagnosis rests on what did answer.");
  return lines.join("\n");
}

function diagnosedAlertBlocks(a: AlertDiagnosis, index: number): SlackBlock[] {
  const blocks: SlackBlock[] = [section(alertHeading(a))];
  const cause = a.verdict === "could_not_check" ? undefined : topCause(a);
  const h = headline(a);
  if (h !== undefined) {
    const confidence = h.confidence !== undefined ? ` (${h.confidence} confidence)` : "";
    blocks.push(section(`*${h.label}*${confidence}\n${safeMrkdwn(h.text, CAUSE_SUMMARY)}`));
  }
  const notChecked = notCheckedLine(a);
  if (notChecked !== undefined) blocks.push(section(safeMrkdwn(notChecked, EVIDENCE_TEXT)));
  if (cause !== undefined) {
    const evidence = cause.evidence.slice(0, EVIDENCE_ITEMS).map((e) => `• ${safeMrkdwn(e.text.replace(/\s+/g, " "), EVIDENCE_TEXT)}`);
    if (evidence.length > 0) {
      const more = cause.evidence.length > EVIDENCE_ITEMS ? `\n_${cause.evidence.length - EVIDENCE_ITEMS} more in the report_` : "";
      blocks.push(section(`*Evidence*\n${evidence.join("\n")}${more}`));
    }
    const [now] = cause.remediation;
    if (now !== undefined) blocks.push(section(`*Do now*\n${codeBlock(now)}`));
  }
  const context: string[] = [];
  const others = a.causes.slice(1, 1 + OTHER_CAUSES).map((c) => `${safeMrkdwn(c.title, 150)} (${formatConfidence(c.confidence)})`);
  if (others.length > 0) {
    const more = a.causes.length - 1 > OTHER_CAUSES ? `, and ${a.causes.length - 1 - OTHER_CAUSES} more` : "";
    context.push(`Also considered: ${others.join(", ")}${more}`);
  }
  const failed = a.steps.filter((s) => s.status === "failed" || s.status === "timeout").length;
  const cluster = a.cluster !== undefined ? ` on cluster *${safeMrkdwn(a.cluster, 200)}*` : "";
  context.push(
    `Playbook ${safeMrkdwn(a.playbook ?? "", 200)}${cluster}: ${a.steps.length} steps${failed > 0 ? `, ${failed} failed or timed out` : ""}`,
  );
  blocks.push({ type: "context", elements: context.map((t) => mrkdwn(fitted(t, CONTEXT_TEXT))) });
  const buttons = linkButtons(a, index);
  if (buttons !== undefined) blocks.push(buttons);
  return blocks;
}

function undiagnosedAlertBlocks(a: AlertDiagnosis, index: number): SlackBlock[] {
  const blocks: SlackBlock[] = [section(alertHeading(a))];
  const summary = a.alert.annotations.summary ?? a.alert.annotations.description;
  if (summary !== undefined && summary.trim() !== "") blocks.push(section(safeMrkdwn(summary, CAUSE_SUMMARY)));
  const labels = Object.entries(a.alert.labels).filter(([name]) => name !== "alertname");
  if (labels.length > 0) {
    const shown = labels.slice(0, SLACK_LIMITS.fields);
    const fields = shown.map(([name, value]) => mrkdwn(`*${safeMrkdwn(name, 100)}*\n${safeMrkdwn(value, 300)}`));
    blocks.push({ type: "section", fields });
  }
  blocks.push({ type: "context", elements: [mrkdwn(escapeMrkdwn(a.note ?? "No playbook covers this alert; forwarded as received."))] });
  const buttons = linkButtons(a, index);
  if (buttons !== undefined) blocks.push(buttons);
  return blocks;
}

function textOf(t: SlackTextObject | undefined): number {
  return t === undefined ? 0 : t.text.length;
}

/** The characters a block puts on screen, for the cumulative budget. */
function blockTextLength(block: SlackBlock): number {
  switch (block.type) {
    case "header":
      return textOf(block.text);
    case "section":
      return textOf(block.text) + (block.fields ?? []).reduce((n, f) => n + textOf(f), 0);
    case "context":
      return block.elements.reduce((n, e) => n + textOf(e), 0);
    case "actions":
      return block.elements.reduce((n, e) => n + textOf(e.text), 0);
    case "divider":
      return 0;
  }
}

export function textLength(blocks: SlackBlock[]): number {
  return blocks.reduce((n, b) => n + blockTextLength(b), 0);
}

/**
 * Adds one group of blocks per alert while both the block count and the text budget allow,
 * keeping one block free for the "more alerts" note. The first alert always fits: its blocks are bounded by construction.
 */
function alertGroups(d: Diagnosis, topBlocks: SlackBlock[], render: (a: AlertDiagnosis, i: number) => SlackBlock[]): SlackBlock[] {
  const blocks: SlackBlock[] = [];
  let textUsed = textLength(topBlocks);
  let shown = 0;
  for (const [i, a] of d.alerts.entries()) {
    const group = render(a, i);
    const withDivider: SlackBlock[] = shown > 0 ? [{ type: "divider" }, ...group] : group;
    const groupText = textLength(withDivider);
    const fitsBlocks = topBlocks.length + blocks.length + withDivider.length + 1 <= SLACK_LIMITS.blocksPerMessage;
    const fitsText = textUsed + groupText <= TOTAL_TEXT_BUDGET;
    if (shown > 0 && (!fitsBlocks || !fitsText)) break;
    blocks.push(...withDivider);
    textUsed += groupText;
    shown += 1;
  }
  const hidden = totalAlertCount(d) - shown;
  if (hidden > 0) {
    blocks.push({
      type: "context",
      elements: [mrkdwn(`${ELLIPSIS} and ${hidden} more alert${hidden === 1 ? "" : "s"} not shown (truncated); see the report.`)],
    });
  }
  return blocks;
}

function groupContext(d: Diagnosis): SlackContextBlock {
  const elements: string[] = [];
  const common = Object.entries(d.commonLabels).filter(([name]) => ["cluster", "namespace", "severity"].includes(name));
  for (const [name, value] of common) elements.push(`${name}: *${safeMrkdwn(value, 200)}*`);
  elements.push(`receiver: ${safeMrkdwn(d.receiver, 200)}`);
  if (d.alerts.some((a) => a.partial)) elements.push("⚠️ *PARTIAL* diagnosis");
  return { type: "context", elements: elements.slice(0, SLACK_LIMITS.contextElements).map((t) => mrkdwn(t)) };
}

function fallbackText(d: Diagnosis): string {
  const key = severityKey(d);
  const title = `${SEVERITY_EMOJI[key]} ${d.status === "resolved" ? "Resolved" : "Firing"}: ${groupTitle(d)}`;
  const lead = leadingAlert(d);
  const h = lead !== undefined && d.status !== "resolved" ? headline(lead) : undefined;
  const where = lead !== undefined ? whereLabels(lead.alert).map(([, v]) => v) : [];
  const parts = [title];
  if (where.length > 0) parts.push(`on ${where.join("/")}`);
  if (h !== undefined)
    parts.push(`— ${h.label === "Probable cause" ? "" : `${h.label}: `}${h.text}${h.confidence !== undefined ? ` (${h.confidence})` : ""}`);
  return safeMrkdwn(parts.join(" "), FALLBACK_TEXT);
}

function resolvedAttachmentBlocks(d: Diagnosis, quote: string | undefined): SlackBlock[] {
  const lines = d.alerts.slice(0, RESOLVED_LINES).map((a) => {
    const where = whereMrkdwn(a);
    const ended = a.alert.endsAt.startsWith("0001-") ? "" : `, resolved at ${safeMrkdwn(a.alert.endsAt, 40)}`;
    return `✅ *${safeMrkdwn(alertName(a.alert), 200)}*${where !== "" ? ` (${where})` : ""}: firing since ${safeMrkdwn(a.alert.startsAt, 40)}${ended}`;
  });
  const hidden = totalAlertCount(d) - Math.min(d.alerts.length, RESOLVED_LINES);
  if (hidden > 0) lines.push(`${ELLIPSIS} and ${hidden} more (truncated)`);
  const blocks: SlackBlock[] = [section(lines.join("\n"))];
  if (quote !== undefined) blocks.push(section(`> Diagnosed while firing: ${safeMrkdwn(quote, 2000)}`));
  const lead = leadingAlert(d);
  const report = httpUrl(lead?.links.report);
  if (report !== undefined && report.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({
      type: "actions",
      elements: [
        { type: "button", text: { type: "plain_text", text: LINK_TEXT.report, emoji: false }, url: report, action_id: "link-report" },
      ],
    });
  }
  return blocks;
}

/** The storm line, with a link to the storm's page when there is one (an http(s) URL Slack can show whole). */
function stormSection(storm: StormMembership): SlackSectionBlock {
  const url = httpUrl(storm.link);
  const link = url !== undefined && url.length <= STORM_LINK_URL ? ` <${escapeMrkdwn(url).replace(/\|/g, "%7C")}|see the storm>` : "";
  return section(`🌩️ ${safeMrkdwn(stormLine(storm), CAUSE_SUMMARY)}${link}`);
}

/**
 * The whole message. A resolved group gets a short note: a webhook message cannot be edited later, so it is a new
 * post, quoting what was diagnosed while it fired when the sink remembers it.
 */
export function renderSlackMessage(d: Diagnosis, options: { quote?: string } = {}): SlackMessage {
  const color = SEVERITY_COLOUR[severityKey(d)];
  const blocks: SlackBlock[] = [header(d), groupContext(d)];
  if (d.storm !== undefined) blocks.push(stormSection(d.storm));
  const attachmentBlocks =
    d.status === "resolved"
      ? resolvedAttachmentBlocks(d, options.quote)
      : alertGroups(d, blocks, (a, i) => (a.playbook === null ? undiagnosedAlertBlocks(a, i) : diagnosedAlertBlocks(a, i)));
  return { text: fallbackText(d), blocks, attachments: [{ color, blocks: attachmentBlocks }] };
}
