// Environment → typed, validated configuration. Every problem names the variable and what to set.
import { readFileSync } from "node:fs";
import { type ClustersFile, ClustersFileError, LABEL_NAME, readClustersFile } from "./sources/clusters-file.ts";

export interface Config {
  port: number;
  host: string;
  auth: { kind: "bearer"; token: string } | { kind: "basic"; user: string; password: string } | { kind: "none" };
  databaseUrl: string;
  /** KUBECONFIG; unset means in-cluster, then ~/.kube/config. */
  kubeconfigPath?: string;
  prometheus: { url: string; bearerToken?: string };
  /** Kubernetes audit events (JSON lines) for the audit-log steps; optional. */
  auditLog?: { path: string } | { url: string };
  /**
   * CLUSTER_NAME: the one cluster this service reads, as the alerts' cluster label names it. An alert naming another
   * cluster is forwarded undiagnosed; one without the label is read here, as without CLUSTER_NAME.
   */
  clusterName?: string;
  /** The alert label that names the cluster: CLUSTER_LABEL, or the clusters file's clusterLabel; `cluster` by default. */
  clusterLabel: string;
  /**
   * CLUSTERS_FILE, read and checked: several clusters, each with its own access. It replaces PROMETHEUS_URL,
   * PROMETHEUS_BEARER_TOKEN and AUDIT_LOG_* (which may not be set with it); KUBECONFIG only for a bare context.
   */
  clusters?: ClustersFile;
  alertmanagerUrl?: string;
  slack: { webhookUrl?: string; botToken?: string; channel?: string; apiUrl: string };
  pagerduty: {
    routingKey?: string;
    eventsUrl: string;
    apiToken?: string;
    fromEmail?: string;
    apiUrl: string;
    mode?: "events" | "notes" | "both";
    /** PAGERDUTY_STORM_INCIDENT: one PagerDuty incident per storm of alert groups, or one per group even in a storm. */
    stormIncident: "storm" | "group";
  };
  rulesDir: string;
  /** Prometheus rules files whose alert expressions may be charted, besides the shipped ones (ALERT_RULES_FILES). */
  alertRulesFiles: string[];
  publicUrl?: string;
  /** Full reports at PUBLIC_URL/reports: signing secret (unset = reports off), link lifetime, how long diagnoses are kept. */
  reports: { signingSecret?: string; linkTtlHours: number; retentionDays: number };
  logLevel: string;
  bodyLimitBytes: number;
  dedupWindowMs: number;
  /** This many distinct firing alert groups received within `windowMs` in one cluster make a storm. */
  storm: { minGroups: number; windowMs: number };
  stepTimeoutMs: number;
  playbookDeadlineMs: number;
  /** How long a replica owns a notification it took; after that (it died) another takes it again. */
  workLeaseMs: number;
  /** The same for one delivery attempt; it must outlast a sink's slowest attempt, or a slow send could go out twice. */
  deliveryLeaseMs: number;
  /** The longest Retry-After a sink's answer may park a delivery for; a longer one is cut to this, counted and logged. */
  deliveryRetryAfterMaxMs: number;
  maxPlaybookRuns: number;
  workerConcurrency: number;
  /** After SIGTERM, how long to finish the work in hand before exiting 1 and leaving it to the leases. */
  shutdownTimeoutMs: number;
  /** Sparing a sick API server: shared reads, in-flight caps, the circuit breaker. */
  backends: {
    readCacheMs: number;
    /** The approximate bytes (JSON length) the results kept for reuse may take, all backends together. */
    readCacheMaxBytes: number;
    maxInFlightKubernetes: number;
    maxInFlightPrometheus: number;
    breakerFailures: number;
    breakerCooldownMs: number;
  };
}

export class ConfigError extends Error {}

