// Turns one stored notification into one Diagnosis: for each firing alert, the playbook that covers it is run against
// the alert's own cluster and its causes ranked; alerts no playbook covers, resolved alerts, and alerts from a cluster
// this service cannot read are passed on with plain formatting.
import type { CompiledPlaybook } from "../engine/load-playbooks.ts";
import { type RunLimits, runPlaybook, type StepSources } from "../engine/run-playbook.ts";
import type { Alert, AlertmanagerPayload } from "../model/alertmanager.ts";
import type { AlertDiagnosis, Diagnosis } from "../model/diagnosis.ts";
import type { ClusterChoice, ClusterSelection } from "../sources/clusters.ts";
import { redactOutput } from "../sources/redact.ts";
import { fetchAlertChart } from "./alert-chart.ts";
import { KnownAlertRules } from "./alert-rules.ts";
import { alertLinks } from "./links.ts";
import { rankCauses } from "./rank-causes.ts";
import { unreadSummary } from "./unread.ts";

export interface DiagnoseOptions {
  playbooks: CompiledPlaybook[];
  /** One cluster's sources for every alert, or the cluster each alert belongs to (its cluster label). */
  sources: StepSources | ClusterSelection;
  limits: RunLimits;
  alertmanagerUrl?: string;
  publicUrl?: string;
  /** The signed link to the full report; when given it replaces the unsigned PUBLIC_URL one (undefined: no report link). */
  reportLink?: (notificationId: string) => string | undefined;
  /** Playbook runs per notification; further alerts are passed on plainly so a huge group cannot flood the cluster. */
  maxPlaybookRuns: number;
  /** Called after each playbook run, for metrics and logs. */
  onRun?: (event: {
    playbook: string;
    alert: Alert;
    diagnosis: AlertDiagnosis;
    unevaluated: Array<{ cause: string; error: string }>;
  }) => void;
  /** Skip the playbooks: used when a notification has failed too often to be worth another run. */
  plainOnly?: boolean;
  /** Fetch each diagnosed alert's own expression over the last hour for a chart (default true). */
  charts?: boolean;
  /** The alert rules whose expressions may be charted; none when absent, so no alert gets a chart. */
  alertRules?: KnownAlertRules;
  /** Told why an alert got no chart (no known rule, Prometheus failed), for a debug log line. */
  onNoChart?: (event: { alert: Alert; reason: string }) => void;
}

const NO_RULES = new KnownAlertRules([]);

export function findPlaybook(playbooks: CompiledPlaybook[], alertname: string | undefined): CompiledPlaybook | undefined {
  return alertname ? playbooks.find((p) => p.alertNames.includes(alertname)) : undefined;
}

export async function diagnose(notificationId: string, payload: AlertmanagerPayload, options: DiagnoseOptions): Promise<Diagnosis> {
  const { sources } = options;
  const clusterOf: ClusterSelection = typeof sources === "function" ? sources : (): ClusterChoice => ({ sources });
  let runsLeft = options.maxPlaybookRuns;
  const reportUrl = options.reportLink
    ? options.reportLink(notificationId)
    : options.publicUrl
      ? `${options.publicUrl.replace(/\/+$/, "")}/reports/${notificationId}`
      : undefined;
  const alerts = await Promise.all(
    payload.alerts.map(async (alert): Promise<AlertDiagnosis> => {
      const links = alertLinks(alert, { alertmanagerUrl: options.alertmanagerUrl, externalURL: payload.externalURL, reportUrl });
      const playbook = findPlaybook(options.playbooks, alert.labels.alertname);
      const startedAt = new Date().toISOString();
      const plain: AlertDiagnosis = {
        alert,
        playbook: null,
        causes: [],
        steps: [],
        logExcerpts: [],
        partial: false,
        links,
        startedAt,
        finishedAt: startedAt,
      };
      if (!playbook) return { ...plain, note: "No playbook covers this alert; forwarded as received." };
      if (alert.status === "resolved") return { ...plain, note: `Resolved; the ${playbook.name} playbook runs only while an alert fires.` };
      const choice = clusterOf(alert);
      if ("notServed" in choice) return { ...plain, note: choice.notServed };
      const cluster = choice.cluster !== undefined ? { cluster: choice.cluster } : {};
      if (options.plainOnly)
        return { ...plain, note: `The ${playbook.name} playbook failed on this notification several times; forwarded without it.` };
      if (runsLeft <= 0) {
        return {
          ...plain,
          note: `Not diagnosed: this notification already used its ${options.maxPlaybookRuns} playbook runs (MAX_PLAYBOOK_RUNS_PER_NOTIFICATION).`,
        };
      }
      runsLeft--;
      // The alert's own chart is fetched beside the playbook, never after it: it must not lengthen the critical path.
      const chart =
        options.charts === false
          ? Promise.resolve(undefined)
          : fetchAlertChart(
              alert,
              {
                // Label values come from the cluster too: redacted as the playbook's own reads are (run-playbook.ts).
                query: async (request, signal) => redactOutput(await choice.sources.prometheus(request, signal, { stepId: "alert_chart" })),
              },
              {
                rules: options.alertRules ?? NO_RULES,
                onSkip: (reason) => options.onNoChart?.({ alert, reason }),
                onError: (error) => options.onNoChart?.({ alert, reason: error.message }),
              },
            );
      const run = await runPlaybook(playbook, alert, choice.sources, options.limits);
      const ranking = rankCauses(playbook, run.scope, run.unknown);
      const couldNotRead = unreadSummary(run.steps, choice.cluster);
      const result: AlertDiagnosis = {
        alert,
        playbook: playbook.name,
        ...cluster,
        causes: ranking.causes,
        verdict: ranking.verdict,
        ...(ranking.notChecked.length > 0 ? { notChecked: ranking.notChecked } : {}),
        ...(couldNotRead.length > 0 ? { couldNotRead } : {}),
        ...(ranking.ruledOut.length > 0 ? { ruledOut: ranking.ruledOut } : {}),
        ...(ranking.verdict === "could_not_check" && ranking.stillKnown.length > 0 ? { stillKnown: ranking.stillKnown } : {}),
        steps: run.steps,
        logExcerpts: run.logExcerpts,
        partial: run.partial,
        links,
        ...(await chart.then((c) => (c ? { chart: c } : {}))),
        startedAt,
        finishedAt: new Date().toISOString(),
      };
      options.onRun?.({ playbook: playbook.name, alert, diagnosis: result, unevaluated: ranking.unevaluated });
      return result;
    }),
  );
  return {
    notificationId,
    groupKey: payload.groupKey,
    receiver: payload.receiver,
    status: payload.status,
    groupLabels: payload.groupLabels,
    commonLabels: payload.commonLabels,
    externalURL: payload.externalURL,
    truncatedAlerts: payload.truncatedAlerts ?? 0,
    alerts,
    createdAt: new Date().toISOString(),
  };
}
