// The composition root: configuration → store → rules → sources → workers → sinks → HTTP, wired into one running
// service. main.ts runs it as a process; tests, the demo and the bench start it in theirs.

import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { type CheckSummary, formatCheckLine, summarize } from "./check/check-line.ts";
import { runPreflight } from "./check/preflight.ts";
import { type Config, ConfigError } from "./config.ts";
import { type AlertRule, AlertRulesFileError, KnownAlertRules, readAlertRulesFile } from "./diagnosis/alert-rules.ts";
import { diagnose } from "./diagnosis/diagnose.ts";
import { type CompiledPlaybook, loadPlaybooks } from "./engine/load-playbooks.ts";
import { runLimitsFrom } from "./engine/run-limits.ts";
import type { StepSources } from "./engine/run-playbook.ts";
import { logSteps } from "./engine/step-log.ts";
import { createLogger } from "./logger.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createDeliveryWorker } from "./queue/delivery-worker.ts";
import { createNotificationWorker } from "./queue/notification-worker.ts";
import { slackChartImage } from "./render/slack-chart.ts";
import { buildApp } from "./server/app.ts";
import { reportLinkFor, stormLinkFor } from "./server/report-links.ts";
import { ConsoleSink } from "./sinks/console.ts";
import { pagerDutySinks } from "./sinks/pagerduty-sinks.ts";
import type { Sink } from "./sinks/sink.ts";
import { SinkHealth } from "./sinks/sink-health.ts";
import { SlackWebApiSink } from "./sinks/slack-web-api.ts";
import { SlackWebhookSink } from "./sinks/slack-webhook.ts";
import { BackendRegistry } from "./sources/backend-guard.ts";
import { ClusterAccessError, type ClusterSelection, createClusterSources, selectCluster } from "./sources/clusters.ts";
import { ReadCacheBudget } from "./sources/shared-reads.ts";
import { openMigratedStore } from "./store/open-store.ts";
import { startRetention } from "./store/retention.ts";
import type { Store } from "./store/store.ts";
import { USER_AGENT } from "./version.ts";

/** The alert rules shipped for Prometheus (docker/prometheus/), whose expressions the service may chart. */
export const SHIPPED_ALERT_RULES = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "docker",
  "prometheus",
  "alert-enricher-alerts.rules.yml",
);

/**
 * The alert rules whose expressions an alert's chart may run: the shipped ones, and those of ALERT_RULES_FILES (the
 * rules files your Prometheus loads, e.g. the kubernetes-mixin's for KubeAPIErrorBudgetBurn). Any other PromQL in a
 * generatorURL gets no chart.
 */
export function loadKnownAlertRules(config: Config, logger: Logger): KnownAlertRules {
  const rules: AlertRule[] = [];
  if (existsSync(SHIPPED_ALERT_RULES)) rules.push(...readAlertRulesFile(SHIPPED_ALERT_RULES));
  else logger.warn({ path: SHIPPED_ALERT_RULES }, "the shipped alert rules are missing: only ALERT_RULES_FILES' alerts get charts");
  for (const file of config.alertRulesFiles) {
    try {
      rules.push(...readAlertRulesFile(file));
    } catch (error) {
      if (error instanceof AlertRulesFileError) throw new ConfigError(`ALERT_RULES_FILES: ${error.message}`);
      throw error;
    }
  }
  return new KnownAlertRules(rules);
}

/** The sources of the one cluster KUBECONFIG and PROMETHEUS_URL describe (no CLUSTERS_FILE). */
export function createSources(config: Config): StepSources {
  return singleClusterSources(config, new ReadCacheBudget(config.backends.readCacheMaxBytes));
}

