// Starts the fake Kubernetes API and fake Prometheus holding one scenario's state: the "cluster" the demo and tests diagnose.
import { type FakeKubeApi, type FakeKubeOptions, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { type FakePrometheus, startFakePrometheus } from "./fake-prometheus.ts";
import type { Scenario } from "./kube-client-errors-scenarios.ts";

export interface DemoCluster {
  kube: FakeKubeApi;
  prometheus: FakePrometheus;
  /** The environment that points the service at this cluster. */
  env: { KUBECONFIG: string; PROMETHEUS_URL: string };
  close(): Promise<void>;
}

export async function startDemoCluster(
  scenario: Pick<Scenario, "cluster" | "prometheus">,
  kubeOptions: FakeKubeOptions = {},
  prometheusOptions: { latencyMs?: number; hang?: boolean } = {},
): Promise<DemoCluster> {
  const kube = await startFakeKubeApi(scenario.cluster, kubeOptions);
  const prometheus = await startFakePrometheus(scenario.prometheus, prometheusOptions);
  return {
    kube,
    prometheus,
    env: { KUBECONFIG: kube.kubeconfigPath, PROMETHEUS_URL: prometheus.url },
    async close() {
      await Promise.all([kube.close(), prometheus.close()]);
    },
  };
}
