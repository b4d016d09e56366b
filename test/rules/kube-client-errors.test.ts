// Every diagnosis branch of runbooks/KubeClientErrors.md, reached by a cluster state built for it, through the real
// client-node against the fake API server and real HTTP against the fake Prometheus.
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { createSources } from "../../src/service.ts";
import type { AlertDiagnosis } from "../../src/model/diagnosis.ts";
import type { FakeKubeOptions } from "../../src/playbook-tests/fixture-cluster.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { kubeClientErrorsScenarios, QUERY, type Scenario, scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { runLimitsFrom } from "../../src/engine/run-limits.ts";

const playbooks = loadPlaybooks("rules");
let cluster: DemoCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function diagnoseScenario(
  scenario: Scenario,
  options: { kube?: FakeKubeOptions; prometheus?: { hang?: boolean }; labels?: Record<string, string>; stepTimeoutMs?: number } = {},
): Promise<AlertDiagnosis> {
  cluster = await startDemoCluster(scenario, options.kube, options.prometheus);
  const env = { ...cluster.env, ALLOW_UNAUTHENTICATED: "true" };
  const config = loadConfig(env);
  const payload = kubeClientErrorsPayload({ ...scenario.alertLabels, ...options.labels });
  const alert = payload.alerts[0];
  if (alert) alert.startsAt = scenario.alertStartsAt;
  const diagnosis = await diagnose("test", payload, {
    playbooks,
    sources: createSources(config),
    limits: runLimitsFrom({ stepTimeoutMs: options.stepTimeoutMs ?? 5000, playbookDeadlineMs: 20_000 }),
    maxPlaybookRuns: 10,
  });
  return diagnosis.alerts[0] as AlertDiagnosis;
}

