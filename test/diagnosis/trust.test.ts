// A diagnosis is never more certain than its evidence: symptoms gate causes, a failed read is "could not check",
// confidence follows the evidence seen, and a deeper cause leads the one it explains.
import { describe, expect, it } from "vitest";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { computeConfidence } from "../../src/diagnosis/rank-causes.ts";
import { type CompiledPlaybook, loadPlaybookFile } from "../../src/engine/load-playbooks.ts";
import type { RunLimits, StepSources } from "../../src/engine/run-playbook.ts";
import type { AlertDiagnosis } from "../../src/model/diagnosis.ts";
import { renderPagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { renderSlackMessage } from "../../src/render/slack-blocks.ts";
import { renderText } from "../../src/render/text.ts";
import { SourceError } from "../../src/sources/source.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const LIMITS: RunLimits = { stepTimeoutMs: 300, deadlineMs: 2000, listLimit: 100, logTailLines: 100, logLimitBytes: 10_000 };

function playbook(yaml: string): CompiledPlaybook {
  const result = loadPlaybookFile("test.yaml", yaml);
  if ("problems" in result) throw new Error(result.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`).join("\n"));
  return result.playbook;
}

/** A client playbook in miniature: the 401 share is the symptom, a deleted ServiceAccount an explanation. */
const CLIENT = playbook(`
alert: KubeClientErrors
title: t
runbook: r
facts:
  share_401: 'steps.codes.series.exists(s, s.labels.code == "401") ? steps.codes.series.filter(s, s.labels.code == "401")[0].value : 0.0'
steps:
  - { id: codes, title: codes, prometheus: { query: 'sum by (code) (rate(rest_client_requests_total[5m]))' } }
  - { id: account, title: account, kubernetes: { apiVersion: v1, kind: ServiceAccount, namespace: monitoring, name: ksm } }
  - { id: server_errors, title: server errors, prometheus: { query: 'sum(rate(apiserver_request_total{code=~"5.."}[5m]))' } }
  - { id: etcd_size, title: etcd size, prometheus: { query: 'max(etcd_mvcc_db_total_size_in_bytes)' } }
causes:
  - id: authentication_failure
    title: Client credentials rejected (401)
    confidence: 0.9
    symptom:
      when: facts.share_401 >= 0.005
      text: "{{ percent(facts.share_401) }} of the client's requests are answered 401"
      step: codes
    summary: authentication fails on {{ percent(facts.share_401) }} of its requests
    evidence:
      - step: account
        when: steps.account.found == false
        text: ServiceAccount monitoring/ksm does not exist
    remediation:
      - kubectl -n monitoring create serviceaccount ksm
  - id: apiserver_unhealthy
    title: The API server is failing
    confidence: 0.85
    symptom:
      when: steps.server_errors.value != null && steps.server_errors.value > 0.01
      text: the API server answers 5xx
    summary: the API server answers 5xx
    remediation: [kubectl get --raw=/readyz]
  - id: etcd_full
    title: etcd database near its quota
    confidence: 0.8
    explains: [apiserver_unhealthy]
    symptom:
      when: steps.server_errors.value != null && steps.server_errors.value > 0.01
      text: the API server answers 5xx
    when: steps.etcd_size.value != null && steps.etcd_size.value > 1.8e9
    summary: etcd's database is {{ fixed(steps.etcd_size.value / 1e9, 1) }} GB
    remediation: [etcdctl defrag]
noCorrelation:
  title: No correlation found
  summary: None of the runbook's causes matched.
  remediation: [Restart the client]
`);

const alert = () => kubeClientErrorsPayload({ alertname: "KubeClientErrors", job: "kube-state-metrics", instance: "10.0.0.1:8443" });

interface World {
  codes?: Array<{ code: string; value: number }>;
  accountExists?: boolean;
  serverErrors?: number | null;
  etcdBytes?: number | null;
  prometheusDown?: boolean;
  apiServerDown?: boolean;
}

function sources(world: World): StepSources {
  return {
    prometheus: async (request) => {
      if (world.prometheusDown)
        throw new SourceError("Prometheus could not be reached: connect ECONNREFUSED 127.0.0.1:9", { backendTrouble: true });
      if (request.query.includes("rest_client_requests_total")) {
        const series = (world.codes ?? []).map((c) => ({ labels: { code: c.code }, value: c.value }));
        return { data: { series, count: series.length, value: null }, request: request.query, summary: `${series.length} series` };
      }
      const value = request.query.includes("etcd") ? (world.etcdBytes ?? null) : (world.serverErrors ?? null);
      const series = value === null ? [] : [{ labels: {}, value }];
      return { data: { series, count: series.length, value }, request: request.query, summary: "1 value" };
    },
    kubernetes: async () => {
      if (world.apiServerDown) throw new SourceError("API server could not be reached: connect ECONNREFUSED", { backendTrouble: true });
      const found = world.accountExists ?? true;
      return { data: { found, object: found ? { metadata: { name: "ksm" } } : null, items: [], count: 0 }, request: "GET", summary: "" };
    },
    logs: async () => ({ data: { lines: 0, matches: {}, excerpts: [] }, request: "", summary: "" }),
  };
}

async function run(world: World): Promise<AlertDiagnosis> {
  const d = await diagnose("n1", alert(), {
    playbooks: [CLIENT],
    sources: sources(world),
    limits: LIMITS,
    maxPlaybookRuns: 5,
    charts: false,
  });
  return d.alerts[0] as AlertDiagnosis;
}

describe("symptoms gate causes", () => {
  it("does not blame authentication when the ServiceAccount is gone but the client's requests are not answered 401", async () => {
    const a = await run({ codes: [{ code: "404", value: 0.02 }], accountExists: false });
    expect(a.causes.map((c) => c.id)).not.toContain("authentication_failure");
    expect(a.ruledOut).toContain("Client credentials rejected (401)");
    expect(a.verdict).toBe("no_cause");
  });

  it("blames authentication when the 401 share is there, the deleted ServiceAccount raising confidence", async () => {
    const withAccount = await run({ codes: [{ code: "401", value: 0.42 }], accountExists: true });
    const without = await run({ codes: [{ code: "401", value: 0.42 }], accountExists: false });
    expect(withAccount.causes[0]?.id).toBe("authentication_failure");
    expect(without.causes[0]?.id).toBe("authentication_failure");
    expect(without.causes[0]?.confidence).toBeGreaterThan(withAccount.causes[0]?.confidence ?? 1);
    expect(without.causes[0]?.summary).toBe("authentication fails on 42% of its requests");
    expect(without.causes[0]?.evidence.map((e) => e.text)).toEqual([
      "42% of the client's requests are answered 401",
      "ServiceAccount monitoring/ksm does not exist",
    ]);
  });
});

describe("a read that failed is could not check, not nothing there", () => {
  it("leads with what could not be read when Prometheus refuses, never with no correlation or its remediation", async () => {
    const a = await run({ prometheusDown: true, accountExists: false });
    expect(a.verdict).toBe("could_not_check");
    expect(a.causes).toEqual([]);
    expect(a.couldNotRead).toEqual(["Prometheus could not be reached: connect ECONNREFUSED 127.0.0.1:9 (3 queries)"]);
    expect(a.notChecked?.map((n) => n.id).sort()).toEqual(["apiserver_unhealthy", "authentication_failure", "etcd_full"]);
    // What was read is still worth saying: the explanation seen, though no cause can be named without its symptom.
    expect(a.stillKnown).toEqual(["ServiceAccount monitoring/ksm does not exist"]);
    for (const text of [
      renderText({ ...(await diagnoseOnce({ prometheusDown: true })) }),
      JSON.stringify(renderSlackMessage(await diagnoseOnce({ prometheusDown: true }))),
      JSON.stringify(renderPagerDutyEvent(await diagnoseOnce({ prometheusDown: true }), "R".repeat(32))),
    ]) {
      expect(text).toContain("Could not check");
      expect(text).toContain("Prometheus could not be reached");
      expect(text).not.toContain("None of the runbook's causes matched");
      expect(text).not.toContain("Restart the client");
      expect(text).not.toContain("create serviceaccount");
    }
  });

  it("still names a cause whose own evidence was read, and says which checks it could not make", async () => {
    const a = await run({ codes: [{ code: "401", value: 0.42 }], apiServerDown: true });
    expect(a.verdict).toBe("cause");
    expect(a.causes[0]?.id).toBe("authentication_failure");
    expect(a.causes[0]?.checks).toEqual({ made: 1, total: 2 });
    const text = renderText(await diagnoseOnce({ codes: [{ code: "401", value: 0.42 }], apiServerDown: true }));
    expect(text).toContain("1 of 2 checks made");
  });

  it("says no cause matched only when every deciding read succeeded", async () => {
    const a = await run({ codes: [{ code: "404", value: 0.02 }], serverErrors: 0, etcdBytes: 1e8 });
    expect(a.verdict).toBe("no_cause");
    expect(a.causes[0]?.id).toBe("no_correlation");
    expect(a.notChecked ?? []).toEqual([]);
  });
});

describe("root over symptom", () => {
  it("leads with etcd filling up over the 5xx it causes, and shows the chain in one line", async () => {
    const a = await run({ codes: [{ code: "503", value: 0.2 }], serverErrors: 0.2, etcdBytes: 2.0e9 });
    expect(a.causes.map((c) => c.id)).toEqual(["etcd_full", "apiserver_unhealthy"]);
    expect(a.causes[0]?.explains).toEqual(["apiserver_unhealthy"]);
    const text = renderText(await diagnoseOnce({ codes: [{ code: "503", value: 0.2 }], serverErrors: 0.2, etcdBytes: 2.0e9 }));
    expect(text).toContain("Probable cause (");
    expect(text).toContain("etcd database near its quota → The API server is failing. etcd's database is 2 GB");
  });

  it("names the API server alone when etcd is fine", async () => {
    const a = await run({ codes: [{ code: "503", value: 0.2 }], serverErrors: 0.2, etcdBytes: 1e8 });
    expect(a.causes.map((c) => c.id)).toEqual(["apiserver_unhealthy"]);
  });
});

describe("confidence is computed from evidence", () => {
  it("is the ceiling only with a full-strength symptom, every explanation seen and every check made", () => {
    const full = computeConfidence({ ceiling: 0.9, strength: 1, explanations: 2, seen: 2, unchecked: 0, checks: 3 });
    expect(full).toBe(0.9);
    const unseen = computeConfidence({ ceiling: 0.9, strength: 1, explanations: 2, seen: 0, unchecked: 0, checks: 3 });
    const unchecked = computeConfidence({ ceiling: 0.9, strength: 1, explanations: 2, seen: 1, unchecked: 1, checks: 3 });
    const weak = computeConfidence({ ceiling: 0.9, strength: 0.1, explanations: 2, seen: 2, unchecked: 0, checks: 3 });
    expect(unseen).toBeLessThan(full);
    expect(unchecked).toBeLessThan(full);
    expect(weak).toBeLessThan(full);
    expect(unseen).toBeGreaterThan(0);
  });
});

describe("facts", () => {
  it("are computed once from known steps and become unknown, not zero, when what they read failed", async () => {
    const a = await run({ prometheusDown: true });
    expect(a.notChecked?.find((n) => n.id === "authentication_failure")?.reason).toContain("Prometheus could not be reached");
  });

  it("refuse a reference to a fact that does not exist, at load time", () => {
    const result = loadPlaybookFile(
      "bad.yaml",
      `
alert: A
title: t
runbook: r
facts: { x: "1 + 1" }
steps: [{ id: q, title: q, prometheus: { query: up } }]
causes:
  - { id: c, title: c, confidence: 0.5, summary: s, symptom: { when: "facts.y > 1", text: t } }
noCorrelation: { title: n, summary: n }
`,
    );
    expect("problems" in result && result.problems.map((p) => p.message)).toEqual(["reads facts.y, which is not a fact of this playbook"]);
  });
});

async function diagnoseOnce(world: World) {
  return diagnose("n1", alert(), { playbooks: [CLIENT], sources: sources(world), limits: LIMITS, maxPlaybookRuns: 5, charts: false });
}