/** For every credential Alertmanager presents: guessable secrets are refused at start. */
const MIN_SECRET_LENGTH = 16;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Reads KEY=value lines from a .env file into `env`, without overriding what the environment already has. */
export function loadDotEnv(path: string, env: NodeJS.ProcessEnv = process.env): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return;
  }
  for (const line of text.split("\n")) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    const [, key, raw] = match as unknown as [string, string, string];
    const value = /^(["'])(.*)\1$/.exec(raw)?.[2] ?? raw.replace(/\s+#.*$/, "");
    if (env[key] === undefined) env[key] = value;
  }
}

/** `requireWebhookAuth: false` is for the CLI, which receives no webhooks. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { requireWebhookAuth?: boolean } = {}): Config {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new ConfigError(`${name}=${raw} is not a whole number from ${min} to ${max}`);
    return value;
  };
  const url = (name: string, fallback?: string): string | undefined => {
    const raw = text(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      throw new ConfigError(`${name} must be an http:// or https:// URL (got ${describeSecretish(name, raw)})`);
    }
    return raw.replace(/\/+$/, "");
  };
  const flag = (name: string): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined || raw === "false" || raw === "0" || raw === "no") return false;
    if (raw === "true" || raw === "1" || raw === "yes") return true;
    throw new ConfigError(`${name} must be true or false (got ${raw})`);
  };

  const bearer = text("WEBHOOK_BEARER_TOKEN");
  const basic = text("WEBHOOK_BASIC_AUTH");
  let auth: Config["auth"];
  if (bearer && basic) throw new ConfigError("set only one of WEBHOOK_BEARER_TOKEN and WEBHOOK_BASIC_AUTH");
  if (bearer) {
    if (bearer.length < MIN_SECRET_LENGTH)
      throw new ConfigError(
        `WEBHOOK_BEARER_TOKEN is too short: use at least ${MIN_SECRET_LENGTH} random characters (e.g. openssl rand -hex 32)`,
      );
    auth = { kind: "bearer", token: bearer };
  } else if (basic) {
    const colon = basic.indexOf(":");
    if (colon <= 0 || colon === basic.length - 1) throw new ConfigError("WEBHOOK_BASIC_AUTH must be user:password");
    // The same bar as the bearer token: the password is the only secret in it (a user name is no secret).
    if (basic.length - colon - 1 < MIN_SECRET_LENGTH)
      throw new ConfigError(
        `WEBHOOK_BASIC_AUTH's password is too short: use at least ${MIN_SECRET_LENGTH} random characters (e.g. openssl rand -hex 32)`,
      );
    auth = { kind: "basic", user: basic.slice(0, colon), password: basic.slice(colon + 1) };
  } else if (flag("ALLOW_UNAUTHENTICATED") || options.requireWebhookAuth === false) {
    auth = { kind: "none" };
  } else {
    throw new ConfigError(
      "no webhook authentication configured: set WEBHOOK_BEARER_TOKEN (or WEBHOOK_BASIC_AUTH=user:password), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated webhooks",
    );
  }

  const auditLog = (): Config["auditLog"] => {
    const path = text("AUDIT_LOG_PATH");
    const auditUrl = url("AUDIT_LOG_URL");
    if (path && auditUrl) throw new ConfigError("set only one of AUDIT_LOG_PATH and AUDIT_LOG_URL");
    return path ? { path } : auditUrl ? { url: auditUrl } : undefined;
  };

  // The lease must outlast a whole playbook run, or a slow run would be taken over while still going.
  const workLeaseMs = (): number => {
    const deadlineMs = integer("PLAYBOOK_DEADLINE_SECONDS", 25, 1, 600) * 1000;
    const leaseMs = integer("WORK_LEASE_SECONDS", Math.ceil((deadlineMs * 2 + 30_000) / 1000), 1, 3600) * 1000;
    if (leaseMs <= deadlineMs)
      throw new ConfigError(`WORK_LEASE_SECONDS must be longer than PLAYBOOK_DEADLINE_SECONDS (${deadlineMs / 1000})`);
    return leaseMs;
  };

  const databaseUrl = text("DATABASE_URL") ?? "sqlite:./data/enricher.db";
  if (!databaseUrl.startsWith("sqlite:") && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("DATABASE_URL must be sqlite:PATH or postgres://…");
  }

  const logLevel = text("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got ${logLevel})`);

  const botToken = text("SLACK_BOT_TOKEN");
  const channel = text("SLACK_CHANNEL");
  if (botToken && !channel)
    throw new ConfigError("SLACK_BOT_TOKEN is set but SLACK_CHANNEL is not: name the channel to post to (e.g. C0123456789)");

  const routingKey = text("PAGERDUTY_ROUTING_KEY");
  if (routingKey && routingKey.length !== 32)
    throw new ConfigError("PAGERDUTY_ROUTING_KEY must be the 32-character integration key of an Events API v2 integration");
  const apiToken = text("PAGERDUTY_API_TOKEN");
  const fromEmail = text("PAGERDUTY_FROM_EMAIL");
  if (apiToken && !fromEmail)
    throw new ConfigError("PAGERDUTY_API_TOKEN is set but PAGERDUTY_FROM_EMAIL is not: notes need the email of a PagerDuty user");
  const modeRaw = text("PAGERDUTY_MODE");
  if (modeRaw && !["events", "notes", "both"].includes(modeRaw))
    throw new ConfigError(`PAGERDUTY_MODE must be events, notes or both (got ${modeRaw})`);
  const stormIncident = text("PAGERDUTY_STORM_INCIDENT") ?? "storm";
  if (stormIncident !== "storm" && stormIncident !== "group")
    throw new ConfigError(`PAGERDUTY_STORM_INCIDENT must be storm or group (got ${stormIncident})`);

  const clusterName = text("CLUSTER_NAME");
  const clustersFile = text("CLUSTERS_FILE");
  if (clusterName && clustersFile)
    throw new ConfigError("set CLUSTER_NAME (one cluster) or CLUSTERS_FILE (several, each named in the file), not both");
  let clusters: ClustersFile | undefined;
  if (clustersFile) {
    try {
      clusters = readClustersFile(clustersFile);
    } catch (error) {
      if (error instanceof ClustersFileError) throw new ConfigError(error.message);
      throw error;
    }
  }
  const labelFromEnv = text("CLUSTER_LABEL");
  if (labelFromEnv !== undefined && !new RegExp(LABEL_NAME).test(labelFromEnv))
    throw new ConfigError(
      `CLUSTER_LABEL must be a Prometheus label name: letters, digits and _ (got ${JSON.stringify(labelFromEnv.slice(0, 100))})`,
    );
  if (labelFromEnv !== undefined && clusters?.clusterLabel !== undefined && labelFromEnv !== clusters.clusterLabel)
    throw new ConfigError(
      `CLUSTER_LABEL=${labelFromEnv} disagrees with clusterLabel: ${clusters.clusterLabel} in CLUSTERS_FILE ${clusters.file}: set one of them`,
    );
  const clusterLabel = labelFromEnv ?? clusters?.clusterLabel ?? "cluster";
  if (labelFromEnv !== undefined && !clusterName && !clustersFile)
    throw new ConfigError(
      "CLUSTER_LABEL is set but neither CLUSTER_NAME nor CLUSTERS_FILE: without a cluster name to compare it with, the label would not be read",
    );
  if (clustersFile) {
    const unused = ["PROMETHEUS_URL", "PROMETHEUS_BEARER_TOKEN", "AUDIT_LOG_PATH", "AUDIT_LOG_URL"].filter(
      (name) => text(name) !== undefined,
    );
    if (unused.length > 0)
      throw new ConfigError(
        `${unused.join(", ")} ${unused.length === 1 ? "is" : "are"} not used with CLUSTERS_FILE: set each cluster's prometheus and auditLog in ${clustersFile}, and unset ${unused.length === 1 ? "it" : "them"}`,
      );
  }

  const reportSecret = text("REPORT_SIGNING_SECRET");
  if (reportSecret !== undefined && reportSecret.length < 32)
    throw new ConfigError("REPORT_SIGNING_SECRET is too short: use at least 32 random characters (e.g. openssl rand -hex 32)");

  return {
    port: integer("PORT", 9095, 0, 65535),
    host: text("HOST") ?? "0.0.0.0",
    auth,
    databaseUrl,
    kubeconfigPath: text("KUBECONFIG"),
    prometheus: { url: url("PROMETHEUS_URL", "http://localhost:9090") as string, bearerToken: text("PROMETHEUS_BEARER_TOKEN") },
    auditLog: auditLog(),
    ...(clusterName !== undefined ? { clusterName } : {}),
    clusterLabel,
    ...(clusters !== undefined ? { clusters } : {}),
    alertmanagerUrl: url("ALERTMANAGER_URL"),
    slack: { webhookUrl: url("SLACK_WEBHOOK_URL"), botToken, channel, apiUrl: url("SLACK_API_URL", "https://slack.com/api") as string },
    pagerduty: {
      routingKey,
      eventsUrl: url("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue") as string,
      apiToken,
      fromEmail,
      apiUrl: url("PAGERDUTY_API_URL", "https://api.pagerduty.com") as string,
      mode: modeRaw as Config["pagerduty"]["mode"],
      stormIncident,
    },
    rulesDir: text("RULES_DIR") ?? "./rules",
    alertRulesFiles: (text("ALERT_RULES_FILES") ?? "")
      .split(",")
      .map((file) => file.trim())
      .filter(Boolean),
    publicUrl: url("PUBLIC_URL"),
    reports: {
      signingSecret: reportSecret,
      linkTtlHours: integer("REPORT_LINK_TTL_HOURS", 168, 1, 24 * 365),
      retentionDays: integer("REPORT_RETENTION_DAYS", 30, 1, 3650),
    },
    logLevel,
    bodyLimitBytes: integer("BODY_LIMIT_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    dedupWindowMs: integer("DEDUP_WINDOW_SECONDS", 600, 0, 86_400) * 1000,
    storm: {
      minGroups: integer("STORM_MIN_GROUPS", 5, 2, 10_000),
      windowMs: integer("STORM_WINDOW_SECONDS", 120, 10, 3600) * 1000,
    },
    stepTimeoutMs: integer("STEP_TIMEOUT_SECONDS", 5, 1, 300) * 1000,
    playbookDeadlineMs: integer("PLAYBOOK_DEADLINE_SECONDS", 25, 1, 600) * 1000,
    workLeaseMs: workLeaseMs(),
    deliveryLeaseMs: integer("DELIVERY_LEASE_SECONDS", 60, 15, 3600) * 1000,
    deliveryRetryAfterMaxMs: integer("DELIVERY_RETRY_AFTER_MAX_SECONDS", 900, 60, 86_400) * 1000,
    maxPlaybookRuns: integer("MAX_PLAYBOOK_RUNS_PER_NOTIFICATION", 10, 0, 1000),
    workerConcurrency: integer("WORKER_CONCURRENCY", 4, 1, 64),
    shutdownTimeoutMs: integer("SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600) * 1000,
    backends: {
      readCacheMs: integer("READ_CACHE_SECONDS", 10, 0, 300) * 1000,
      readCacheMaxBytes: integer("READ_CACHE_MAX_BYTES", 32 * 1024 * 1024, 0, 1024 * 1024 * 1024),
      maxInFlightKubernetes: integer("MAX_INFLIGHT_KUBERNETES_REQUESTS", 8, 1, 256),
      maxInFlightPrometheus: integer("MAX_INFLIGHT_PROMETHEUS_QUERIES", 8, 1, 256),
      breakerFailures: integer("CIRCUIT_BREAKER_FAILURES", 5, 1, 1000),
      breakerCooldownMs: integer("CIRCUIT_BREAKER_COOLDOWN_SECONDS", 30, 1, 3600) * 1000,
    },
  };
}

/** Never echo a secret back in an error: values of secret variables, or with user:password@ in them, are not shown. */
function describeSecretish(name: string, raw: string): string {
  if (/TOKEN|KEY|WEBHOOK|PASSWORD|SECRET/.test(name) || raw.includes("@")) return "a value that is not a URL";
  return JSON.stringify(raw.slice(0, 100));
}
