import { describe, expect, it } from "vitest";
import { KnownAlertRules, readAlertRulesFile } from "../../src/diagnosis/alert-rules.ts";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import type { StepSources } from "../../src/engine/run-playbook.ts";
import type { PromQuery } from "../../src/sources/prometheus.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const playbooks = loadPlaybooks("rules");
const limits = { stepTimeoutMs: 1000, deadlineMs: 5000, listLimit: 100, logTailLines: 100, logLimitBytes: 10_000 };

function countingSources(): { sources: StepSources; reads: () => number } {
  let reads = 0;
  const empty = async () => {
    reads++;
    return { data: {}, request: "", summary: "" };
  };
  return { sources: { kubernetes: empty, logs: empty, prometheus: empty }, reads: () => reads };
}

describe("diagnose", () => {
  it("does not query a cluster for a resolved alert, and says why no playbook ran", async () => {
    const { sources, reads } = countingSources();
    const firing = kubeClientErrorsPayload();
    const resolved = {
      ...firing,
      status: "resolved" as const,
      alerts: firing.alerts.map((a) => ({ ...a, status: "resolved" as const, endsAt: new Date().toISOString() })),
    };
    const diagnosis = await diagnose("n1", resolved, { playbooks, sources, limits, maxPlaybookRuns: 10 });
    expect(reads()).toBe(0);
    expect(diagnosis.alerts[0]).toMatchObject({
      playbook: null,
      causes: [],
      note: "Resolved; the KubeClientErrors playbook runs only while an alert fires.",
    });
  });

  it("runs at most MAX_PLAYBOOK_RUNS_PER_NOTIFICATION playbooks for a huge group and forwards the rest plainly", async () => {
    const { sources } = countingSources();
    const one = kubeClientErrorsPayload();
    const alerts = Array.from({ length: 5 }, (_, i) => ({
      ...one.alerts[0],
      fingerprint: `f${i}`,
      labels: { ...one.alerts[0]?.labels, instance: `10.0.0.${i}:443` },
    }));
    const payload = { ...one, alerts: alerts as typeof one.alerts };
    const diagnosis = await diagnose("n2", payload, { playbooks, sources, limits, maxPlaybookRuns: 2 });
    expect(diagnosis.alerts.filter((a) => a.playbook === "KubeClientErrors")).toHaveLength(2);
    const skipped = diagnosis.alerts.filter((a) => a.playbook === null);
    expect(skipped).toHaveLength(3);
    expect(skipped[0]?.note).toContain("MAX_PLAYBOOK_RUNS_PER_NOTIFICATION");
  });

  it("finds a playbook by any of its alert names and builds the silence link from ALERTMANAGER_URL when set", async () => {
    const { sources } = countingSources();
    const payload = kubeClientErrorsPayload({ alertname: "KubernetesApiClientErrors" });
    const diagnosis = await diagnose("n3", payload, {
      playbooks,
      sources,
      limits,
      maxPlaybookRuns: 1,
      alertmanagerUrl: "https://am.example.com",
      publicUrl: "https://enricher.example.com/",
    });
    const alert = diagnosis.alerts[0];
    expect(alert?.playbook).toBe("KubernetesApiClientErrors");
    expect(alert?.links.silence).toMatch(
      /^https:\/\/am\.example\.com\/#\/silences\/new\?filter=%7Balertname%3D%22KubernetesApiClientErrors%22/,
    );
    expect(alert?.links.report).toBe("https://enricher.example.com/reports/n3");
  });

  /** Sources that answer nothing and record the chart queries (the step id diagnose gives them). */
  function chartRecordingSources(): { sources: StepSources; chartQueries: PromQuery[] } {
    const chartQueries: PromQuery[] = [];
    const empty = async () => ({ data: {}, request: "", summary: "" });
    const prometheus: StepSources["prometheus"] = async (request, _signal, context) => {
      if (context.stepId === "alert_chart") chartQueries.push(request);
      return { data: { series: [], count: 0 }, request: request.query, summary: "no series" };
    };
    return { sources: { kubernetes: empty, logs: empty, prometheus }, chartQueries };
  }

  it("never sends Prometheus the PromQL of a generatorURL that is not a rule it knows, for any of a notification's alerts", async () => {
    const { sources, chartQueries } = chartRecordingSources();
    const one = kubeClientErrorsPayload();
    const alerts = Array.from({ length: 10 }, (_, i) => ({
      ...one.alerts[0],
      fingerprint: `f${i}`,
      labels: { ...one.alerts[0]?.labels, instance: `10.0.0.${i}:443` },
      generatorURL: `http://prometheus.demo:9090/graph?g0.expr=${encodeURIComponent(`count by (__name__) ({__name__=~".+"}) > ${i}`)}&g0.tab=1`,
    }));
    const diagnosis = await diagnose(
      "n4",
      { ...one, alerts: alerts as typeof one.alerts },
      { playbooks, sources, limits, maxPlaybookRuns: 10 },
    );
    expect(diagnosis.alerts.filter((a) => a.playbook === "KubeClientErrors")).toHaveLength(10);
    expect(chartQueries).toEqual([]);
    expect(diagnosis.alerts.every((a) => a.chart === undefined)).toBe(true);
  });

  it("charts an alert whose generatorURL carries its own shipped rule, and says at debug why the others get no chart", async () => {
    const { sources, chartQueries } = chartRecordingSources();
    const alertRules = new KnownAlertRules(
      readAlertRulesFile(new URL("../../docker/prometheus/alert-enricher-alerts.rules.yml", import.meta.url).pathname),
    );
    // As Prometheus 2.42 prints the shipped KubeClientErrors rule into its alerts.
    const printed =
      '(sum by (cluster, instance, job, namespace) (rate(rest_client_requests_total{code=~"5..",job="apiserver"}[5m])) / sum by (cluster, instance, job, namespace) (rate(rest_client_requests_total{job="apiserver"}[5m]))) > 0.01';
    const one = kubeClientErrorsPayload();
    const alerts = ["up == 0", printed].map((expr, i) => ({
      ...one.alerts[0],
      fingerprint: `f${i}`,
      generatorURL: `http://prometheus.demo:9090/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`,
    }));
    const noChart: string[] = [];
    await diagnose(
      "n5",
      { ...one, alerts: alerts as typeof one.alerts },
      {
        playbooks,
        sources,
        limits,
        maxPlaybookRuns: 10,
        alertRules,
        onNoChart: ({ reason }) => noChart.push(reason),
      },
    );
    expect(chartQueries).toHaveLength(1);
    expect(chartQueries[0]?.query).toContain('sum(rate(rest_client_requests_total{job="apiserver",code=~"5.."}[5m]))');
    expect(noChart).toEqual(["the expression in its generatorURL is not the one of the known KubeClientErrors rule"]);
  });
});
