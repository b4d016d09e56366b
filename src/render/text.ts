// Plain-text view of a Diagnosis for a terminal or a log file, and a shorter note for incident timelines.
import type { AlertDiagnosis, Cause, Diagnosis, StepRecord } from "../model/diagnosis.ts";
import {
  alertName,
  formatConfidence,
  groupAlertNames,
  type Headline,
  headline,
  httpUrl,
  LINK_KINDS,
  LINK_TEXT,
  notCheckedLine,
  topCause,
  totalAlertCount,
  whereLabels,
} from "./alert-facts.ts";
import { stormLine } from "./storm-line.ts";

/**
 * Alert data goes straight to a terminal, so control characters are shown, not obeyed:
 * a label value must not be able to clear the screen or recolour what follows.
 */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point here
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Continuation lines of a multi-line value line up under its first line. */
function indented(text: string, indent: string): string {
  return printable(text).replace(/\r?\n/g, `\n${indent}`);
}

function statusWord(a: AlertDiagnosis): string {
  return a.alert.status === "resolved" ? "RESOLVED" : "FIRING";
}

function whereText(a: AlertDiagnosis): string {
  return whereLabels(a.alert)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
}

function headerLine(a: AlertDiagnosis): string {
  const parts = [`[${statusWord(a)}]`, alertName(a.alert)];
  const where = whereText(a);
  if (where !== "") parts.push(`(${where})`);
  if (a.partial) parts.push("PARTIAL");
  return printable(parts.join(" "));
}

function headlineText(h: Headline): string {
  return `${h.label}${h.confidence !== undefined ? ` (${h.confidence})` : ""}: ${indented(h.text, "  ")}`;
}

function causeLines(cause: Cause | undefined, h: Headline): string[] {
  const lines = [headlineText(h)];
  if (cause === undefined) return lines;
  if (cause.evidence.length > 0) {
    lines.push("Evidence:");
    for (const e of cause.evidence) {
      const at = e.at !== undefined ? ` at ${e.at}` : "";
      lines.push(`  - ${indented(e.text, "    ")} [${printable(e.step)}${printable(at)}]`);
    }
  }
  if (cause.remediation.length > 0) {
    lines.push("Remediation:");
    cause.remediation.forEach((step, i) => {
      const label = i === 0 ? "  do now: " : "  then:   ";
      // A multi-line command (a heredoc with a manifest) is printed as it is, unindented, so it can be copied and run.
      if (step.includes("\n")) lines.push(label.trimEnd(), printable(step));
      else lines.push(`${label}${printable(step)}`);
    });
  }
  return lines;
}

function stepsTable(steps: StepRecord[]): string[] {
  const rows = steps.map((s) => ({
    status: s.status,
    duration: `${Math.round(s.durationMs)} ms`,
    id: printable(s.id),
    result: printable(s.error !== undefined ? `error: ${s.error}` : s.summary).replace(/\r?\n/g, " "),
  }));
  const statusWidth = Math.max(6, ...rows.map((r) => r.status.length));
  const durationWidth = Math.max(8, ...rows.map((r) => r.duration.length));
  const idWidth = Math.max(4, ...rows.map((r) => r.id.length));
  const line = (status: string, duration: string, id: string, result: string) =>
    `  ${status.padEnd(statusWidth)}  ${duration.padStart(durationWidth)}  ${id.padEnd(idWidth)}  ${result}`.trimEnd();
  return ["Steps:", line("STATUS", "DURATION", "STEP", "RESULT"), ...rows.map((r) => line(r.status, r.duration, r.id, r.result))];
}

function linkLines(a: AlertDiagnosis): string[] {
  const lines: string[] = [];
  for (const kind of LINK_KINDS) {
    const href = a.links[kind];
    if (href !== undefined && href !== "") lines.push(`  ${LINK_TEXT[kind]}: ${printable(href)}`);
  }
  return lines.length > 0 ? ["Links:", ...lines] : [];
}

function plainAlertLines(a: AlertDiagnosis): string[] {
  const lines = [headerLine(a), printable(a.note ?? "No playbook covers this alert; forwarded as received.")];
  const labels = Object.entries(a.alert.labels);
  if (labels.length > 0) {
    lines.push("Labels:");
    for (const [name, value] of labels) lines.push(`  ${printable(name)}=${indented(value, "    ")}`);
  }
  const annotations = Object.entries(a.alert.annotations);
  if (annotations.length > 0) {
    lines.push("Annotations:");
    for (const [name, value] of annotations) lines.push(`  ${printable(name)}: ${indented(value, "    ")}`);
  }
  lines.push(`Started: ${printable(a.alert.startsAt)}`);
  return [...lines, ...linkLines(a)];
}

