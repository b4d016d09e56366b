// Environment → typed, validated configuration. Every problem names the variable and what to set.
import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
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

/** Every variable loadConfig reads (and .env.example documents): the names lookalike variables are compared with. */
export const CONFIG_VARIABLES: readonly string[] = [
  "PORT",
  "HOST",
  "WEBHOOK_BEARER_TOKEN",
  "WEBHOOK_BASIC_AUTH",
  "ALLOW_UNAUTHENTICATED",
  "DATABASE_URL",
  "KUBECONFIG",
  "PROMETHEUS_URL",
  "PROMETHEUS_BEARER_TOKEN",
  "AUDIT_LOG_PATH",
  "AUDIT_LOG_URL",
  "CLUSTER_NAME",
  "CLUSTER_LABEL",
  "CLUSTERS_FILE",
  "ALERTMANAGER_URL",
  "SLACK_WEBHOOK_URL",
  "SLACK_BOT_TOKEN",
  "SLACK_CHANNEL",
  "SLACK_API_URL",
  "PAGERDUTY_ROUTING_KEY",
  "PAGERDUTY_EVENTS_URL",
  "PAGERDUTY_API_TOKEN",
  "PAGERDUTY_FROM_EMAIL",
  "PAGERDUTY_API_URL",
  "PAGERDUTY_MODE",
  "PAGERDUTY_STORM_INCIDENT",
  "RULES_DIR",
  "ALERT_RULES_FILES",
  "PUBLIC_URL",
  "REPORT_SIGNING_SECRET",
  "REPORT_LINK_TTL_HOURS",
  "REPORT_RETENTION_DAYS",
  "LOG_LEVEL",
  "BODY_LIMIT_BYTES",
  "DEDUP_WINDOW_SECONDS",
  "STORM_MIN_GROUPS",
  "STORM_WINDOW_SECONDS",
  "STEP_TIMEOUT_SECONDS",
  "PLAYBOOK_DEADLINE_SECONDS",
  "WORK_LEASE_SECONDS",
  "DELIVERY_LEASE_SECONDS",
  "DELIVERY_RETRY_AFTER_MAX_SECONDS",
  "MAX_PLAYBOOK_RUNS_PER_NOTIFICATION",
  "WORKER_CONCURRENCY",
  "SHUTDOWN_TIMEOUT_SECONDS",
  "READ_CACHE_SECONDS",
  "READ_CACHE_MAX_BYTES",
  "MAX_INFLIGHT_KUBERNETES_REQUESTS",
  "MAX_INFLIGHT_PROMETHEUS_QUERIES",
  "CIRCUIT_BREAKER_FAILURES",
  "CIRCUIT_BREAKER_COOLDOWN_SECONDS",
];

/** For every credential Alertmanager presents: guessable secrets are refused at start. */
const MIN_SECRET_LENGTH = 16;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Reads a .env file (Node's own dotenv parser, util.parseEnv) into `env`, without overriding what the environment
 * already has, even when it is set to an empty value. No file is no error; a file that cannot be read is.
 */
export function loadDotEnv(path: string, env: NodeJS.ProcessEnv = process.env): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    throw new ConfigError(`${path} could not be read: ${code ?? (error as Error).message}`);
  }
  for (const [key, value] of Object.entries(parseEnv(text))) {
    if (env[key] === undefined) env[key] = value;
  }
}

