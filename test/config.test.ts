import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig, loadDotEnv } from "../src/config.ts";
import { createClusterSelection } from "../src/service.ts";

const TOKEN = "0123456789abcdef0123456789abcdef";
const OPEN = { ALLOW_UNAUTHENTICATED: "true" };

/** The ConfigError loadConfig throws for `env`; fails the test when it does not throw one. */
function configErrorFor(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  it("starts on the documented defaults when only ALLOW_UNAUTHENTICATED is set", () => {
    const config = loadConfig(OPEN);
    expect(config).toMatchObject({
      port: 9095,
      host: "0.0.0.0",
      auth: { kind: "none" },
      databaseUrl: "sqlite:./data/enricher.db",
      prometheus: { url: "http://localhost:9090" },
      slack: { apiUrl: "https://slack.com/api" },
      pagerduty: { eventsUrl: "https://events.pagerduty.com/v2/enqueue", apiUrl: "https://api.pagerduty.com" },
      rulesDir: "./rules",
      logLevel: "info",
    });
    expect(config.kubeconfigPath).toBeUndefined();
    expect(config.prometheus.bearerToken).toBeUndefined();
    expect(config.slack.webhookUrl).toBeUndefined();
    expect(config.pagerduty.routingKey).toBeUndefined();
  });

  it("reads every documented variable it is given", () => {
    const config = loadConfig({
      PORT: "8080",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: "sqlite:/var/lib/enricher/db.sqlite",
      KUBECONFIG: "/etc/kube/config",
      PROMETHEUS_URL: "https://prometheus.example.com/",
      PROMETHEUS_BEARER_TOKEN: "prom-token",
      SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/abc",
      PAGERDUTY_ROUTING_KEY: "R".repeat(32),
      RULES_DIR: "/etc/enricher/rules",
      LOG_LEVEL: "debug",
    });
    expect(config).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      auth: { kind: "bearer", token: TOKEN },
      databaseUrl: "sqlite:/var/lib/enricher/db.sqlite",
      kubeconfigPath: "/etc/kube/config",
      prometheus: { url: "https://prometheus.example.com", bearerToken: "prom-token" },
      slack: { webhookUrl: "https://hooks.slack.com/services/T0/B0/abc" },
      pagerduty: { routingKey: "R".repeat(32) },
      rulesDir: "/etc/enricher/rules",
      logLevel: "debug",
    });
  });

  it("treats a variable set to blanks as unset", () => {
    const config = loadConfig({ ...OPEN, PORT: "  ", PROMETHEUS_URL: "" });
    expect(config.port).toBe(9095);
    expect(config.prometheus.url).toBe("http://localhost:9090");
  });

  it("refuses to start without webhook auth and names the variables to set", () => {
    const error = configErrorFor({});
    expect(error.message).toContain("WEBHOOK_BEARER_TOKEN");
    expect(error.message).toContain("WEBHOOK_BASIC_AUTH");
    expect(error.message).toContain("ALLOW_UNAUTHENTICATED=true");
  });

  it("refuses ALLOW_UNAUTHENTICATED=false like an unset one", () => {
    expect(configErrorFor({ ALLOW_UNAUTHENTICATED: "false" }).message).toContain("WEBHOOK_BEARER_TOKEN");
  });

  it("names ALLOW_UNAUTHENTICATED when it is neither true nor false", () => {
    expect(configErrorFor({ ALLOW_UNAUTHENTICATED: "sure" }).message).toContain("ALLOW_UNAUTHENTICATED");
  });

  it("lets the CLI run without webhook auth", () => {
    expect(loadConfig({}, { requireWebhookAuth: false }).auth).toEqual({ kind: "none" });
  });

  it("accepts basic auth as user:password", () => {
    expect(loadConfig({ WEBHOOK_BASIC_AUTH: "alertmanager:s3cret:with-colon" }).auth).toEqual({
      kind: "basic",
      user: "alertmanager",
      password: "s3cret:with-colon",
    });
  });

  it("refuses both a bearer token and basic auth", () => {
    const error = configErrorFor({ WEBHOOK_BEARER_TOKEN: TOKEN, WEBHOOK_BASIC_AUTH: "user:a-long-enough-password" });
    expect(error.message).toContain("WEBHOOK_BEARER_TOKEN");
    expect(error.message).toContain("WEBHOOK_BASIC_AUTH");
  });

  it("refuses a short basic-auth password as it refuses a short bearer token, and does not echo it", () => {
    const error = configErrorFor({ WEBHOOK_BASIC_AUTH: "alertmanager:hunter2" });
    expect(error.message).toContain("WEBHOOK_BASIC_AUTH");
    expect(error.message).toContain("16");
    expect(error.message).not.toContain("hunter2");
    expect(configErrorFor({ WEBHOOK_BASIC_AUTH: "a:b" }).message).toContain("too short");
  });

  it("refuses a short bearer token and does not echo it", () => {
    const error = configErrorFor({ WEBHOOK_BEARER_TOKEN: "hunter2" });
    expect(error.message).toContain("WEBHOOK_BEARER_TOKEN");
    expect(error.message).not.toContain("hunter2");
  });

  it.each([
    ["WEBHOOK_BASIC_AUTH", { WEBHOOK_BASIC_AUTH: "no-colon-here" }],
    ["WEBHOOK_BASIC_AUTH", { WEBHOOK_BASIC_AUTH: ":password-without-user" }],
    ["PORT", { ...OPEN, PORT: "abc" }],
    ["PORT", { ...OPEN, PORT: "70000" }],
    ["PORT", { ...OPEN, PORT: "80.5" }],
    ["LOG_LEVEL", { ...OPEN, LOG_LEVEL: "loud" }],
    ["PAGERDUTY_ROUTING_KEY", { ...OPEN, PAGERDUTY_ROUTING_KEY: "too-short" }],
    ["SLACK_CHANNEL", { ...OPEN, SLACK_BOT_TOKEN: "xoxb-123-456-abc" }],
    ["PAGERDUTY_FROM_EMAIL", { ...OPEN, PAGERDUTY_API_TOKEN: "pd-api-token" }],
    ["PAGERDUTY_MODE", { ...OPEN, PAGERDUTY_MODE: "sometimes" }],
    ["DATABASE_URL", { ...OPEN, DATABASE_URL: "mysql://user:pw@db/enricher" }],
    ["PROMETHEUS_URL", { ...OPEN, PROMETHEUS_URL: "not-a-url" }],
    ["PROMETHEUS_URL", { ...OPEN, PROMETHEUS_URL: "ftp://prometheus.example.com" }],
    ["ALERTMANAGER_URL", { ...OPEN, ALERTMANAGER_URL: "alertmanager:9093" }],
    ["STEP_TIMEOUT_SECONDS", { ...OPEN, STEP_TIMEOUT_SECONDS: "0" }],
    ["REPORT_LINK_TTL_HOURS", { ...OPEN, REPORT_LINK_TTL_HOURS: "0" }],
    ["REPORT_RETENTION_DAYS", { ...OPEN, REPORT_RETENTION_DAYS: "forever" }],
  ])("names %s when its value is malformed (%j)", (variable, env) => {
    expect(configErrorFor(env).message).toContain(variable);
  });

  it("honours a sink's Retry-After for at most 15 minutes by default, DELIVERY_RETRY_AFTER_MAX_SECONDS from a minute to a day", () => {
    expect(loadConfig(OPEN).deliveryRetryAfterMaxMs).toBe(900_000);
    expect(loadConfig({ ...OPEN, DELIVERY_RETRY_AFTER_MAX_SECONDS: "3600" }).deliveryRetryAfterMaxMs).toBe(3_600_000);
    expect(configErrorFor({ ...OPEN, DELIVERY_RETRY_AFTER_MAX_SECONDS: "30" }).message).toContain("DELIVERY_RETRY_AFTER_MAX_SECONDS");
    expect(configErrorFor({ ...OPEN, DELIVERY_RETRY_AFTER_MAX_SECONDS: "86401" }).message).toContain("DELIVERY_RETRY_AFTER_MAX_SECONDS");
  });

  it("makes a storm of 5 alert groups in 2 minutes by default, and reads STORM_MIN_GROUPS and STORM_WINDOW_SECONDS", () => {
    expect(loadConfig(OPEN).storm).toEqual({ minGroups: 5, windowMs: 120_000 });
    expect(loadConfig({ ...OPEN, STORM_MIN_GROUPS: "20", STORM_WINDOW_SECONDS: "300" }).storm).toEqual({
      minGroups: 20,
      windowMs: 300_000,
    });
  });

  it("refuses a storm of fewer than 2 groups or a window that is not a whole number of seconds from 10 to 3600", () => {
    expect(configErrorFor({ ...OPEN, STORM_MIN_GROUPS: "1" }).message).toBe("STORM_MIN_GROUPS=1 is not a whole number from 2 to 10000");
    expect(configErrorFor({ ...OPEN, STORM_WINDOW_SECONDS: "2.5" }).message).toContain("STORM_WINDOW_SECONDS=2.5");
    expect(configErrorFor({ ...OPEN, STORM_WINDOW_SECONDS: "7200" }).message).toContain("from 10 to 3600");
  });

  it("keeps reports off by default, with week-long links and a month of retention", () => {
    expect(loadConfig(OPEN).reports).toEqual({ signingSecret: undefined, linkTtlHours: 168, retentionDays: 30 });
  });

  it("reads the report settings it is given", () => {
    const secret = "s".repeat(32);
    const config = loadConfig({ ...OPEN, REPORT_SIGNING_SECRET: secret, REPORT_LINK_TTL_HOURS: "24", REPORT_RETENTION_DAYS: "7" });
    expect(config.reports).toEqual({ signingSecret: secret, linkTtlHours: 24, retentionDays: 7 });
  });

  it("refuses a report signing secret shorter than 32 characters and does not echo it", () => {
    const error = configErrorFor({ ...OPEN, REPORT_SIGNING_SECRET: "short-report-secret" });
    expect(error.message).toContain("REPORT_SIGNING_SECRET");
    expect(error.message).not.toContain("short-report-secret");
  });

  it("does not echo the token of a malformed Slack webhook URL", () => {
    const error = configErrorFor({ ...OPEN, SLACK_WEBHOOK_URL: "hooks.slack.com/services/T/B/SECRETTOKEN" });
    expect(error.message).toContain("SLACK_WEBHOOK_URL");
    expect(error.message).not.toContain("SECRETTOKEN");
  });

  it("does not echo the password of a malformed URL that carries user:password@", () => {
    const error = configErrorFor({ ...OPEN, PROMETHEUS_URL: "prom-user:pa55word@prometheus.example.com:9090" });
    expect(error.message).toContain("PROMETHEUS_URL");
    expect(error.message).not.toContain("pa55word");
  });

  it("shows a malformed non-secret URL so the user can see the typo", () => {
    expect(configErrorFor({ ...OPEN, PROMETHEUS_URL: "not-a-url" }).message).toContain('"not-a-url"');
  });

  it("lists every problem at once, one per line, so one restart fixes them all", () => {
    const error = configErrorFor({
      PORT: "80x",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://enricher:db-password@db/enricher",
      SLACK_BOT_TOKEN: "xoxb-123-456-abc",
      PROMETHEUS_URL: "prometheus:9090",
    });
    expect(error.message.split("\n")).toEqual([
      "no webhook authentication configured: set WEBHOOK_BEARER_TOKEN (or WEBHOOK_BASIC_AUTH=user:password), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated webhooks",
      "DATABASE_URL must be sqlite:PATH or postgres://…",
      "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got loud)",
      "SLACK_BOT_TOKEN is set but SLACK_CHANNEL is not: name the channel to post to (e.g. C0123456789)",
      "PORT=80x is not a whole number from 0 to 65535",
      'PROMETHEUS_URL must be an http:// or https:// URL (got "prometheus:9090")',
    ]);
    expect(error.message).not.toContain("db-password");
    expect(error.message).not.toContain("xoxb-123-456-abc");
  });

  it("names a malformed variable once, and does not compare a lease with a deadline it could not read", () => {
    expect(configErrorFor({ ...OPEN, PLAYBOOK_DEADLINE_SECONDS: "soon" }).message).toBe(
      "PLAYBOOK_DEADLINE_SECONDS=soon is not a whole number from 1 to 600",
    );
    expect(configErrorFor({ ...OPEN, PLAYBOOK_DEADLINE_SECONDS: "60", WORK_LEASE_SECONDS: "60" }).message).toBe(
      "WORK_LEASE_SECONDS must be longer than PLAYBOOK_DEADLINE_SECONDS (60)",
    );
  });

  it("lists a short token beside the other mistakes", () => {
    const lines = configErrorFor({ WEBHOOK_BEARER_TOKEN: "hunter2", PAGERDUTY_MODE: "sometimes", STORM_MIN_GROUPS: "1" }).message.split(
      "\n",
    );
    expect(lines).toEqual([
      "WEBHOOK_BEARER_TOKEN is too short: use at least 16 random characters (e.g. openssl rand -hex 32)",
      "PAGERDUTY_MODE must be events, notes or both (got sometimes)",
      "STORM_MIN_GROUPS=1 is not a whole number from 2 to 10000",
    ]);
  });

  it("accepts postgres URLs in DATABASE_URL", () => {
    expect(loadConfig({ ...OPEN, DATABASE_URL: "postgres://u:p@db:5432/enricher" }).databaseUrl).toBe("postgres://u:p@db:5432/enricher");
    expect(loadConfig({ ...OPEN, DATABASE_URL: "postgresql://db/enricher" }).databaseUrl).toBe("postgresql://db/enricher");
  });
});