function singleClusterSources(config: Config, budget: ReadCacheBudget, registry?: BackendRegistry): StepSources {
  try {
    return createClusterSources(
      { kubernetes: {}, prometheus: config.prometheus, ...(config.auditLog ? { auditLog: config.auditLog } : {}) },
      {
        userAgent: USER_AGENT,
        backends: config.backends,
        budget,
        defaultKubeconfig: config.kubeconfigPath,
        ...(config.clusterName !== undefined ? { name: config.clusterName } : {}),
        ...(registry ? { registry } : {}),
      },
    );
  } catch (error) {
    if (error instanceof ClusterAccessError) throw new ConfigError(`KUBECONFIG: ${error.message}`);
    throw error;
  }
}

/**
 * Which cluster's sources read an alert. Without CLUSTER_NAME or CLUSTERS_FILE: the one cluster, whatever the alert's
 * labels say (today's behaviour). With CLUSTER_NAME: that cluster, unless the alert's label names another. With
 * CLUSTERS_FILE: the cluster the label names, each with its own sources; one budget of kept results for them all.
 */
export function createClusterSelection(config: Config, registry?: BackendRegistry): StepSources | ClusterSelection {
  const budget = new ReadCacheBudget(config.backends.readCacheMaxBytes);
  if (config.clusters === undefined) {
    const sources = singleClusterSources(config, budget, registry);
    if (config.clusterName === undefined) return sources;
    return selectCluster({
      label: config.clusterLabel,
      clusters: new Map([[config.clusterName, sources]]),
      defaultCluster: config.clusterName,
      namedBy: "CLUSTER_NAME",
    });
  }
  const { file, clusters, defaultCluster } = config.clusters;
  const byName = new Map<string, StepSources>();
  for (const cluster of clusters) {
    try {
      byName.set(
        cluster.name,
        createClusterSources(cluster, {
          userAgent: USER_AGENT,
          backends: config.backends,
          budget,
          defaultKubeconfig: config.kubeconfigPath,
          name: cluster.name,
          ...(registry ? { registry } : {}),
        }),
      );
    } catch (error) {
      if (error instanceof ClusterAccessError)
        throw new ConfigError(`CLUSTERS_FILE ${file}: cluster ${JSON.stringify(cluster.name)}: ${error.message}`);
      throw error;
    }
  }
  return selectCluster({
    label: config.clusterLabel,
    clusters: byName,
    ...(defaultCluster !== undefined ? { defaultCluster } : {}),
    namedBy: "CLUSTERS_FILE",
  });
}

/**
 * Slack and PagerDuty when configured; the console when nothing is, so a result is always shown somewhere (plain text
 * on a terminal, a JSON record through `logger` on a pipe).
 */