/**
 * Every problem is collected and reported at once, one per line, so a user fixes them all in one go instead of one per
 * restart. `requireWebhookAuth: false` is for the CLI, which receives no webhooks.
 *
 * Hand-written rather than a JSON Schema (env-schema): most rules relate variables to each other (one credential of
 * two, a lease longer than a deadline, CLUSTERS_FILE replacing four others), each message says what to set, and a
 * secret's value must never appear in one; ajv's generic messages would do none of that.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: { requireWebhookAuth?: boolean } = {}): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  /** The number, or the fallback (with a problem noted) when it is not a whole number in range. */
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= min && value <= max) return value;
    problems.push(`${name}=${raw} is not a whole number from ${min} to ${max}`);
    return fallback;
  };
  const url = (name: string, fallback?: string): string | undefined => {
    const raw = text(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      problems.push(`${name} must be an http:// or https:// URL (got ${describeSecretish(name, raw)})`);
      return fallback;
    }
    return raw.replace(/\/+$/, "");
  };
  const flag = (name: string): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined || raw === "false" || raw === "0" || raw === "no") return false;
    if (raw === "true" || raw === "1" || raw === "yes") return true;
    problems.push(`${name} must be true or false (got ${raw})`);
    return false;
  };
  /** One of `choices`, or the fallback (with a problem noted). */
  const oneOf = <T extends string>(name: string, choices: readonly T[], fallback: T | undefined, said: string): T | undefined => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be ${said} (got ${raw})`);
    return fallback;
  };

  const auth = webhookAuth(text, flag, options.requireWebhookAuth === false, problems);

  const auditPath = text("AUDIT_LOG_PATH");
  const auditUrl = url("AUDIT_LOG_URL");
  if (auditPath && auditUrl) problems.push("set only one of AUDIT_LOG_PATH and AUDIT_LOG_URL");
  const auditLog = auditPath ? { path: auditPath } : auditUrl ? { url: auditUrl } : undefined;

  // The lease must outlast a whole playbook run, or a slow run would be taken over while still going.
  const playbookDeadlineMs = integer("PLAYBOOK_DEADLINE_SECONDS", 25, 1, 600) * 1000;
  const workLeaseMs = integer("WORK_LEASE_SECONDS", Math.ceil((playbookDeadlineMs * 2 + 30_000) / 1000), 1, 3600) * 1000;
  if (workLeaseMs <= playbookDeadlineMs)
    problems.push(`WORK_LEASE_SECONDS must be longer than PLAYBOOK_DEADLINE_SECONDS (${playbookDeadlineMs / 1000})`);

  const databaseUrl = text("DATABASE_URL") ?? "sqlite:./data/enricher.db";
  // Never echo the URL: it may hold a password.
  if (!databaseUrl.startsWith("sqlite:") && !/^postgres(ql)?:\/\//.test(databaseUrl))
    problems.push("DATABASE_URL must be sqlite:PATH or postgres://…");

  const logLevel = text("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")} (got ${logLevel})`);

  const botToken = text("SLACK_BOT_TOKEN");
  const channel = text("SLACK_CHANNEL");
  if (botToken && !channel)
    problems.push("SLACK_BOT_TOKEN is set but SLACK_CHANNEL is not: name the channel to post to (e.g. C0123456789)");

  const routingKey = text("PAGERDUTY_ROUTING_KEY");
  if (routingKey && routingKey.length !== 32)
    problems.push("PAGERDUTY_ROUTING_KEY must be the 32-character integration key of an Events API v2 integration");
  const apiToken = text("PAGERDUTY_API_TOKEN");
  const fromEmail = text("PAGERDUTY_FROM_EMAIL");
  if (apiToken && !fromEmail)
    problems.push("PAGERDUTY_API_TOKEN is set but PAGERDUTY_FROM_EMAIL is not: notes need the email of a PagerDuty user");
  const mode = oneOf("PAGERDUTY_MODE", ["events", "notes", "both"] as const, undefined, "events, notes or both");
  const stormIncident = oneOf("PAGERDUTY_STORM_INCIDENT", ["storm", "group"] as const, "storm", "storm or group") ?? "storm";

  const clusterName = text("CLUSTER_NAME");
  const clustersFile = text("CLUSTERS_FILE");
  if (clusterName && clustersFile)
    problems.push("set CLUSTER_NAME (one cluster) or CLUSTERS_FILE (several, each named in the file), not both");
  let clusters: ClustersFile | undefined;
  if (clustersFile) {
    try {
      clusters = readClustersFile(clustersFile);
    } catch (error) {
      if (!(error instanceof ClustersFileError)) throw error;
      problems.push(error.message);
    }
  }
  const labelFromEnv = text("CLUSTER_LABEL");
  if (labelFromEnv !== undefined && !new RegExp(LABEL_NAME).test(labelFromEnv))
    problems.push(
      `CLUSTER_LABEL must be a Prometheus label name: letters, digits and _ (got ${JSON.stringify(labelFromEnv.slice(0, 100))})`,
    );
  if (labelFromEnv !== undefined && clusters?.clusterLabel !== undefined && labelFromEnv !== clusters.clusterLabel)
    problems.push(
      `CLUSTER_LABEL=${labelFromEnv} disagrees with clusterLabel: ${clusters.clusterLabel} in CLUSTERS_FILE ${clusters.file}: set one of them`,
    );
  const clusterLabel = labelFromEnv ?? clusters?.clusterLabel ?? "cluster";
  if (labelFromEnv !== undefined && !clusterName && !clustersFile)
    problems.push(
      "CLUSTER_LABEL is set but neither CLUSTER_NAME nor CLUSTERS_FILE: without a cluster name to compare it with, the label would not be read",
    );
  if (clustersFile) {
    const unused = ["PROMETHEUS_URL", "PROMETHEUS_BEARER_TOKEN", "AUDIT_LOG_PATH", "AUDIT_LOG_URL"].filter(
      (name) => text(name) !== undefined,
    );
    if (unused.length > 0)
      problems.push(
        `${unused.join(", ")} ${unused.length === 1 ? "is" : "are"} not used with CLUSTERS_FILE: set each cluster's prometheus and auditLog in ${clustersFile}, and unset ${unused.length === 1 ? "it" : "them"}`,
      );
  }

  const reportSecret = text("REPORT_SIGNING_SECRET");
  if (reportSecret !== undefined && reportSecret.length < 32)
    problems.push("REPORT_SIGNING_SECRET is too short: use at least 32 random characters (e.g. openssl rand -hex 32)");

  const config: Config = {
    port: integer("PORT", 9095, 0, 65535),
    host: text("HOST") ?? "0.0.0.0",
    auth,
    databaseUrl,
    kubeconfigPath: text("KUBECONFIG"),
    prometheus: { url: url("PROMETHEUS_URL", "http://localhost:9090") as string, bearerToken: text("PROMETHEUS_BEARER_TOKEN") },
    auditLog,
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
      mode,
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
    playbookDeadlineMs,
    workLeaseMs,
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
  if (problems.length > 0) throw new ConfigError(problems.join("\n"));
  return config;
}

