// An alert storm against the wired sources: identical reads are shared, so the API server and Prometheus see about
// as many requests as there are distinct reads, not one playbook's worth per alert.
import { afterEach, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { createSources } from "../../src/service.ts";
import type { Alert } from "../../src/model/alertmanager.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { runLimitsFrom } from "../../src/engine/run-limits.ts";

const playbooks = loadPlaybooks("rules");
const limits = runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 });
let cluster: DemoCluster | undefined;

afterEach(async () => {
  await cluster?.close();
});

async function requestsFor(alertCount: number, instances: number): Promise<{ kubernetes: number; prometheus: number }> {
  const scenario = scenarioNamed("credentials-rejected");
  cluster = await startDemoCluster(scenario);
  const env = { ...cluster.env, ALLOW_UNAUTHENTICATED: "true" };
  const sources = createSources(loadConfig(env));
  const template = kubeClientErrorsPayload(scenario.alertLabels);
  const notifications = Array.from({ length: alertCount }, (_, i) => {
    const alert = template.alerts[0] as Alert;
    const instance = `10.244.1.${17 + (i % instances)}:8443`;
    return { ...template, alerts: [{ ...alert, fingerprint: `f${i}`, labels: { ...alert.labels, instance } }] };
  });
  await Promise.all(
    notifications.map((payload, i) => diagnose(`n${i}`, payload, { playbooks, sources, limits, maxPlaybookRuns: 1, charts: false })),
  );
  const counts = { kubernetes: cluster.kube.requests.length, prometheus: cluster.prometheus.queries.length };
  await cluster.close();
  cluster = undefined;
  return counts;
}

it("costs the API server and Prometheus for 200 alerts over 10 instances no more than 10 separate runs would", async () => {
  const alone = await requestsFor(1, 1);
  const storm = await requestsFor(200, 10);
  expect(alone.kubernetes).toBeGreaterThan(5);
  expect(storm.kubernetes).toBeLessThanOrEqual(alone.kubernetes * 10);
  expect(storm.prometheus).toBeLessThanOrEqual(alone.prometheus * 10);
  // Without sharing it would be 200 × the playbook.
  expect(storm.kubernetes).toBeLessThan((alone.kubernetes * 200) / 10);
}, 60_000);

it("stops calling an API server that keeps failing, for the alerts that follow, and says so in their diagnoses", async () => {
  const scenario = scenarioNamed("credentials-rejected");
  // Every read fails; discovery (/api/v1, /apis/<group>/<version>) still answers, as it is served from memory.
  const isDiscovery = (path: string) => path === "/api/v1" || /^\/apis(\/[^/]+){0,2}$/.test(path);
  cluster = await startDemoCluster(scenario, {
    failWith: (request) => (isDiscovery(request.path) ? undefined : { status: 503, message: "etcd cluster is unavailable" }),
  });
  const env = { ...cluster.env, ALLOW_UNAUTHENTICATED: "true", CIRCUIT_BREAKER_FAILURES: "3" };
  const sources = createSources(loadConfig(env));
  const errorsOf = async (id: string, instance: string) => {
    const payload = kubeClientErrorsPayload({ ...scenario.alertLabels, instance });
    const diagnosis = await diagnose(id, payload, { playbooks, sources, limits, maxPlaybookRuns: 1, charts: false });
    expect(diagnosis.alerts[0]?.partial).toBe(true);
    return (diagnosis.alerts[0]?.steps ?? []).flatMap((s) => (s.error ? [s.error] : []));
  };
  const first = await errorsOf("n1", "10.244.1.17:8443");
  expect(first.length).toBeGreaterThan(0);
  // The first alert meets the failures (and, once three failed, the breaker for its remaining reads).
  expect(first.some((e) => e.includes("API server answered 503 ServiceUnavailable: etcd cluster is unavailable"))).toBe(true);
  const second = await errorsOf("n2", "10.244.1.18:8443");
  expect(second.length).toBeGreaterThan(0);
  expect(second.every((e) => /the API server failed \d+ reads in a row, so alert-enricher stopped calling it for 30 s/.test(e))).toBe(true);
});
