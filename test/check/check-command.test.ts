// `enricher check` as an operator runs it (`node bin/enricher.ts check`) against the fake cluster and Prometheus and the
// Slack and PagerDuty stand-ins: one line per check, exit 1 when a check fails, and nothing posted or changed anywhere.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { metricNames, metricNeeds } from "../../src/check/metric-families.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { freePort } from "../../testkit/loopback-server.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { killChildren, REPO_ROOT, runNode } from "../support/node-process.ts";
import { PAGERDUTY_STANDIN_API_TOKEN, type PagerDutyRestStandIn, startPagerDutyRestStandIn } from "../support/pagerduty-rest-standin.ts";
import { SLACK_STANDIN_BOT_TOKEN, type SlackWebApiStandIn, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const ALL_METRICS = metricNames(metricNeeds(loadPlaybooks(`${REPO_ROOT}/rules`)));

let cluster: DemoCluster | undefined;
let slack: SlackWebApiStandIn | undefined;
let pagerduty: PagerDutyRestStandIn | undefined;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-check-"));
});

afterEach(async () => {
  rmSync(dir, { recursive: true, force: true });
  await killChildren();
  await Promise.all([cluster?.close(), slack?.close(), pagerduty?.close()]);
  cluster = slack = pagerduty = undefined;
});

async function startCluster(options: { denied?: string[]; metrics?: readonly string[] } = {}): Promise<DemoCluster> {
  const denied = new Set(options.denied ?? []);
  cluster = await startDemoCluster(scenarioNamed("credentials-rejected"), {
    access: (a) => !denied.has(`${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ""}`),
  });
  cluster.prometheus.setMetricNames(options.metrics ?? ALL_METRICS);
  return cluster;
}

async function check(env: Record<string, string>) {
  const result = await runNode(["bin/enricher.ts", "check"], { env });
  return { ...result, lines: result.stdout.trimEnd().split("\n") };
}

