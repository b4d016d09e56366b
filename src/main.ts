// Wiring only: configuration → store → rules → sources → workers → sinks → HTTP. `node src/main.ts` runs the service.

import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Logger, pino } from "pino";
import { type CheckSummary, formatCheckLine, summarize } from "./check/check-line.ts";
import { runPreflight } from "./check/preflight.ts";
import { type Config, ConfigError, loadConfig, loadDotEnv } from "./config.ts";
import { lookalikeVariables } from "./lookalike-variables.ts";
import { type AlertRule, AlertRulesFileError, KnownAlertRules, readAlertRulesFile } from "./diagnosis/alert-rules.ts";
import { diagnose } from "./diagnosis/diagnose.ts";
import { type CompiledPlaybook, loadPlaybooks, PlaybookLoadError } from "./engine/load-playbooks.ts";
import type { StepSources } from "./engine/run-playbook.ts";
import { logSteps } from "./engine/step-log.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createDeliveryWorker } from "./queue/delivery-worker.ts";
import { createNotificationWorker } from "./queue/notification-worker.ts";
import type { Diagnosis } from "./model/diagnosis.ts";
import { renderChartPng } from "./render/chart.ts";
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
import { openPostgresStore } from "./store/postgres.ts";
import { openSqliteStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";

export const VERSION: string = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "package.json"), "utf8")) as { version: string }
).version;
export const USER_AGENT = `alert-enricher/${VERSION}`;

export const EXIT_CONFIG = 2;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "alert-enricher" },
    redact: {
      paths: ["req.headers.authorization", "headers.authorization", "*.token", "*.password", "*.routingKey", "*.webhookUrl"],
      censor: "[REDACTED]",
    },
  });
}

export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith("sqlite:")) return openSqliteStore(databaseUrl.slice("sqlite:".length));
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return openPostgresStore(databaseUrl);
  // Never echo the URL: it may hold a password.
  throw new ConfigError("DATABASE_URL must be sqlite:PATH or postgres://…");
}

/**
 * Opens the store and brings its schema up to date. A store that cannot be opened at start (a directory that cannot
 * be created, a read-only volume, PostgreSQL refusing connections) is a configuration problem: one line naming
 * DATABASE_URL and the cause, exit 2, never a stack trace. The stores' messages carry a path or user@host/database,
 * never a password.
 */
export async function openMigratedStore(databaseUrl: string, given?: Store): Promise<Store> {
  const unusable = (error: unknown) =>
    error instanceof ConfigError
      ? error
      : new ConfigError(`DATABASE_URL: ${(error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")}`);
  let store: Store;
  try {
    store = given ?? openStore(databaseUrl);
  } catch (error) {
    throw unusable(error);
  }
  try {
    await store.migrate();
  } catch (error) {
    if (given === undefined) await store.close().catch(() => undefined);
    throw unusable(error);
  }
  return store;
}

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

/** The first diagnosed alert's chart as a PNG, for the Slack thread. */
async function chartImage(diagnosis: Diagnosis): Promise<{ png: Buffer; title: string; altText: string } | undefined> {
  const alert = diagnosis.alerts.find((a) => a.chart !== undefined);
  if (alert?.chart === undefined) return undefined;
  const name = alert.alert.labels.alertname ?? "alert";
  return { png: renderChartPng(alert.chart), title: `${name}: the last hour`, altText: `${alert.chart.query} over the last hour` };
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
        chart: chartImage,
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
  // Retention: done notifications older than REPORT_RETENTION_DAYS go, at start and then every hour.
  const prune = () =>
    store.pruneBefore(new Date(Date.now() - reports.retentionDays * 86_400_000)).then(
      (deleted) => {
        if (deleted > 0) logger.info({ deleted, retentionDays: reports.retentionDays }, "pruned old notifications");
      },
      (error: unknown) => logger.warn({ err: error }, "could not prune old notifications"),
    );
  await prune();
  const pruning = setInterval(() => void prune(), 3_600_000);
  pruning.unref();
  const limits = {
    stepTimeoutMs: config.stepTimeoutMs,
    deadlineMs: config.playbookDeadlineMs,
    listLimit: 500,
    logTailLines: 2000,
    logLimitBytes: 1024 * 1024,
  };

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
      clearInterval(pruning);
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

async function main(): Promise<void> {
  let service: RunningService;
  let config: Config;
  let logger: Logger;
  try {
    loadDotEnv(".env");
    config = loadConfig();
    logger = createLogger(config.logLevel);
    for (const { variable, suggestion, message } of lookalikeVariables(process.env)) logger.warn({ variable, suggestion }, message);
    service = await startService(config, { logger, preflight: true });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PlaybookLoadError) {
      // Every problem on its own line; a lookalike variable (SLACK_WEBHOOK) is often the cause, so it is told too.
      const lines = error instanceof ConfigError ? error.message.split("\n") : [error.message];
      for (const { message } of lookalikeVariables(process.env)) lines.push(`warning: ${message}`);
      process.stderr.write(lines.map((line) => `alert-enricher: ${line}\n`).join(""));
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
  const timeoutSeconds = config.shutdownTimeoutMs / 1000;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal (Ctrl-C twice): do not wait. The store's leases hand the work in hand over, as after a timeout.
      logger.warn({ signal }, "second signal: exiting now; work in hand is left to another replica once its lease expires");
      process.stderr.write(`alert-enricher: ${signal} received again, exiting without finishing work in hand\n`);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutSeconds }, "shutting down: finishing work in hand");
    process.stderr.write(`alert-enricher: ${signal} received, finishing work in hand (at most ${timeoutSeconds} s)\n`);
    // Exit within the bound, before Kubernetes' SIGKILL (terminationGracePeriodSeconds must be longer). Nothing is
    // lost: unfinished notifications and deliveries stay leased in the store, and another replica (or this one after
    // a restart) takes them again when the lease (WORK_LEASE_SECONDS / DELIVERY_LEASE_SECONDS) expires.
    const deadline = setTimeout(() => {
      logger.error(
        { timeoutSeconds },
        "shutdown timed out with work in hand: exiting 1; the unfinished work is left to another replica once its lease expires",
      );
      process.stderr.write(
        `alert-enricher: shutdown timed out after ${timeoutSeconds} s; unfinished work is left to another replica (or the next start) once its lease expires\n`,
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    service.stop().then(
      () => {
        clearTimeout(deadline);
        process.stderr.write("alert-enricher: work in hand finished, exiting\n");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.stderr.write(`alert-enricher: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.main) await main();
