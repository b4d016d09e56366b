// What a playbook run produces: one Diagnosis per notification, one AlertDiagnosis per alert in it.
// Everything downstream (render, sinks, store) works from these types only.
import type { Alert, AlertStatus } from "./alertmanager.ts";

export type StepKind = "kubernetes" | "logs" | "prometheus" | "audit";
export type StepStatus = "ok" | "failed" | "timeout" | "skipped";

/** One step of a playbook as it ran: what it asked, how it went. */
export interface StepRecord {
  id: string;
  title: string;
  kind: StepKind;
  status: StepStatus;
  durationMs: number;
  /** The call it made, as a person would write it: `GET /api/v1/namespaces/kube-system/pods?labelSelector=…` or the PromQL. */
  request: string;
  /** One line on the result: "3 pods", "2 series", "500 lines, 12 matching". */
  summary: string;
  /** Why it failed, in words a person can act on: "API server did not answer a Pod list in 5 s". */
  error?: string;
  /** The runbook step this implements (e.g. "Playbook 3"). */
  runbookRef?: string;
  /** What it read, as a small table for the report: the objects listed, the series returned (at most 20 rows). */
  table?: ResultTable;
}

export interface ResultTable {
  columns: string[];
  rows: string[][];
  /** Rows left out beyond the first 20. */
  more: number;
}

/** A fact behind a cause: which step, which object, which line or value, when. */
export interface Evidence {
  step: string;
  text: string;
  /** ISO timestamp of the fact, where it has one (event time, sample time). */
  at?: string;
}

export interface Cause {
  id: string;
  title: string;
  /** The cause in one sentence, names filled in. */
  summary: string;
  /** 0..1 */
  confidence: number;
  evidence: Evidence[];
  /** Concrete commands or actions, real names filled in; the first is the one to do now. */
  remediation: string[];
  runbookRef?: string;
}

/** A log line that matched a pattern, already redacted. */
export interface LogExcerpt {
  step: string;
  pod: string;
  container?: string;
  /** The pattern's name in the playbook. */
  pattern: string;
  /** The pattern itself (a case-insensitive regex), so the report can mark what matched. */
  regex?: string;
  line: string;
}

export type ChartComparison = ">" | "<" | ">=" | "<=" | "==" | "!=";

/** What the chart of an alert shows: the left side of its comparison over time, the threshold, when it started firing. */
/** The alert's own expression over the last hour, with its threshold: what the chart shows. */
export interface AlertChart {
  /** The left side of the alert's comparison, as written in the rule. */
  query: string;
  /** The right side, when it is a constant. */
  threshold?: number;
  comparison?: ChartComparison;
  /** When the alert started firing (Alertmanager's startsAt). */
  startsAt: string;
  /** The queried window, so an axis can show the whole hour even where the series have gaps. */
  from?: string;
  to?: string;
  series: Array<{ labels: Record<string, string>; points: Array<{ t: string; v: number }> }>;
}

export interface AlertLinks {
  runbook?: string;
  graph?: string;
  silence?: string;
  report?: string;
}

export interface AlertDiagnosis {
  alert: Alert;
  /** The playbook that ran, or null when none ran (the alert is forwarded with plain formatting). */
  playbook: string | null;
  /** Why no playbook ran, when none did: none covers the alert, it resolved, the run limit, repeated failures. */
  note?: string;
  /** Ranked, strongest first. A playbook always yields at least one (its "no correlation found" branch). */
  causes: Cause[];
  steps: StepRecord[];
  logExcerpts: LogExcerpt[];
  /** True when a step failed or timed out, or the playbook deadline cut the run short. */
  partial: boolean;
  links: AlertLinks;
  /** The alert's own expression over the last hour, when it could be charted. */
  chart?: AlertChart;
  startedAt: string;
  finishedAt: string;
}

export interface Diagnosis {
  notificationId: string;
  groupKey: string;
  receiver: string;
  status: AlertStatus;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  externalURL: string;
  truncatedAlerts: number;
  alerts: AlertDiagnosis[];
  createdAt: string;
}