/** The webhook credential; `{ kind: "none" }` with a problem noted when it is missing or unusable. */
function webhookAuth(
  text: (name: string) => string | undefined,
  flag: (name: string) => boolean,
  forCli: boolean,
  problems: string[],
): Config["auth"] {
  const bearer = text("WEBHOOK_BEARER_TOKEN");
  const basic = text("WEBHOOK_BASIC_AUTH");
  const tooShort = (what: string) => `${what} too short: use at least ${MIN_SECRET_LENGTH} random characters (e.g. openssl rand -hex 32)`;
  if (bearer && basic) {
    problems.push("set only one of WEBHOOK_BEARER_TOKEN and WEBHOOK_BASIC_AUTH");
    return { kind: "none" };
  }
  if (bearer) {
    if (bearer.length >= MIN_SECRET_LENGTH) return { kind: "bearer", token: bearer };
    problems.push(tooShort("WEBHOOK_BEARER_TOKEN is"));
    return { kind: "none" };
  }
  if (basic) {
    const colon = basic.indexOf(":");
    if (colon <= 0 || colon === basic.length - 1) problems.push("WEBHOOK_BASIC_AUTH must be user:password");
    // The same bar as the bearer token: the password is the only secret in it (a user name is no secret).
    else if (basic.length - colon - 1 < MIN_SECRET_LENGTH) problems.push(tooShort("WEBHOOK_BASIC_AUTH's password is"));
    else return { kind: "basic", user: basic.slice(0, colon), password: basic.slice(colon + 1) };
    return { kind: "none" };
  }
  if (flag("ALLOW_UNAUTHENTICATED") || forCli) return { kind: "none" };
  problems.push(
    "no webhook authentication configured: set WEBHOOK_BEARER_TOKEN (or WEBHOOK_BASIC_AUTH=user:password), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated webhooks",
  );
  return { kind: "none" };
}

/** Never echo a secret back in an error: values of secret variables, or with user:password@ in them, are not shown. */
function describeSecretish(name: string, raw: string): string {
  if (/TOKEN|KEY|WEBHOOK|PASSWORD|SECRET/.test(name) || raw.includes("@")) return "a value that is not a URL";
  return JSON.stringify(raw.slice(0, 100));
}