export function createSinks(config: Config, logger?: Logger): Sink[] {
  const sinks: Sink[] = [];
  // A storm's message and incident link each group's report page, and the storm's own page.
  const links = { publicUrl: config.publicUrl, secret: config.reports.signingSecret, ttlHours: config.reports.linkTtlHours };
  const reportLink = reportLinkFor(links);
  const stormLink = stormLinkFor(links);
  // The bot token (Web API: threads, updates, charts) wins over the webhook; both are the "slack" sink, so deliveries
  // already queued carry over when a team switches.
  if (config.slack.botToken) {
    sinks.push(
      new SlackWebApiSink({
        botToken: config.slack.botToken,
        channel: config.slack.channel ?? "",
        apiUrl: config.slack.apiUrl,
        chart: slackChartImage,
        reportLink,
        stormLink,
      }),
    );
  } else if (config.slack.webhookUrl) {
    sinks.push(new SlackWebhookSink({ webhookUrl: config.slack.webhookUrl, reportLink, stormLink }));
  }
  try {
    sinks.push(...pagerDutySinks({ ...config.pagerduty, reportLink, stormLink }));
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  if (sinks.length === 0) sinks.push(new ConsoleSink(logger ? { logger } : {}));
  return sinks;
}

export interface ServiceOverrides {
  /** One cluster's sources, or a selection of a cluster per alert; instead of those the configuration describes. */
  sources?: StepSources | ClusterSelection;
  sinks?: Sink[];
  store?: Store;
  logger?: Logger;
  /** Shorter polls and backoff, for tests. */
  pollIntervalMs?: number;
  deliveryBackoff?: { baseMs: number; maxMs: number };
  leaseMs?: number;
  /** Run the preflight (`enricher check`) once after start, log it and show it in /readyz; main() does. */
  preflight?: boolean;
}

export interface RunningService {
  url: string;
  store: Store;
  metrics: Metrics;
  playbooks: CompiledPlaybook[];
  /** The start-time preflight, when it runs (ServiceOverrides.preflight). */
  preflight?: Promise<CheckSummary>;
  /**
   * Graceful stop: closes the listener (requests still arriving on open connections get 503, so Alertmanager retries
   * elsewhere), finishes the notifications being diagnosed, sends the deliveries that are due (including those just
   * enqueued), then closes the store. Queued notifications that were not started stay in the store for another
   * replica or the next start. Unbounded: main() puts SHUTDOWN_TIMEOUT_SECONDS on it.
   */
  stop(): Promise<void>;
}

export async function startService(config: Config, overrides: ServiceOverrides = {}): Promise<RunningService> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const playbooks = loadPlaybooks(config.rulesDir);
  const alertRules = loadKnownAlertRules(config, logger);
  const backends = new BackendRegistry();
  const sinkHealth = new SinkHealth();
  const sources = overrides.sources ?? createClusterSelection(config, backends);
  const sinks = overrides.sinks ?? createSinks(config, logger);
  const store = await openMigratedStore(config.databaseUrl, overrides.store);
  const metrics = createMetrics(
    () => store.queueDepth(),
    () => backends.states(),
    () => sinkHealth.states(),
  );
  let preflightSummary: CheckSummary | "running" | undefined;
  const workerId = `${hostname()}-${process.pid}`;
  const { reports } = config;
  const retention = await startRetention(store, reports.retentionDays, logger);
  const limits = runLimitsFrom(config);

  const deliveries = createDeliveryWorker({
    store,
    sinks,
    metrics,
    logger,
    workerId,
    leaseMs: config.deliveryLeaseMs,
    pollIntervalMs: overrides.pollIntervalMs,
    backoff: overrides.deliveryBackoff,
    maxRetryAfterMs: config.deliveryRetryAfterMaxMs,
    health: sinkHealth,
  });
  const notifications = createNotificationWorker({
    store,
    sinks: sinks.map((s) => s.name),
    logger,
    workerId,
    concurrency: config.workerConcurrency,
    pollIntervalMs: overrides.pollIntervalMs,
    leaseMs: overrides.leaseMs ?? config.workLeaseMs,
    onCompleted: () => deliveries.wake(),
    storm: {
      minGroups: config.storm.minGroups,
      windowMs: config.storm.windowMs,
      clusterLabel: config.clusterLabel,
      link: stormLinkFor({ publicUrl: config.publicUrl, secret: reports.signingSecret, ttlHours: reports.linkTtlHours }),
    },
    diagnose: (notification, plainOnly) =>
      diagnose(notification.id, notification.payload, {
        playbooks,
        sources,
        limits,
        alertmanagerUrl: config.alertmanagerUrl,
        publicUrl: config.publicUrl,
        reportLink: reportLinkFor({ publicUrl: config.publicUrl, secret: reports.signingSecret, ttlHours: reports.linkTtlHours }),
        maxPlaybookRuns: config.maxPlaybookRuns,
        plainOnly,
        alertRules,
        onNoChart: ({ alert, reason }) =>
          logger.debug({ notification: notification.id, alertname: alert.labels.alertname, reason }, "no chart for the alert"),
        onRun: ({ playbook, alert, diagnosis, unevaluated }) => {
          logSteps(logger, { notification: notification.id, playbook, alertname: alert.labels.alertname }, diagnosis.steps);
          const seconds = (Date.parse(diagnosis.finishedAt) - Date.parse(diagnosis.startedAt)) / 1000;
          metrics.playbookRuns.inc({ playbook, outcome: diagnosis.partial ? "partial" : "complete" });
          metrics.playbookDuration.observe({ playbook }, seconds);
          for (const step of diagnosis.steps) {
            if (step.status === "failed" || step.status === "timeout")
              metrics.stepFailures.inc({ playbook, step: step.id, kind: step.kind, status: step.status });
          }
          if (unevaluated.length > 0)
            logger.debug({ notification: notification.id, playbook, unevaluated }, "conditions that could not be evaluated");
        },
      }),
  });

  const app = buildApp({
    store,
    metrics,
    auth: config.auth,
    bodyLimitBytes: config.bodyLimitBytes,
    dedupWindowMs: config.dedupWindowMs,
    clusterLabel: config.clusterLabel,
    onStored: () => notifications.wake(),
    readiness: async () => (playbooks.length === 0 ? `no playbooks loaded from ${config.rulesDir}` : undefined),
    backends: () => backends.states(),
    sinks: () => sinkHealth.states(),
    preflight: () => preflightSummary,
    logger: logger.child({ component: "http" }),
    ...(reports.signingSecret ? { reports: { store, secret: reports.signingSecret } } : {}),
  });
  const address = await app.listen({ port: config.port, host: config.host });
  notifications.start();
  deliveries.start();
  logger.info(
    {
      address,
      playbooks: playbooks.map((p) => p.name),
      sinks: sinks.map((s) => s.name),
      ...(config.clusters
        ? { clusters: config.clusters.clusters.map((c) => c.name), clusterLabel: config.clusterLabel }
        : config.clusterName !== undefined
          ? { cluster: config.clusterName, clusterLabel: config.clusterLabel }
          : {}),
    },
    "alert-enricher ready",
  );
  const preflight = overrides.preflight ? checkAtStart(config, playbooks, logger) : undefined;
  if (preflight) {
    preflightSummary = "running";
    void preflight.then((summary) => (preflightSummary = summary));
  }

  return {
    url: address.replace("0.0.0.0", "127.0.0.1"),
    store,
    metrics,
    playbooks,
    ...(preflight ? { preflight } : {}),
    async stop() {
      // The listener closes at once; requests in flight finish, and any arriving on a connection still open are
      // answered 503 (Fastify's return503OnClosing). Meanwhile the workers finish their work in hand.
      retention.stop();
      const closed = app.close();
      closed.catch(() => undefined); // awaited below: an early failure must not count as an unhandled rejection meanwhile
      logger.info("closing the listener: no new webhooks; finishing the notifications in hand");
      await notifications.stop();
      logger.info("notifications in hand finished; sending the deliveries that are due");
      await deliveries.stop({ drain: true });
      await closed;
      await store.close();
      logger.info("work in hand finished; listener and store closed");
    },
  };
}

/** The preflight once at start: one summary line, and one line per failing check or warning, with its fix. */
function checkAtStart(config: Config, playbooks: CompiledPlaybook[], logger: Logger): Promise<CheckSummary> {
  return runPreflight(config, playbooks, { userAgent: USER_AGENT }).then(
    (summary) => {
      for (const line of summary.lines) {
        if (line.status === "FAIL") logger.error({ check: line.check, detail: line.detail }, `preflight: ${formatCheckLine(line)}`);
        else if (line.status === "warn") logger.warn({ check: line.check, detail: line.detail }, `preflight: ${formatCheckLine(line)}`);
      }
      logger.info(
        { checks: summary.lines.length, failed: summary.failed, warnings: summary.warnings },
        summary.failed > 0 ? "preflight: some checks failed (see /readyz and `enricher check`)" : "preflight: passed",
      );
      return summary;
    },
    (error: unknown) => {
      logger.error({ err: error }, "preflight: could not run");
      return summarize([
        { status: "FAIL", check: "preflight", detail: `could not run: ${error instanceof Error ? error.message : String(error)}` },
      ]);
    },
  );
}