describe("KubeClientErrors playbook", () => {
  for (const scenario of kubeClientErrorsScenarios()) {
    it(`ranks ${scenario.expectedCause} first when ${scenario.description}`, async () => {
      const result = await diagnoseScenario(scenario);
      expect(result.playbook).toBe("KubeClientErrors");
      expect(result.causes[0]?.id).toBe(scenario.expectedCause);
      expect(result.steps.filter((s) => s.status === "failed" || s.status === "timeout")).toEqual([]);
      expect(result.partial).toBe(false);
    });
  }

  it("names the deleted ServiceAccount and quotes the 401 log line with the token redacted", async () => {
    const result = await diagnoseScenario(scenarioNamed("credentials-rejected"));
    const top = result.causes[0];
    expect(top?.summary).toContain("authentication fails on 42% of its requests");
    const evidence = top?.evidence.map((e) => e.text).join("\n") ?? "";
    expect(evidence).toContain("ServiceAccount monitoring/kube-state-metrics used by the pod does not exist");
    expect(evidence).toContain("Unauthorized");
    expect(evidence).not.toContain("eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9");
    expect(evidence).toContain("[REDACTED jwt]");
    expect(top?.remediation.slice(0, 2)).toEqual([
      "kubectl -n monitoring create serviceaccount kube-state-metrics",
      "kubectl -n monitoring rollout restart deployment/kube-state-metrics",
    ]);
  });

  it("blames the NetworkPolicy created four minutes before the alert", async () => {
    const result = await diagnoseScenario(scenarioNamed("egress-blocked"));
    expect(result.causes[0]?.summary).toContain("since NetworkPolicy default-deny-egress was created");
    expect(result.causes[0]?.evidence.map((e) => e.text)).toContain(
      "NetworkPolicy monitoring/default-deny-egress was created 4 min before the alert",
    );
  });

  it("does not blame a NetworkPolicy created long before the alert", async () => {
    const scenario = scenarioNamed("egress-blocked");
    const policy = scenario.cluster.objects.find((o) => o.kind === "NetworkPolicy");
    if (policy) policy.metadata.creationTimestamp = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    const result = await diagnoseScenario(scenario);
    expect(result.causes[0]?.id).toBe("network_failure");
    expect(result.causes[0]?.summary).not.toContain("NetworkPolicy");
    expect(result.causes[0]?.evidence.some((e) => e.text.includes("default-deny-egress"))).toBe(false);
  });

  it("ranks rejected credentials above network errors when both are present", async () => {
    const scenario = scenarioNamed("credentials-rejected");
    scenario.prometheus = [
      {
        match: QUERY.errorRatioByCode,
        vector: [
          { labels: { code: "401" }, value: 0.2 },
          { labels: { code: "<error>" }, value: 0.05 },
        ],
      },
    ];
    const result = await diagnoseScenario(scenario);
    expect(result.causes.map((c) => c.id).slice(0, 2)).toEqual(["authentication_failure", "network_failure"]);
  });

  it("names the API server pod that is not ready and its last exit", async () => {
    const result = await diagnoseScenario(scenarioNamed("apiserver-crashlooping"));
    expect(result.causes[0]?.summary).toBe(
      "The errors are server-side: API server pod kube-apiserver-control-plane is not ready, and it answers 8% of all requests with 5xx; " +
        "P99 latency of LIST is 4.2 s.",
    );
    const evidence = result.causes[0]?.evidence.map((e) => e.text) ?? [];
    expect(evidence).toContain("kube-apiserver-control-plane: not ready, 4 restarts, last exit: Error");
    expect(evidence).toContain("8% of all API server requests are answered 5xx");
    expect(evidence.some((t) => t.startsWith("Unhealthy on kube-apiserver-control-plane: Readiness probe failed"))).toBe(true);
  });

  it("names the flow schema and priority level that throttle the client", async () => {
    const result = await diagnoseScenario(scenarioNamed("throttled-by-apf"));
    expect(result.causes[0]?.summary).toContain("flow schema workload-low (priority level workload-low): its queues are full");
    // The client's own throttling is still named, behind the rejections that explain it.
    expect(result.causes.map((c) => c.id)).toContain("throttled");
    expect(result.causes[0]?.explains).toContain("throttled");
  });

  it("reads the cluster only with GET, as alert-enricher, and never lists pods across the cluster without a selector", async () => {
    await diagnoseScenario(scenarioNamed("credentials-rejected"));
    const requests = cluster?.kube.requests ?? [];
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.every((r) => r.method === "GET")).toBe(true);
    expect(requests.every((r) => r.userAgent?.startsWith("alert-enricher/"))).toBe(true);
    const podLists = requests.filter((r) => /\/pods$/.test(r.path));
    expect(podLists.every((r) => r.query.labelSelector || r.query.fieldSelector)).toBe(true);
    expect(podLists.every((r) => Number(r.query.limit) > 0)).toBe(true);
  });

  it("marks the diagnosis partial, with the API server's silence as evidence, when the API server hangs", async () => {
    const scenario = scenarioNamed("credentials-rejected");
    cluster = await startDemoCluster(scenario, { hang: (r) => r.path.includes("/pods") });
    const env = { ...cluster.env, ALLOW_UNAUTHENTICATED: "true" };
    const payload = kubeClientErrorsPayload(scenario.alertLabels);
    const started = Date.now();
    const diagnosis = await diagnose("test", payload, {
      playbooks,
      sources: createSources(loadConfig(env)),
      limits: runLimitsFrom({ stepTimeoutMs: 500, playbookDeadlineMs: 5000 }),
      maxPlaybookRuns: 10,
    });
    expect(Date.now() - started).toBeLessThan(4000);
    const result = diagnosis.alerts[0] as AlertDiagnosis;
    expect(result.partial).toBe(true);
    expect(result.steps.find((s) => s.id === "apiserver_pods")?.error).toBe("API server did not answer a Pod list in kube-system in 0.5 s");
    expect(result.causes[0]?.id).toBe("authentication_failure");
  });

  // A read that fails leaves what it would decide "not checked": never "nothing there", never a cause it cannot see.
  it("says it could not check, and blames nothing, when Prometheus (where the client's error codes are) does not answer", async () => {
    const result = await diagnoseScenario(scenarioNamed("credentials-rejected"), { prometheus: { hang: true }, stepTimeoutMs: 300 });
    expect(result.verdict).toBe("could_not_check");
    expect(result.causes).toEqual([]);
    expect(result.partial).toBe(true);
    expect(result.couldNotRead?.some((r) => r.startsWith("Prometheus"))).toBe(true);
    expect(result.notChecked?.map((n) => n.id)).toEqual(
      expect.arrayContaining(["authentication_failure", "authorization_failure", "network_failure", "apiserver_unhealthy"]),
    );
  });

  it("still blames the 401s when the ServiceAccount cannot be read, and counts that check as not made", async () => {
    const failing = {
      failWith: (r: { path: string }) =>
        r.path.includes("/serviceaccounts/") ? { status: 500, message: "etcdserver: request timed out" } : undefined,
    };
    const result = await diagnoseScenario(scenarioNamed("credentials-rejected"), { kube: failing });
    const top = result.causes[0];
    expect(top?.id).toBe("authentication_failure");
    expect(top?.checks?.made).toBeLessThan(top?.checks?.total ?? 0);
    expect(top?.evidence.map((e) => e.text).join("\n")).not.toContain("does not exist");
    expect(top?.remediation.join("\n")).not.toContain("create serviceaccount");
    expect(result.partial).toBe(true);
  });

  it("KubernetesApiClientErrors: could not check whether the API server fails the client's 5xx when its log cannot be read", async () => {
    const failing = {
      failWith: (r: { path: string }) =>
        r.path.endsWith("/pods/kube-apiserver-control-plane/log") ? { status: 500, message: "kubelet unreachable" } : undefined,
    };
    const result = await diagnoseScenario(scenarioNamed("control-plane-events"), {
      kube: failing,
      labels: { alertname: "KubernetesApiClientErrors" },
    });
    expect(result.playbook).toBe("KubernetesApiClientErrors");
    expect(result.verdict).toBe("could_not_check");
    expect(result.causes).toEqual([]);
    expect(result.notChecked?.map((n) => n.id)).toContain("apiserver_side_errors");
    expect(result.ruledOut).toContain("The client is starved of CPU or memory");
  });

  it("KubernetesApiClientErrors: names the API server failing the client when its log shows etcd errors", async () => {
    const scenario = scenarioNamed("control-plane-events");
    scenario.cluster.logs = {
      ...scenario.cluster.logs,
      "kube-system/kube-apiserver-control-plane/kube-apiserver":
        'E1123 09:41:00.000000       1 status.go:71] rpctypes.EtcdError{code:0xe, desc:"etcdserver: request timed out"}',
    };
    const result = await diagnoseScenario(scenario, { labels: { alertname: "KubernetesApiClientErrors" } });
    expect(result.verdict).toBe("cause");
    expect(result.causes[0]?.id).toBe("apiserver_side_errors");
    expect(result.causes[0]?.summary).toContain("its own logs show why: etcd errors");
  });
});