function diagnosedAlertLines(a: AlertDiagnosis): string[] {
  const cluster = a.cluster !== undefined ? ` on cluster ${printable(a.cluster)}` : "";
  const lines = [headerLine(a), `Playbook: ${printable(a.playbook ?? "")}${cluster}`];
  if (a.partial && a.verdict !== "could_not_check") {
    lines.push("PARTIAL: some steps failed or timed out; the causes below rest on what did answer.");
  }
  const [first, ...others] = a.causes;
  const h = headline(a);
  if (h !== undefined) lines.push(...causeLines(a.verdict === "could_not_check" ? undefined : first, h));
  const notChecked = notCheckedLine(a);
  if (notChecked !== undefined) lines.push(printable(notChecked));
  if (others.length > 0) {
    lines.push("Other causes considered:");
    for (const c of others) lines.push(`  - ${indented(c.title, "    ")} (${formatConfidence(c.confidence)})`);
  }
  if (a.steps.length > 0) lines.push(...stepsTable(a.steps));
  if (a.logExcerpts.length > 0) {
    lines.push("Log excerpts:");
    for (const x of a.logExcerpts) {
      const where = x.container !== undefined ? `${x.pod}/${x.container}` : x.pod;
      lines.push(`  ${printable(where)} [${printable(x.pattern)}]: ${indented(x.line, "    ")}`);
    }
  }
  return [...lines, ...linkLines(a)];
}

function groupHeadline(d: Diagnosis): string {
  const total = totalAlertCount(d);
  const count = total === 1 ? "1 alert" : `${total} alerts`;
  return printable(`${d.status.toUpperCase()} ${groupAlertNames(d).join(", ")} (${count}, receiver ${d.receiver})`);
}

function stormLines(d: Diagnosis): string[] {
  if (d.storm === undefined) return [];
  const link = httpUrl(d.storm.link);
  return [printable(stormLine(d.storm)), ...(link !== undefined ? [`Storm: ${printable(link)}`] : [])];
}

/** The full diagnosis as plain text: one block per alert, separated by a blank line. */
export function renderText(d: Diagnosis): string {
  const blocks = [[groupHeadline(d), `Group: ${printable(d.groupKey)}`, ...stormLines(d)]];
  for (const a of d.alerts) blocks.push(a.playbook === null ? plainAlertLines(a) : diagnosedAlertLines(a));
  if (d.truncatedAlerts > 0) blocks.push([`${d.truncatedAlerts} more alerts were dropped by Alertmanager (max_alerts).`]);
  return `${blocks.map((lines) => lines.join("\n")).join("\n\n")}\n`;
}

const NOTE_EVIDENCE = 5;

/** A short note for an incident timeline: per alert the top cause, its strongest evidence and the remediation. */
export function renderPlainTextNote(d: Diagnosis): string {
  const blocks = [[groupHeadline(d), ...stormLines(d)]];
  for (const a of d.alerts) {
    const lines = [headerLine(a)];
    const cause = topCause(a);
    const h = headline(a);
    if (a.playbook === null || h === undefined) {
      const summary = a.alert.annotations.summary ?? a.alert.annotations.description;
      if (summary !== undefined) lines.push(indented(summary, "  "));
    } else {
      lines.push(headlineText(h));
      const notChecked = notCheckedLine(a);
      if (notChecked !== undefined) lines.push(printable(notChecked));
      if (cause !== undefined && a.verdict !== "could_not_check") {
        for (const e of cause.evidence.slice(0, NOTE_EVIDENCE)) lines.push(`  - ${indented(e.text, "    ")}`);
        const [now, ...then] = cause.remediation;
        if (now !== undefined) lines.push(`Do now: ${indented(now, "  ")}`);
        for (const step of then) lines.push(`Then: ${indented(step, "  ")}`);
      }
    }
    if (a.links.report !== undefined) lines.push(`Report: ${printable(a.links.report)}`);
    blocks.push(lines);
  }
  return blocks.map((lines) => lines.join("\n")).join("\n\n");
}
