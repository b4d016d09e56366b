// The clusters one service reads, and which of them an alert belongs to. Each cluster gets its own sources: its own
// shared reads, in-flight caps and circuit breakers for its API server, its Prometheus and its audit log, so one sick
// cluster never slows or trips the diagnosis of another. An alert is read only against the cluster its label names
// (or the configured default for an alert without the label): never against another one.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { StepSources } from "../engine/run-playbook.ts";
import type { Alert } from "../model/alertmanager.ts";
import { type AuditQuery, AuditLogSource } from "./audit-log.ts";
import { BackendGuard, type BackendRegistry } from "./backend-guard.ts";
import { type ClusterAccess, type KubernetesAccess, listNames } from "./clusters-file.ts";
import { createKubernetesClient, loadKubeConfig } from "./kubernetes-client.ts";
import { type KubernetesRead, KubernetesSource } from "./kubernetes.ts";
import { type LogRead, LogsSource } from "./logs.ts";
import { PrometheusSource, type PromQuery } from "./prometheus.ts";
import { type Read, type ReadCacheBudget, requestKey, SharedReads } from "./shared-reads.ts";
import { SourceError } from "./source.ts";

/** Sparing each backend (the Config's `backends`). */
export interface BackendLimits {
  readCacheMs: number;
  maxInFlightKubernetes: number;
  maxInFlightPrometheus: number;
  breakerFailures: number;
  breakerCooldownMs: number;
}

export interface ClusterSourcesOptions {
  userAgent: string;
  backends: BackendLimits;
  /** READ_CACHE_MAX_BYTES: one budget for the process, whatever the number of clusters, as it bounds memory. */
  budget: ReadCacheBudget;
  /** Named in every message about its backends ("API server (prod-eu)") when the service knows its clusters by name. */
  name?: string;
  /** KUBECONFIG: where a `context` without a `kubeconfig` is looked up. */
  defaultKubeconfig?: string;
  /** Where the guards are listed for /readyz and the backend gauges, as "kubernetes", "prometheus/prod-eu", …. */
  registry?: BackendRegistry;
}

/** A cluster's settings that cannot work (a context the kubeconfig lacks, a missing token file). */
export class ClusterAccessError extends Error {}

const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** One cluster's reads, each behind its own guard and shared reads. */
export function createClusterSources(access: ClusterAccess, options: ClusterSourcesOptions): StepSources {
  const kubernetes = createKubernetesClient(kubeConfigFor(access.kubernetes, options.defaultKubeconfig), options.userAgent);
  const { bearerTokenFile } = access.prometheus;
  if (bearerTokenFile !== undefined) checkTokenFile(bearerTokenFile);
  const objects = new KubernetesSource(kubernetes);
  const logs = new LogsSource(kubernetes);
  const prometheus = new PrometheusSource({ ...access.prometheus, userAgent: options.userAgent });
  const { backends, name } = options;
  const named = (backend: string) => (name === undefined ? backend : `${backend} (${name})`);
  const guard = (backend: string, maxInFlight: number, key: string) => {
    const created = new BackendGuard({
      name: named(backend),
      maxInFlight,
      failureThreshold: backends.breakerFailures,
      cooldownMs: backends.breakerCooldownMs,
    });
    options.registry?.add(name === undefined ? key : `${key}/${name}`, created);
    return created;
  };
  const apiServer = guard("API server", backends.maxInFlightKubernetes, "kubernetes");
  const prometheusGuard = guard("Prometheus", backends.maxInFlightPrometheus, "prometheus");
  // Shared reads sit above the guards, so only reads that really go out count against the caps and the breaker.
  const shared = { ttlMs: backends.readCacheMs, maxEntries: 2000, budget: options.budget };
  const objectReads = new SharedReads(
    apiServer.wrap(namingErrors<KubernetesRead>((r, s) => objects.read(r, s), "API server", name)),
    (r) => requestKey("k8s", r),
    shared,
  );
  const logReads = new SharedReads(
    apiServer.wrap(namingErrors<LogRead>((r, s) => logs.read(r, s), "API server", name)),
    (r) => requestKey("log", r),
    shared,
  );
  const queries = new SharedReads(
    prometheusGuard.wrap(namingErrors<PromQuery>((r, s) => prometheus.query(r, s), "Prometheus", name)),
    (r) => requestKey("prom", r),
    shared,
  );
  // The audit log like any other backend: ten alerts asking the same question read it once, and at most two scans
  // (each streaming up to 32 MiB) run at a time.
  let auditReads: SharedReads<AuditQuery> | undefined;
  if (access.auditLog) {
    const audit = new AuditLogSource(access.auditLog);
    auditReads = new SharedReads(
      guard("audit log", 2, "audit-log").wrap(namingErrors<AuditQuery>((r, s) => audit.query(r, s), "the audit log", name)),
      (r) => requestKey("audit", r),
      shared,
    );
  }
  return {
    kubernetes: objectReads.read,
    logs: logReads.read,
    prometheus: queries.read,
    ...(auditReads ? { audit: auditReads.read } : {}),
  };
}

/** Which cluster's sources read an alert, or why none may. */
export type ClusterChoice =
  | {
      sources: StepSources;
      /** The cluster read, when the service knows its clusters by name (CLUSTER_NAME or CLUSTERS_FILE). */
      cluster?: string;
    }
  | {
      /** Why the alert is forwarded undiagnosed: the cluster it came from (or that it named none), and no access to it. */
      notServed: string;
    };