describe("the settings", () => {
  /** The names loadConfig asks `env` for. */
  function namesRead(env: NodeJS.ProcessEnv, options?: { requireWebhookAuth?: boolean }): string[] {
    const read = new Set<string>();
    const recording = new Proxy(env, {
      get(target, name) {
        if (typeof name === "string") read.add(name);
        return target[name as string];
      },
    });
    try {
      loadConfig(recording, options);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
    }
    return [...read];
  }

  it("are the variables .env.example documents, and loadConfig reads no other", () => {
    const documented = [...readFileSync(join(import.meta.dirname, "..", ".env.example"), "utf8").matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map(
      (match) => match[1],
    );
    expect([...new Set(documented)].sort()).toEqual([...CONFIG_VARIABLES].sort());
    const read = [...namesRead(OPEN), ...namesRead({ CLUSTERS_FILE: "/nonexistent/clusters.yaml" }, { requireWebhookAuth: false })];
    expect(read).toEqual(expect.arrayContaining(["PORT", "ALLOW_UNAUTHENTICATED", "SLACK_WEBHOOK_URL", "CLUSTERS_FILE"]));
    expect(read.filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual([]);
  });
});

describe("loadDotEnv", () => {
  let dir: string | undefined;

  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function dotEnv(text: string): string {
    dir = mkdtempSync(join(tmpdir(), "enricher-dotenv-"));
    const path = join(dir, ".env");
    writeFileSync(path, text);
    return path;
  }

  it("reads KEY=value lines, quoted values, export, comments and trailing comments on unquoted values", () => {
    const path = dotEnv(
      [
        "# alert-enricher settings",
        "PORT=8080",
        "  HOST = 127.0.0.1  ",
        'WEBHOOK_BEARER_TOKEN="quoted token with spaces"',
        "SLACK_CHANNEL='C0123456789'",
        "export LOG_LEVEL=debug # noisy while we set it up",
        'PUBLIC_URL="https://enricher.example.com/#anchor"',
        "DATABASE_URL=postgres://u:p@db/enricher?sslmode=require",
        "   # an indented comment",
        "#COMMENTED_OUT=yes",
        "",
        "not a setting",
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = {};
    loadDotEnv(path, env);
    expect(env).toEqual({
      PORT: "8080",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: "quoted token with spaces",
      SLACK_CHANNEL: "C0123456789",
      LOG_LEVEL: "debug",
      PUBLIC_URL: "https://enricher.example.com/#anchor",
      DATABASE_URL: "postgres://u:p@db/enricher?sslmode=require",
    });
  });

  it("reads a file saved with Windows line endings", () => {
    const env: NodeJS.ProcessEnv = {};
    loadDotEnv(dotEnv('PORT=8080\r\nHOST="127.0.0.1"\r\n'), env);
    expect(env).toEqual({ PORT: "8080", HOST: "127.0.0.1" });
  });

  it("never overrides what the real environment already has", () => {
    const env: NodeJS.ProcessEnv = { PORT: "9999", LOG_LEVEL: "" };
    loadDotEnv(dotEnv("PORT=8080\nLOG_LEVEL=debug\nHOST=127.0.0.1\n"), env);
    expect(env).toEqual({ PORT: "9999", LOG_LEVEL: "", HOST: "127.0.0.1" });
  });

  it("does nothing when there is no .env file", () => {
    const env: NodeJS.ProcessEnv = { PORT: "1" };
    loadDotEnv(join(tmpdir(), "enricher-no-such-dir", ".env"), env);
    expect(env).toEqual({ PORT: "1" });
  });

  it("reads .env as dotenv does: # after an unquoted value starts a comment, quotes keep it, double quotes span lines", () => {
    const env: NodeJS.ProcessEnv = {};
    loadDotEnv(dotEnv('WEBHOOK_BASIC_AUTH=am:pass#word\nQUOTED="am:pass#word"\nCERT="line one\nline two"\nESCAPED="a\\nb"\n'), env);
    expect(env).toEqual({ WEBHOOK_BASIC_AUTH: "am:pass", QUOTED: "am:pass#word", CERT: "line one\nline two", ESCAPED: "a\nb" });
  });

  it("refuses a .env that is there but cannot be read, naming it", () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-dotenv-"));
    const path = join(dir, ".env");
    mkdirSync(path);
    expect(() => loadDotEnv(path, {})).toThrow(new ConfigError(`${path} could not be read: EISDIR`));
  });

  it("feeds loadConfig, so a copied .env.example-style file starts the service", () => {
    const env: NodeJS.ProcessEnv = {};
    loadDotEnv(dotEnv(`# receiver\nPORT=9100\nWEBHOOK_BEARER_TOKEN=${TOKEN}\nPROMETHEUS_URL=http://prometheus:9090\n`), env);
    const config = loadConfig(env);
    expect(config.port).toBe(9100);
    expect(config.auth).toEqual({ kind: "bearer", token: TOKEN });
    expect(config.prometheus.url).toBe("http://prometheus:9090");
  });
});

describe("shared-read memory and chart rules", () => {
  it("keeps 32 MiB of shared-read results unless READ_CACHE_MAX_BYTES says otherwise, and refuses a value that is not a size", () => {
    expect(loadConfig(OPEN).backends.readCacheMaxBytes).toBe(32 * 1024 * 1024);
    expect(loadConfig({ ...OPEN, READ_CACHE_MAX_BYTES: "1048576" }).backends.readCacheMaxBytes).toBe(1_048_576);
    expect(configErrorFor({ ...OPEN, READ_CACHE_MAX_BYTES: "lots" }).message).toContain("READ_CACHE_MAX_BYTES");
  });

  it("reads ALERT_RULES_FILES as a comma-separated list of files, none unless set", () => {
    expect(loadConfig(OPEN).alertRulesFiles).toEqual([]);
    expect(loadConfig({ ...OPEN, ALERT_RULES_FILES: " /etc/rules/a.yaml, /etc/rules/b.yml ," }).alertRulesFiles).toEqual([
      "/etc/rules/a.yaml",
      "/etc/rules/b.yml",
    ]);
  });
});

describe("clusters: CLUSTER_NAME, CLUSTER_LABEL, CLUSTERS_FILE", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Writes `yaml` as a clusters file and returns its path. */
  function clustersFile(yaml: string): string {
    dir ??= mkdtempSync(join(tmpdir(), "enricher-clusters-"));
    const file = join(dir, "clusters.yaml");
    writeFileSync(file, yaml);
    return file;
  }

  const TWO_CLUSTERS = `clusters:
  prod-eu:
    kubernetes:
      kubeconfig: kubeconfigs/prod-eu.yaml
    prometheus:
      url: https://mimir.example.com/prometheus/
      bearerTokenFile: secrets/mimir-token
      headers:
        X-Scope-OrgID: prod-eu
  prod-us:
    kubernetes:
      context: prod-us
    prometheus:
      url: http://prometheus.us:9090
`;

  it("reads no clusters by default: one cluster, labelled by `cluster`, whatever the alerts say", () => {
    const config = loadConfig(OPEN);
    expect(config.clusterName).toBeUndefined();
    expect(config.clusters).toBeUndefined();
    expect(config.clusterLabel).toBe("cluster");
  });

  it("reads CLUSTER_NAME and CLUSTER_LABEL, and refuses a label that is no Prometheus label name", () => {
    const config = loadConfig({ ...OPEN, CLUSTER_NAME: "prod-eu", CLUSTER_LABEL: "k8s_cluster" });
    expect(config.clusterName).toBe("prod-eu");
    expect(config.clusterLabel).toBe("k8s_cluster");
    expect(configErrorFor({ ...OPEN, CLUSTER_LABEL: "k8s-cluster" }).message).toMatch(/^CLUSTER_LABEL must be a Prometheus label name/);
  });

  it("reads every cluster of CLUSTERS_FILE, paths relative to the file, and lets the file name the label", () => {
    const file = clustersFile(`clusterLabel: source_cluster\ndefault: prod-us\n${TWO_CLUSTERS}`);
    const config = loadConfig({ ...OPEN, CLUSTERS_FILE: file });
    expect(config.clusterLabel).toBe("source_cluster");
    expect(config.clusters).toEqual({
      file,
      clusterLabel: "source_cluster",
      defaultCluster: "prod-us",
      clusters: [
        {
          name: "prod-eu",
          kubernetes: { kubeconfig: join(dir as string, "kubeconfigs", "prod-eu.yaml") },
          prometheus: {
            url: "https://mimir.example.com/prometheus",
            bearerTokenFile: join(dir as string, "secrets", "mimir-token"),
            headers: { "X-Scope-OrgID": "prod-eu" },
          },
        },
        { name: "prod-us", kubernetes: { context: "prod-us" }, prometheus: { url: "http://prometheus.us:9090" } },
      ],
    });
  });

  it("accepts the example clusters file shipped in docker/", () => {
    const config = loadConfig({ ...OPEN, CLUSTERS_FILE: "docker/clusters.example.yaml" });
    expect(config.clusters?.clusters.map((c) => c.name)).toEqual(["prod-eu", "prod-us", "staging"]);
    expect(config.clusters?.defaultCluster).toBe("prod-eu");
    expect(config.clusters?.clusters[1]?.prometheus.headers).toEqual({ "X-Scope-OrgID": "prod-us" });
  });

  it("names the file, the line, the cluster and the field of an unknown field", () => {
    const file = clustersFile(TWO_CLUSTERS.replace("      headers:", "      header:"));
    const error = configErrorFor({ ...OPEN, CLUSTERS_FILE: file });
    expect(error.message).toBe(
      `CLUSTERS_FILE ${file}:8: cluster "prod-eu": prometheus: unknown field "header" (known: url, bearerToken, bearerTokenFile, headers)`,
    );
  });

  it("names the cluster whose Prometheus has no url", () => {
    const file = clustersFile(TWO_CLUSTERS.replace("      url: http://prometheus.us:9090\n", "      bearerToken: t0ken\n"));
    const error = configErrorFor({ ...OPEN, CLUSTERS_FILE: file });
    expect(error.message).toBe(`CLUSTERS_FILE ${file}:13: cluster "prod-us": prometheus: url is required`);
  });

  it("reports every problem of a file at once, each on its own line, never echoing a URL", () => {
    const file = clustersFile(`default: staging
clusters:
  prod-eu:
    kubernetes: {}
    prometheus: { url: "ftp://user:secret@prom", bearerToken: a, bearerTokenFile: b }
  prod-us:
    kubernetes: { inCluster: true, context: prod-us }
    prometheus: { url: "http://prom" }
    auditLog: { path: /a, url: "https://b" }
`);
    const lines = configErrorFor({ ...OPEN, CLUSTERS_FILE: file }).message.split("\n");
    expect(lines).toEqual([
      `CLUSTERS_FILE ${file}:4: cluster "prod-eu": kubernetes: needs kubeconfig (a file), context (in KUBECONFIG), or both, or inCluster: true`,
      `CLUSTERS_FILE ${file}:5: cluster "prod-eu": prometheus.url: must be an http:// or https:// URL`,
      `CLUSTERS_FILE ${file}:5: cluster "prod-eu": prometheus.bearerTokenFile: set only one of bearerToken and bearerTokenFile`,
      `CLUSTERS_FILE ${file}:7: cluster "prod-us": kubernetes.inCluster: inCluster: true reads the pod's own ServiceAccount; it cannot be set with kubeconfig or context`,
      `CLUSTERS_FILE ${file}:9: cluster "prod-us": auditLog: needs exactly one of path and url`,
      `CLUSTERS_FILE ${file}:1: default: names no cluster of this file (prod-eu, prod-us)`,
    ]);
    expect(lines.join("\n")).not.toContain("secret");
  });

  it("refuses a file that is missing, not YAML, smuggles a header, or names no cluster", () => {
    const missing = join(tmpdir(), "enricher-no-such-dir", "clusters.yaml");
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: missing }).message).toBe(`CLUSTERS_FILE ${missing} could not be read: ENOENT`);
    const broken = clustersFile("clusters:\n  prod-eu: [\n");
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: broken }).message).toMatch(new RegExp(`^CLUSTERS_FILE ${broken}:\\d+: not YAML: `));
    const smuggled = clustersFile(
      'clusters:\n  a:\n    kubernetes: { context: a }\n    prometheus: { url: "http://p", headers: { X-Scope-OrgID: "a\\r\\nX-Evil: 1" } }\n',
    );
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: smuggled }).message).toBe(
      `CLUSTERS_FILE ${smuggled}:4: cluster "a": prometheus.headers.X-Scope-OrgID: a header value must be printable ASCII on one line`,
    );
    const empty = clustersFile("clusters: {}\n");
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: empty }).message).toBe(`CLUSTERS_FILE ${empty}:1: clusters: names no cluster`);
  });

  it("refuses CLUSTER_NAME beside CLUSTERS_FILE, and a CLUSTER_LABEL that disagrees with the file's", () => {
    const file = clustersFile(`clusterLabel: source_cluster\n${TWO_CLUSTERS}`);
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: file, CLUSTER_NAME: "prod-eu" }).message).toBe(
      "set CLUSTER_NAME (one cluster) or CLUSTERS_FILE (several, each named in the file), not both",
    );
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: file, CLUSTER_LABEL: "cluster" }).message).toBe(
      `CLUSTER_LABEL=cluster disagrees with clusterLabel: source_cluster in CLUSTERS_FILE ${file}: set one of them`,
    );
    expect(loadConfig({ ...OPEN, CLUSTERS_FILE: file, CLUSTER_LABEL: "source_cluster" }).clusterLabel).toBe("source_cluster");
  });

  it("refuses what would be silently ignored: CLUSTER_LABEL alone, and single-cluster settings beside CLUSTERS_FILE", () => {
    expect(configErrorFor({ ...OPEN, CLUSTER_LABEL: "k8s_cluster" }).message).toBe(
      "CLUSTER_LABEL is set but neither CLUSTER_NAME nor CLUSTERS_FILE: without a cluster name to compare it with, the label would not be read",
    );
    const file = clustersFile(TWO_CLUSTERS);
    expect(
      configErrorFor({ ...OPEN, CLUSTERS_FILE: file, PROMETHEUS_URL: "http://p:9090", AUDIT_LOG_PATH: "/var/log/audit.log" }).message,
    ).toBe(
      `PROMETHEUS_URL, AUDIT_LOG_PATH are not used with CLUSTERS_FILE: set each cluster's prometheus and auditLog in ${file}, and unset them`,
    );
  });

  it("refuses a Prometheus header the service sets itself", () => {
    const file = clustersFile(
      `clusters:\n  a:\n    kubernetes: { context: a }\n    prometheus: { url: "http://p:9090", headers: { User-Agent: x } }\n`,
    );
    expect(configErrorFor({ ...OPEN, CLUSTERS_FILE: file }).message).toBe(
      `CLUSTERS_FILE ${file}:4: cluster "a": prometheus.headers.User-Agent: User-Agent is set by the service itself and cannot be configured`,
    );
  });

  it("names a broken KUBECONFIG without quoting it: a kubeconfig holds tokens", () => {
    const broken = clustersFile("apiVersion: v1\nusers:\n- name: u\n  user:\n    token: SECRET-TOKEN-abc123\n   bad: [\n");
    let message = "";
    try {
      createClusterSelection(loadConfig({ ...OPEN, KUBECONFIG: broken }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^KUBECONFIG: /);
    expect(message).not.toContain("SECRET-TOKEN");
  });
});
