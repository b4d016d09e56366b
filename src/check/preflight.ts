// `enricher check`, also run once at service start: can this installation do its job? For every configured cluster,
// whether the API server lets the configured identity make every read the playbooks need, and whether Prometheus has
// the metric families they query; for every sink, whether its credentials are accepted (where that can be asked
// without posting). Nothing here writes anywhere.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Config } from "../config.ts";
import type { CompiledPlaybook } from "../engine/load-playbooks.ts";
import type { KubernetesAccess, PrometheusAccess } from "../sources/clusters-file.ts";
import { kubeConfigFor } from "../sources/clusters.ts";
import { loadKubeConfig } from "../sources/kubernetes-client.ts";
import { type CheckLine, type CheckSummary, summarize } from "./check-line.ts";
import { checkKubernetes } from "./kubernetes-check.ts";
import { metricNeeds } from "./metric-families.ts";
import { neededPermissions } from "./needed-permissions.ts";
import { checkPrometheus } from "./prometheus-check.ts";
import { checkSinks } from "./sink-check.ts";

export interface PreflightOptions {
  userAgent: string;
  /** Per request; 5 s unless told. */
  timeoutMs?: number;
}

interface ClusterToCheck {
  /** Appended to each check's name: "" for the one cluster without a name, " (prod-eu)" otherwise. */
  suffix: string;
  configuredBy: { kubernetes: string; prometheus: string };
  kubeConfig: () => KubeConfig;
  prometheus: PrometheusAccess;
}

function clustersOf(config: Config): ClusterToCheck[] {
  if (config.clusters === undefined) {
    return [
      {
        suffix: config.clusterName !== undefined ? ` (${config.clusterName})` : "",
        configuredBy: { kubernetes: "KUBECONFIG", prometheus: "PROMETHEUS_URL" },
        kubeConfig: () => loadKubeConfig(config.kubeconfigPath),
        prometheus: config.prometheus,
      },
    ];
  }
  const { file } = config.clusters;
  return config.clusters.clusters.map((cluster) => {
    const where = `CLUSTERS_FILE ${file}, cluster ${JSON.stringify(cluster.name)}`;
    const access: KubernetesAccess = cluster.kubernetes;
    return {
      suffix: ` (${cluster.name})`,
      configuredBy: { kubernetes: `${where} (kubernetes)`, prometheus: `${where} (prometheus.url)` },
      kubeConfig: () => kubeConfigFor(access, config.kubeconfigPath),
      prometheus: cluster.prometheus,
    };
  });
}

export async function runPreflight(config: Config, playbooks: CompiledPlaybook[], options: PreflightOptions): Promise<CheckSummary> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const permissions = neededPermissions(playbooks);
  const metrics = metricNeeds(playbooks);
  const perCluster = clustersOf(config).map(async (cluster): Promise<CheckLine[]> => {
    const kubernetesLabel = `kubernetes${cluster.suffix}`;
    let kubernetes: Promise<CheckLine[]>;
    try {
      kubernetes = checkKubernetes(cluster.kubeConfig(), permissions, {
        label: kubernetesLabel,
        userAgent: options.userAgent,
        timeoutMs,
        configuredBy: cluster.configuredBy.kubernetes,
      });
    } catch (error) {
      // The first line only: a YAML error goes on to quote the file, and a kubeconfig holds tokens.
      const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
      kubernetes = Promise.resolve([
        {
          status: "FAIL",
          check: kubernetesLabel,
          detail: message.includes(cluster.configuredBy.kubernetes) ? message : `${message} (${cluster.configuredBy.kubernetes})`,
        },
      ]);
    }
    const prometheus = checkPrometheus(cluster.prometheus, metrics, {
      label: `prometheus${cluster.suffix}`,
      userAgent: options.userAgent,
      timeoutMs,
      configuredBy: cluster.configuredBy.prometheus,
    });
    return [...(await kubernetes), ...(await prometheus)];
  });
  const sinks = checkSinks(config, { userAgent: options.userAgent, timeoutMs });
  const lines = [...(await Promise.all(perCluster)).flat(), ...(await sinks)];
  return summarize(lines);
}