export type ClusterSelection = (alert: Alert) => ClusterChoice;

export interface ServedClusters {
  /** The alert label that names the cluster (CLUSTER_LABEL). */
  label: string;
  /** Each cluster's sources by the name its alerts carry. */
  clusters: ReadonlyMap<string, StepSources>;
  /** The cluster an alert without the label is read against; without one such alerts are forwarded. */
  defaultCluster?: string;
  /** Where the names come from, for the note: CLUSTER_NAME (one cluster) or CLUSTERS_FILE (several). */
  namedBy: "CLUSTER_NAME" | "CLUSTERS_FILE";
}

/** The longest label value quoted back in a note: it comes from the alert, not from us. */
const QUOTED = 100;

export function selectCluster(served: ServedClusters): ClusterSelection {
  const names = [...served.clusters.keys()];
  const labelName = `label ${served.label}`;
  return (alert) => {
    const value = alert.labels[served.label];
    const name = value === undefined || value.trim() === "" ? served.defaultCluster : value;
    const sources = name === undefined ? undefined : served.clusters.get(name);
    if (name !== undefined && sources !== undefined) return { sources, cluster: name };
    if (name === undefined) {
      const reads = names.length === 1 ? `only ${listNames(names)}` : `several (${listNames(names)})`;
      return {
        notServed: `This alert names no cluster (it has no ${labelName}), and this service reads ${reads} with no default in CLUSTERS_FILE: forwarded without a diagnosis rather than read against a guess.`,
      };
    }
    const from = `This alert is from cluster ${JSON.stringify(name.length > QUOTED ? `${name.slice(0, QUOTED)}…` : name)} (${labelName})`;
    if (served.namedBy === "CLUSTER_NAME") {
      return {
        notServed: `${from}; this service reads only cluster ${JSON.stringify(names[0] ?? "")} (CLUSTER_NAME) and has no access to that one: forwarded without a diagnosis.`,
      };
    }
    return {
      notServed: `${from}; this service has no access to it (CLUSTERS_FILE names ${listNames(names)}): forwarded without a diagnosis.`,
    };
  };
}

/**
 * The kubeconfig of one cluster. Without a kubeconfig, context or inCluster it is today's single-cluster discovery
 * (KUBECONFIG, in-cluster, ~/.kube/config); a context is looked up in the entry's kubeconfig, else KUBECONFIG, else
 * ~/.kube/config, and must be there.
 */
export function kubeConfigFor(access: KubernetesAccess, defaultKubeconfig: string | undefined): KubeConfig {
  if (access.inCluster === true) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(IN_CLUSTER_TOKEN))
      throw new ClusterAccessError(
        `kubernetes: inCluster: true, but this process does not run in a pod with a ServiceAccount (KUBERNETES_SERVICE_HOST unset or no token at ${IN_CLUSTER_TOKEN})`,
      );
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  if (access.kubeconfig === undefined && access.context === undefined) {
    try {
      return loadKubeConfig(defaultKubeconfig);
    } catch (error) {
      // The first line only: a YAML error goes on to quote the file, and a kubeconfig holds tokens.
      throw new ClusterAccessError((error as Error).message.split("\n")[0] ?? "");
    }
  }
  const file = access.kubeconfig ?? firstPath(defaultKubeconfig) ?? join(homedir(), ".kube", "config");
  const whence = access.kubeconfig !== undefined ? "kubernetes.kubeconfig" : defaultKubeconfig ? "KUBECONFIG" : "the default kubeconfig";
  if (!existsSync(file)) throw new ClusterAccessError(`kubernetes: ${whence} ${file} does not exist`);
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (error) {
    throw new ClusterAccessError(`kubernetes: ${whence} ${file} is not a usable kubeconfig: ${(error as Error).message.split("\n")[0]}`);
  }
  if (access.context !== undefined) {
    if (kc.getContextObject(access.context) === null) {
      const known = kc.getContexts().map((c) => c.name);
      throw new ClusterAccessError(
        `kubernetes.context: ${JSON.stringify(access.context)} is not a context in ${file} (${known.length > 0 ? `it has ${listNames(known)}` : "it has none"})`,
      );
    }
    kc.setCurrentContext(access.context);
  }
  if (!kc.getCurrentCluster())
    throw new ClusterAccessError(`kubernetes: ${file} has no cluster for context ${JSON.stringify(kc.getCurrentContext())}`);
  return kc;
}

function firstPath(kubeconfig: string | undefined): string | undefined {
  return kubeconfig?.split(":").find((p) => p.length > 0);
}

function checkTokenFile(file: string): void {
  let token: string;
  try {
    token = readFileSync(file, "utf8");
  } catch (error) {
    throw new ClusterAccessError(
      `prometheus.bearerTokenFile: ${file} could not be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  if (token.trim() === "") throw new ClusterAccessError(`prometheus.bearerTokenFile: ${file} is empty`);
}

/** "API server could not be reached" → "API server (prod-eu) could not be reached", so a could-not-check line says which. */
function namingErrors<R>(read: Read<R>, backend: string, name: string | undefined): Read<R> {
  if (name === undefined) return read;
  return async (request, signal) => {
    try {
      return await read(request, signal);
    } catch (error) {
      if (!(error instanceof SourceError) || !error.message.startsWith(backend)) throw error;
      throw new SourceError(`${backend} (${name})${error.message.slice(backend.length)}`, {
        backendTrouble: error.backendTrouble,
        retryAfterMs: error.retryAfterMs,
      });
    }
  };
}