describe("enricher check", () => {
  it("says ok for each check and exits 0 when every permission, metric family and credential is there", async () => {
    const { env, kube } = await startCluster();
    const result = await check(env);
    expect(result.stderr).toBe("");
    expect(result.lines).toEqual([
      expect.stringMatching(/^ok {4}kubernetes {2}http:\/\/127\.0\.0\.1:\d+: all 21 reads the playbooks need are allowed$/),
      expect.stringMatching(
        /^ok {4}prometheus {2}127\.0\.0\.1:\d+: all \d+ metric families the playbooks query have series in the last hour$/,
      ),
      "ok    sinks  none configured: diagnoses go to the console (stdout)",
    ]);
    expect(result.code).toBe(0);
    // Asked, not read or changed: SelfSubjectAccessReviews only, sent with our User-Agent.
    expect(kube.requests.length).toBe(21);
    expect(kube.requests.every((r) => r.method === "POST" && r.path === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).toBe(
      true,
    );
    expect(kube.requests.every((r) => r.userAgent?.startsWith("alert-enricher/"))).toBe(true);
  });

  it("fails naming each missing permission and the playbook steps it starves, with the fix", async () => {
    const { env } = await startCluster({ denied: ["list pods", "get pods/log"] });
    const result = await check(env);
    const failures = result.lines.filter((l) => l.startsWith("FAIL"));
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(
      /^FAIL {2}kubernetes {2}http:\/\/127\.0\.0\.1:\d+: may not list pods, which starves KubeAPIErrorBudgetBurn\/apiserver_pods, /,
    );
    expect(failures[0]).toMatch(
      / and 3 more; grant it to this identity \(the ClusterRole alert-enricher-read in docker\/kubernetes\/base\/clusterrole\.yaml has it\)$/,
    );
    expect(failures[1]).toContain("may not get pods/log, which starves KubeAggregatedAPIErrors/backend_logs");
    expect(result.lines.some((l) => l.startsWith("ok    prometheus"))).toBe(true);
    expect(result.code).toBe(1);
  });

  it("warns about a metric family Prometheus lacks, naming the steps it starves, and still exits 0", async () => {
    const { env } = await startCluster({ metrics: ALL_METRICS.filter((m) => m !== "rest_client_requests_total") });
    const result = await check(env);
    const warnings = result.lines.filter((l) => l.startsWith("warn"));
    expect(warnings).toEqual([
      expect.stringMatching(
        /^warn {2}prometheus {2}127\.0\.0\.1:\d+: no series of rest_client_requests_total in the last hour, which starves KubeClientErrors\/client_error_ratio_by_code, KubeClientErrors\/client_errors_by_host, KubeClientErrors\/clients_over_threshold, KubeClientErrors\/client_error_history and 4 more; if the cluster runs the component that exports it, check that Prometheus scrapes it$/,
      ),
    ]);
    expect(result.code).toBe(0);
  });

  it("does not warn about one alternative of an `or` while another is there", async () => {
    const { env } = await startCluster({ metrics: ALL_METRICS.filter((m) => m !== "apiserver_storage_size_bytes") });
    const result = await check(env);
    expect(result.lines.filter((l) => l.startsWith("warn"))).toEqual([]);
    expect(result.code).toBe(0);
  });

  it("fails when Prometheus cannot be reached, naming PROMETHEUS_URL", async () => {
    const { env } = await startCluster();
    const port = await freePort();
    const result = await check({ ...env, PROMETHEUS_URL: `http://127.0.0.1:${port}` });
    expect(result.lines).toContain(
      `FAIL  prometheus  cannot reach Prometheus at 127.0.0.1:${port} (ECONNREFUSED); check PROMETHEUS_URL and that it is reachable from here`,
    );
    expect(result.code).toBe(1);
  });

  it("fails when the API server cannot be reached, in one line", async () => {
    const { env } = await startCluster();
    const port = await freePort();
    const kubeconfig = join(dir, "kubeconfig.yaml");
    writeFileSync(kubeconfig, readFileSync(env.KUBECONFIG, "utf8").replace(/http:\/\/127\.0\.0\.1:\d+/, `http://127.0.0.1:${port}`));
    const result = await check({ ...env, KUBECONFIG: kubeconfig });
    const kubernetes = result.lines.filter((l) => l.includes("  kubernetes  "));
    expect(kubernetes).toEqual([
      expect.stringMatching(
        /^FAIL {2}kubernetes {2}http:\/\/127\.0\.0\.1:\d+: API server could not be reached: .*; check the server address and that it is reachable from here \(KUBECONFIG\)$/,
      ),
    ]);
    expect(result.code).toBe(1);
  });

  it("fails on a Slack bot token auth.test refuses, and posts nothing", async () => {
    const { env } = await startCluster();
    slack = await startSlackWebApiStandIn();
    const slackEnv = { SLACK_API_URL: `${slack.url}/api`, SLACK_CHANNEL: "alerts" };
    const bad = await check({ ...env, ...slackEnv, SLACK_BOT_TOKEN: "xoxb-0000000000-0000000000-NotTheRightToken" });
    expect(bad.lines).toContain(
      "FAIL  slack  SLACK_BOT_TOKEN refused by auth.test (invalid_auth): set it to the app's Bot User OAuth Token (xoxb-…) from its OAuth & Permissions page",
    );
    expect(bad.stdout).not.toContain("NotTheRightToken");
    expect(bad.code).toBe(1);
    const good = await check({ ...env, ...slackEnv, SLACK_BOT_TOKEN: SLACK_STANDIN_BOT_TOKEN });
    expect(good.lines).toContain(
      "ok    slack  SLACK_BOT_TOKEN accepted by auth.test (bot user alert-enricher in Enricher Stand-in); whether the bot may post in SLACK_CHANNEL is not checked",
    );
    expect(good.code).toBe(0);
    expect(slack.messages).toEqual([]);
  });

  it("says a Slack incoming webhook is not checked, as a warning", async () => {
    const { env } = await startCluster();
    const result = await check({ ...env, SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX" });
    expect(result.lines).toContain("warn  slack  SLACK_WEBHOOK_URL not checked (an incoming webhook cannot be tested without posting)");
    expect(result.stdout).not.toContain("XXXXXXXXXXXXXXXX");
    expect(result.code).toBe(0);
  });

  it("checks a PagerDuty REST token with GET /abilities and a routing key by its form only", async () => {
    const { env } = await startCluster();
    pagerduty = await startPagerDutyRestStandIn();
    const pdEnv = { PAGERDUTY_API_URL: pagerduty.apiUrl, PAGERDUTY_FROM_EMAIL: "oncall@example.com", PAGERDUTY_MODE: "both" };
    const bad = await check({
      ...env,
      ...pdEnv,
      PAGERDUTY_API_TOKEN: "u+WrongTokenWrongToken",
      PAGERDUTY_ROUTING_KEY: "0123456789abcdef-0123456789abcde",
    });
    expect(bad.lines).toContain(
      "FAIL  pagerduty  PAGERDUTY_API_TOKEN refused by GET /abilities (401): set it to a REST API key (Integrations → API Access Keys)",
    );
    expect(bad.lines).toContain(
      "FAIL  pagerduty  PAGERDUTY_ROUTING_KEY is 32 characters with more than letters and digits, an integration key is 32 letters and digits: copy the Integration Key of the service's Events API v2 integration",
    );
    expect(bad.code).toBe(1);
    const good = await check({
      ...env,
      ...pdEnv,
      PAGERDUTY_API_TOKEN: PAGERDUTY_STANDIN_API_TOKEN,
      PAGERDUTY_ROUTING_KEY: "0123456789abcdef0123456789ABCDEF",
    });
    expect(good.lines.filter((l) => l.includes("  pagerduty  "))).toEqual([
      "ok    pagerduty  PAGERDUTY_API_TOKEN accepted by GET /abilities; whether it may add notes (write access) is not checked",
      "ok    pagerduty  PAGERDUTY_ROUTING_KEY has the form of an integration key (32 characters); format check only: the Events API cannot test a key without sending an event",
    ]);
    expect(good.code).toBe(0);
    expect(pagerduty.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /abilities", "GET /abilities"]);
  });

  it("checks each cluster of CLUSTERS_FILE on its own, naming it in every line", async () => {
    const eu = await startCluster({ denied: ["get services"] });
    const us = await startDemoCluster(scenarioNamed("credentials-rejected"));
    us.prometheus.setMetricNames(ALL_METRICS);
    const file = join(dir, "clusters.yaml");
    writeFileSync(
      file,
      `clusters:\n  prod-eu:\n    kubernetes: { kubeconfig: ${eu.kube.kubeconfigPath} }\n    prometheus: { url: ${eu.prometheus.url} }\n` +
        `  prod-us:\n    kubernetes: { kubeconfig: ${us.kube.kubeconfigPath} }\n    prometheus: { url: ${us.prometheus.url} }\n`,
    );
    try {
      const result = await check({ CLUSTERS_FILE: file });
      expect(result.lines.map((l) => l.replace(/^(\S+) +/, "$1 ").split("  ")[0])).toEqual([
        "FAIL kubernetes (prod-eu)",
        "ok prometheus (prod-eu)",
        "ok kubernetes (prod-us)",
        "ok prometheus (prod-us)",
        "ok sinks",
      ]);
      expect(result.lines[0]).toContain("may not get services, which starves KubeAggregatedAPIErrors/backing_service;");
      expect(result.code).toBe(1);
    } finally {
      await us.close();
    }
  });

  it("exits 2 on an argument it does not take, and 0 with its usage for --help", async () => {
    const usage = await runNode(["bin/enricher.ts", "check", "--cluster", "x"], {});
    expect(usage.stderr).toContain("check takes no arguments, not --cluster x");
    expect(usage.code).toBe(2);
    const help = await runNode(["bin/enricher.ts", "check", "--help"], {});
    expect(help.stdout).toMatch(/^usage:\n {2}enricher check {3,}preflight: /);
    expect(help.code).toBe(0);
  });
});
