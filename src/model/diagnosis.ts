// What a playbook run produces: one Diagnosis per notification, one AlertDiagnosis per alert in it.
// Everything downstream (render, sinks, store) works from these types only.
import type { Alert, AlertStatus } from "./alertmanager.ts";

export type StepKind = "kubernetes" | "logs" | "prometheus" | "audit";
export type StepStatus = "ok" | "failed" | "timeout" | "skipped";
/**
 * What a step tells the diagnosis: it `read` something, found nothing there (`absent`), was `not_needed` (its
 * condition was false), or left it `unknown` (failed, timed out, not called, or needed what could not be read).
 */
export type StepOutcomeKind = "read" | "absent" | "not_needed" | "unknown";

/** One step of a playbook as it ran: what it asked, how it went. */
export interface StepRecord {
  id: string;
  title: string;
  kind: StepKind;
  status: StepStatus;
  /** Absent in diagnoses stored before three-valued evidence. */
  outcome?: StepOutcomeKind;
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
  /** 0..1, computed from the evidence (rules/README.md, "Confidence"). */
  confidence: number;
  /** The checks behind the confidence: the symptom, the cause's condition, its explanations; made = could be read. */
  checks?: { made: number; total: number };
  /** Ids of the other holding causes this one is the deeper reason for. */
  explains?: string[];
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

/**
 * What a playbook run concluded: a `cause` holds; no cause holds but some could not be checked (`could_not_check`);
 * or every cause was checked and none holds (`no_cause`).
 */
export type Verdict = "cause" | "could_not_check" | "no_cause";

/** A cause nobody could decide, and the read that stopped it. */
export interface NotChecked {
  id: string;
  title: string;
  reason: string;
  /** This installation cannot make the check at all (no audit log configured), rather than a read failing now. */
  unavailable?: boolean;
}

export interface AlertDiagnosis {
  alert: Alert;
  /** The playbook that ran, or null when none ran (the alert is forwarded with plain formatting). */
  playbook: string | null;
  /** The cluster whose API server and Prometheus the playbook read, when the service knows its clusters by name. */
  cluster?: string;
  /** Why no playbook ran, when none did: none covers the alert, it resolved, the run limit, repeated failures. */
  note?: string;
  /**
   * Holding causes, deepest first then strongest; the "no correlation found" branch when every cause was checked and
   * none holds; empty when none holds and some could not be checked.
   */
  causes: Cause[];
  /** Absent for alerts no playbook ran on, and in diagnoses stored before it existed. */
  verdict?: Verdict;
  /** Causes that could not be checked, with why. */
  notChecked?: NotChecked[];
  /** The reads that failed, grouped: "the API server did not answer 8 reads in 5 s". */
  couldNotRead?: string[];
  /** Titles of the causes the evidence ruled out. */
  ruledOut?: string[];
  /** What was seen of the causes that could not be checked: facts a person can still act on. */
  stillKnown?: string[];
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
  /** Set when the group arrived in a storm (README, "Storms"): what the other groups of the cluster say. */
  storm?: StormMembership;
}

/** A group's diagnosis in one line, as the storm it belongs to groups it: its verdict and headline cause. */
export interface GroupVerdict {
  /** "none" when no playbook ran on any of its alerts. */
  verdict: Verdict | "none";
  /** The headline cause (the first holding cause of the first alert with one), when the verdict is "cause". */
  cause?: { id: string; title: string; summary: string };
  /** What the group is about, for a list of groups: its job, service, container, pod or alert name. */
  name: string;
}

/** The storm a group is part of, as seen from the store when the group was diagnosed. */
export interface StormMembership {
  /** The storm's id in the store (store/store.ts joinStorm): the sinks tell the storm's story under it. */
  id: string;
  /** Its first group's first firing notification. */
  openedAt: string;
  /** Distinct firing alert groups of the cluster in the window, this one included. */
  groups: number;
  /** The cluster label's value; "" when the alerts carry none (a single cluster). */
  cluster: string;
  windowSeconds: number;
  /** The cause on a shared component most of the diagnosed groups point to, when there is one. */
  sharedCause?: SharedCause;
  /** Groups of the storm with this group's verdict (same headline cause, or the same absence of one), this one included. */
  sameVerdict: number;
  /** The storm's page (/reports/storms/:id with its signed token), when report pages are served (PUBLIC_URL). */
  link?: string;
}

export interface SharedCause {
  /** The shared component, as a phrase: "the API server", "etcd", "an admission webhook". */
  component: string;
  /** The cause most of those groups name, by its playbook id and title. */
  causeId: string;
  title: string;
  /** How many groups point to the component. */
  groups: number;
}
