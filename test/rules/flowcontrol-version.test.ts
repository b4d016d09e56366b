// A cluster before Kubernetes 1.29 serves API Priority and Fairness as flowcontrol.apiserver.k8s.io/v1beta3, not v1:
// the playbooks read FlowSchemas in the version the API server prefers (a bare group, resolved by discovery) and the
// throttle they offer is written in that version, so `kubectl apply` takes it.
import { describe, expect, it } from "vitest";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { atTime } from "../../src/engine/expressions.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import type { AlertDiagnosis } from "../../src/model/diagnosis.ts";
import { caseTime, loadTestFiles, payloadFor, prepareCase } from "../../testkit/run-playbook-tests.ts";
import { runLimitsFrom } from "../../src/engine/run-limits.ts";

const LIMITS = runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 });
const BEFORE_1_29 = { "flowcontrol.apiserver.k8s.io": ["v1beta3"] };
const playbooks = loadPlaybooks("rules");

async function diagnoseCase(playbookName: string, caseName: string, groupVersions?: Record<string, string[]>): Promise<AlertDiagnosis> {
  const loaded = loadTestFiles("rules/tests", playbooks).find(
    (l) => l.playbook.name === playbookName && l.spec.cases.some((c) => c.name === caseName),
  );
  const testCase = loaded?.spec.cases.find((c) => c.name === caseName);
  if (!loaded || !testCase) throw new Error(`no case "${caseName}" for ${playbookName}`);
  const at = caseTime(loaded.spec, testCase);
  const prepared = await prepareCase(loaded.playbook, loaded.spec, testCase, "alert-enricher/test", { at, groupVersions });
  try {
    const diagnosis = await atTime(at, () =>
      diagnose("test", payloadFor(prepared.alert), {
        playbooks: [loaded.playbook],
        sources: prepared.sources,
        limits: LIMITS,
        maxPlaybookRuns: 1,
      }),
    );
    return diagnosis.alerts[0] as AlertDiagnosis;
  } finally {
    await prepared.close();
  }
}

describe("flowcontrol.apiserver.k8s.io served only as v1beta3", () => {
  it("reads the FlowSchemas and writes the throttle's manifests in v1beta3", async () => {
    const result = await diagnoseCase(
      "KubeAPIErrorBudgetBurn",
      "names and throttles the ServiceAccount whose LIST calls are slow when etcd is not overloaded",
      BEFORE_1_29,
    );
    const flowSchemas = result.steps.find((s) => s.id === "apf_flow_schemas");
    expect(flowSchemas).toMatchObject({ status: "ok" });
    expect(flowSchemas?.request).toContain("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas");
    expect(result.partial).toBe(false);
    expect(result.causes[0]?.id).toBe("offending_client");
    const throttle = result.causes[0]?.remediation.find((r) => r.includes("kind: FlowSchema")) ?? "";
    expect(throttle).toContain("apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: PriorityLevelConfiguration");
    expect(throttle).toContain("apiVersion: flowcontrol.apiserver.k8s.io/v1beta3\nkind: FlowSchema");
    expect(throttle).not.toContain("flowcontrol.apiserver.k8s.io/v1\n");
  });

  it("still writes v1 where the cluster serves v1", async () => {
    const result = await diagnoseCase(
      "KubeAPIErrorBudgetBurn",
      "names and throttles the ServiceAccount whose LIST calls are slow when etcd is not overloaded",
    );
    const throttle = result.causes[0]?.remediation.find((r) => r.includes("kind: FlowSchema")) ?? "";
    expect(throttle).toContain("apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema");
  });

  it("reads KubeClientErrors' FlowSchemas, not a 404, and the diagnosis is not partial", async () => {
    const loaded = loadTestFiles("rules/tests", playbooks).find((l) => l.playbook.name === "KubeClientErrors");
    const caseName = loaded?.spec.cases[0]?.name ?? "";
    const result = await diagnoseCase("KubeClientErrors", caseName, BEFORE_1_29);
    const flowSchemas = result.steps.find((s) => s.id === "flow_schemas");
    expect(flowSchemas).toMatchObject({ status: "ok" });
    expect(flowSchemas?.request).toContain("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas");
    expect(result.partial).toBe(false);
  });
});
