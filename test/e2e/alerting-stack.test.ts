// The real alerting stack in front of the service, on two releases side by side (alerting-stacks.ts): Debian's
// Prometheus 2.42 / Alertmanager 0.25, and the current Prometheus 3.x / Alertmanager 0.3x built from their Go modules
// by .ci/build-prometheus-stack. Prometheus scrapes test exporters every second and evaluates the runbooks' own alert
// expressions; Alertmanager groups the alerts and POSTs them, with a bearer token and send_resolved, to the service
// started in-process; the service reads a fixture Kubernetes API and queries the same real Prometheus, then delivers to
// the Slack Web API and PagerDuty Events stand-ins. Each release gets a stack and a service of its own; the two run
// at the same time (their tests are mostly waiting), each stack's tests in order.
//
// One stack per release serves its tests (about 90 s; machine-facts.md "Real alerting stack"):
//   0. The binaries started are the releases named.
//   1. The client-go exporter starts broken (401s). KubernetesApiClientErrors fires ~13 s after start (5 s target
//      discovery batch, 2 scrapes for rate(), for: 5s, group_wait 1s) and the diagnosis names authentication_failure.
//   2. The client turns healthy and a kubelet's client certificate nears expiry: KubernetesClientCertificateExpiresSoon
//      (the corrected, shipped rule) fires within seconds; the runbook's original rule stays silent on the same series.
//   3. Meanwhile the 401s age out of KubernetesApiClientErrors' [1m] window: Alertmanager sends the resolve about 60 s
//      after the switch, Slack's message turns RESOLVED and PagerDuty gets a resolve with the trigger's dedup_key.
// Debian's binaries come from the `prometheus` and `prometheus-alertmanager` packages, the built ones from the test
// tools cache (.ci/install-test-deps provides both); if one is missing, that stack's beforeAll throws and its tests
// fail, naming the fix. Nothing is skipped.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, startService } from "../../src/service.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { type ClusterState, type FakeKubeApi, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { pagerDutyDedupKey, type PagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { type RunningAlertmanager, startAlertmanager } from "../support/alertmanager-server.ts";
import { type AlertingStack, alertingStacks } from "../support/alerting-stacks.ts";
import { clientGoShare, type MetricsExporter, startMetricsExporter } from "../support/metrics-exporter.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { freePort } from "../../testkit/loopback-server.ts";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus-server.ts";
import { type SlackWebApiStandIn, type StandInMessage, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const TOKEN = "e2e-alerting-stack-token-0123456789";
const ROUTING_KEY = "R0123456789abcdef0123456789abcdef".slice(0, 32);
const API_CLIENT_ERRORS = "KubernetesApiClientErrors";
const CERT_EXPIRES_SOON = "KubernetesClientCertificateExpiresSoon";
/** The label that tells the runbook's original certificate rule from the shipped, corrected one. */
const RUNBOOK_ORIGINAL = { rule: "runbook-original" };

// In-cluster addresses of the scraped components, as Kubernetes service discovery would name them: the exporters
// listen on 127.0.0.1, and each scrape target's `instance` label is set to the pod or node address below, which is
// what the fixture cluster (rules/tests/*.yaml) holds. The client playbook finds the client's pod by that address.
const CLIENT = { job: "argocd-metrics", instance: "10.244.3.21:8082" };
const APISERVER = { job: "apiserver", instance: "172.18.0.2:6443" };
const KUBELETS = [
  { node: "worker-1", instance: "10.0.1.11:10250" },
  { node: "worker-2", instance: "10.0.1.12:10250" },
];

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

interface PromRule {
  name: string;
  state?: string;
  health?: string;
  lastEvaluation?: string;
  alerts?: PromAlert[];
}

/** The rule in a runbook's "Alert Rule" YAML block, exactly as written there. */
function runbookRule(alertname: string): Rule {
  const markdown = readFileSync(join(ROOT, "rules", "runbooks", `${alertname}.md`), "utf8");
  const block = /```yaml\n(alert: [\s\S]*?)```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error(`no alert rule block in rules/runbooks/${alertname}.md`);
  const rule = parse(block) as Rule;
  expect(rule.alert).toBe(alertname);
  return rule;
}

/** A rule of docker/prometheus/alert-enricher-alerts.rules.yml, as shipped. */
function shippedRule(alertname: string): Rule {
  const file = parse(readFileSync(join(ROOT, "docker", "prometheus", "alert-enricher-alerts.rules.yml"), "utf8")) as {
    groups: Array<{ rules: Rule[] }>;
  };
  const rule = file.groups.flatMap((g) => g.rules).find((r) => r.alert === alertname);
  if (rule === undefined) throw new Error(`${alertname} is not in alert-enricher-alerts.rules.yml`);
  return rule;
}

/**
 * KubernetesApiClientErrors: the runbook's expression, verbatim ([1m] windows included), with `for: 2m` shortened to 5s.
 * KubernetesClientCertificateExpiresSoon: the shipped, corrected rule, verbatim (its `for: 0m` is already short), and
 * the runbook's original rule, verbatim but for a `rule: runbook-original` label to tell its alerts apart.
 */
function rulesFile(): string {
  const apiClientErrors = runbookRule(API_CLIENT_ERRORS);
  const original = runbookRule(CERT_EXPIRES_SOON);
  return stringify({
    groups: [
      { name: "runbook.api-clients", rules: [{ ...apiClientErrors, for: "5s" }] },
      { name: "shipped.client-certificates", rules: [shippedRule(CERT_EXPIRES_SOON)] },
      {
        name: "runbook-original.client-certificates",
        rules: [{ ...original, labels: { ...original.labels, ...RUNBOOK_ORIGINAL } }],
      },
    ],
  });
}

/** "now-5m" → RFC 3339, as the playbook test runner reads rules/tests/*.yaml. */
function resolveTimes<T>(value: T, now: number): T {
  if (typeof value === "string") {
    const match = /^now(?:([-+])(\d+)(ms|s|m|h))?$/.exec(value);
    if (!match) return value;
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[3] as "ms" | "s" | "m" | "h"] ?? 0;
    const offset = match[2] !== undefined ? Number(match[2]) * unit * (match[1] === "-" ? -1 : 1) : 0;
    return new Date(now + offset).toISOString() as T;
  }
  if (Array.isArray(value)) return value.map((v) => resolveTimes(v, now)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTimes(v, now)])) as T;
  }
  return value;
}

/**
 * The playbook tests' default clusters for both alerts (rules/tests/KubernetesApiClientErrors.yaml and
 * ...CertificateExpiresSoon.yaml) in one cluster, plus what the exporters' broken states imply: the client's log shows
 * its 401s, and worker-2's renewal CSR waits for approval (as in the certificate tests' demo case).
 */
function clusterState(): ClusterState {
  const now = Date.now();
  const defaults = [API_CLIENT_ERRORS, CERT_EXPIRES_SOON].map((name) => {
    const file = parse(readFileSync(join(ROOT, "rules", "tests", `${name}.yaml`), "utf8")) as { cluster: ClusterState };
    return resolveTimes(file.cluster, now);
  });
  const objects = new Map<string, KubeObject>();
  for (const object of defaults.flatMap((d) => d.objects)) {
    objects.set(`${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`, object);
  }
  const pendingCsr: KubeObject = {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { name: "csr-7x9kq", creationTimestamp: new Date(now - 47 * 60_000).toISOString() },
    spec: {
      signerName: "kubernetes.io/kube-apiserver-client-kubelet",
      username: "system:node:worker-2",
      groups: ["system:nodes", "system:authenticated"],
      usages: ["digital signature", "client auth"],
    },
    status: {},
  };
  return {
    objects: [...objects.values(), pendingCsr],
    logs: {
      ...Object.assign({}, ...defaults.map((d) => d.logs ?? {})),
      "argocd/argocd-application-controller-0/argocd-application-controller": [
        'time="2026-11-23T09:40:58Z" level=info msg="Processing all cluster shards"',
        'time="2026-11-23T09:41:00Z" level=error msg="Failed to watch *v1alpha1.Application: failed to list *v1alpha1.Application: Unauthorized"',
        'time="2026-11-23T09:41:01Z" level=error msg="PATCH https://10.96.0.1:443/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/guestbook: 401 Unauthorized"',
      ].join("\n"),
    },
  };
}

function seconds(from: number, to = Date.now()): string {
  return `${((to - from) / 1000).toFixed(1)} s`;
}

/** One release's stack, its service, and the stand-ins it delivers to. */
class StackRun {
  dir = "";
  clientGo!: MetricsExporter;
  apiserver!: MetricsExporter;
  kubelets: MetricsExporter[] = [];
  cluster!: FakeKubeApi;
  slack!: SlackWebApiStandIn;
  pagerduty!: PagerDutyStandIn;
  alertmanager: RunningAlertmanager | undefined;
  prometheus: RunningPrometheus | undefined;
  service: RunningService | undefined;
  startedAt = 0;
  /** When the client turned healthy (test 2), the start of the resolve's ~60 s. */
  clientHealthyAt: number | undefined;
  readonly timings: string[] = [];

  readonly stack: AlertingStack;

  constructor(stack: AlertingStack) {
    this.stack = stack;
  }

  get prometheusUrl(): string {
    if (this.prometheus === undefined) throw new Error("Prometheus did not start (see beforeAll's error)");
    return this.prometheus.url;
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    const binaries = this.stack.binaries();
    this.dir = mkdtempSync(join(tmpdir(), "enricher-alerting-stack-"));
    this.clientGo = await startMetricsExporter({ component: "client-go", state: "broken" });
    this.apiserver = await startMetricsExporter({ component: "apiserver" });
    this.kubelets = await Promise.all(KUBELETS.map((k) => startMetricsExporter({ component: "kubelet", node: k.node })));
    this.cluster = await startFakeKubeApi(clusterState());
    this.slack = await startSlackWebApiStandIn();
    this.pagerduty = await startPagerDutyStandIn();

    // Alertmanager needs the service's URL and the service needs Prometheus', so the service's port is chosen first.
    // A webhook that arrives before the service listens is retried by Alertmanager.
    const servicePort = await freePort();
    this.alertmanager = await startAlertmanager({
      binary: binaries.alertmanager,
      webhookUrl: `http://127.0.0.1:${servicePort}/alerts`,
      bearerToken: TOKEN,
      groupWait: "1s",
      groupInterval: "5s",
      repeatInterval: "1h",
    });
    const rules = join(this.dir, "alert-rules.yml");
    writeFileSync(rules, rulesFile());
    this.prometheus = await startPrometheus({
      binary: binaries.prometheus,
      rulesFiles: [rules],
      alertmanagerUrl: this.alertmanager.url,
      evaluationInterval: "1s",
      scrapeTargets: [
        { job: CLIENT.job, address: this.clientGo.address, labels: { instance: CLIENT.instance } },
        // kube-prometheus scrapes the API server through the `kubernetes` Service, which adds these target labels;
        // they are what keeps the runbook's certificate rule from ever matching (docker/prometheus/README.md).
        {
          job: APISERVER.job,
          address: this.apiserver.address,
          labels: { instance: APISERVER.instance, namespace: "default", service: "kubernetes", endpoint: "https" },
        },
        ...KUBELETS.map((k, i) => ({ job: "kubelet", address: this.kubelets[i]?.address ?? "", labels: { instance: k.instance } })),
      ],
    });
    this.service = await startService(
      loadConfig({
        PORT: String(servicePort),
        HOST: "127.0.0.1",
        WEBHOOK_BEARER_TOKEN: TOKEN,
        DATABASE_URL: `sqlite:${join(this.dir, "enricher.db")}`,
        KUBECONFIG: this.cluster.kubeconfigPath,
        PROMETHEUS_URL: this.prometheus.url,
        ALERTMANAGER_URL: this.alertmanager.url,
        SLACK_BOT_TOKEN: this.slack.token,
        SLACK_CHANNEL: this.slack.channelId,
        SLACK_API_URL: this.slack.apiUrl,
        PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
        PAGERDUTY_EVENTS_URL: this.pagerduty.eventsUrl,
      }),
      { logger: createLogger(process.env.E2E_LOG ?? "silent"), pollIntervalMs: 50, deliveryBackoff: { baseMs: 50, maxMs: 200 } },
    );
    this.timings.push(`stack up: ${seconds(this.startedAt)}`);
  }

  async stop(): Promise<void> {
    // Each layer is stopped even when another fails to stop: first what sends, then what receives.
    const stops = async (...fns: Array<(() => Promise<void>) | undefined>) => {
      await Promise.allSettled(fns.map(async (fn) => fn?.()));
    };
    await stops(this.prometheus?.stop);
    await stops(this.alertmanager?.stop);
    await stops(this.service?.stop);
    await stops(
      this.clientGo?.close,
      this.apiserver?.close,
      ...this.kubelets.map((k) => k.close),
      this.cluster?.close,
      this.slack?.close,
      this.pagerduty?.close,
    );
    if (this.dir !== "") rmSync(this.dir, { recursive: true, force: true });
    console.log(`alerting stack timings, ${this.stack.name}:\n  ${this.timings.join("\n  ")}`);
  }

  async until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.stack.name}: timed out after ${timeoutMs} ms waiting for ${what}\n--- Alertmanager ---\n${this.alertmanager?.output().slice(-3000)}\n--- Prometheus ---\n${this.prometheus?.output().slice(-3000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async promApi<T>(path: string): Promise<T> {
    const response = await fetch(`${this.prometheusUrl}/api/v1/${path}`);
    const body = (await response.json()) as { status: string; data: T };
    expect(body.status).toBe("success");
    return body.data;
  }

  async query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const data = await this.promApi<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
      `query?query=${encodeURIComponent(expr)}`,
    );
    return data.result;
  }

  async prometheusAlerts(): Promise<PromAlert[]> {
    return (await this.promApi<{ alerts: PromAlert[] }>("alerts")).alerts;
  }

  /** The Slack message of an alert group (one per group), if posted. */
  slackMessage(alertname: string): StandInMessage | undefined {
    return this.slack.parents().find((m) => JSON.stringify(m).includes(alertname));
  }

  pagerDutyEvents(alertname: string, action: PagerDutyEvent["event_action"]): PagerDutyEvent[] {
    return this.pagerduty.events.filter(
      (e) => e.event_action === action && e.dedup_key === pagerDutyDedupKey(`{}:{alertname="${alertname}"}`),
    );
  }
}

// The stacks run side by side (concurrent suites, one worker); each one's tests in order (it.sequential).
describe.concurrent.each(alertingStacks().map((stack) => [stack.name, stack] as const))(
  "the real %s in front of the service",
  (_, stack) => {
    const run = new StackRun(stack);
    beforeAll(() => run.start(), 60_000);
    afterAll(() => run.stop(), 30_000);

    it.sequential("runs the Prometheus and Alertmanager releases it names", () => {
      expect(run.prometheus?.version).toMatch(stack.prometheusVersion);
      expect(run.alertmanager?.version).toMatch(stack.alertmanagerVersion);
      run.timings.unshift(`Prometheus ${run.prometheus?.version}, Alertmanager ${run.alertmanager?.version}`);
    });

    it.sequential(
      "fires the runbook's KubernetesApiClientErrors on the client's 401s, and the service names authentication_failure",
      async () => {
        await run.until(
          `the ${API_CLIENT_ERRORS} diagnosis in Slack and PagerDuty`,
          () => run.slackMessage(API_CLIENT_ERRORS) !== undefined && run.pagerDutyEvents(API_CLIENT_ERRORS, "trigger").length > 0,
          50_000,
        );
        run.timings.push(`${API_CLIENT_ERRORS} diagnosis in Slack and PagerDuty: ${seconds(run.startedAt)} after start`);

        // Prometheus evaluated the runbook's expression on the scraped series: the alert carries the target's labels.
        const firing = (await run.prometheusAlerts()).filter((a) => a.labels.alertname === API_CLIENT_ERRORS);
        expect(firing).toEqual([
          expect.objectContaining({ state: "firing", labels: { alertname: API_CLIENT_ERRORS, severity: "critical", ...CLIENT } }),
        ]);

        // The share of 401s the diagnosis quotes is the exporter's, measured through the real Prometheus.
        const text = JSON.stringify(run.slackMessage(API_CLIENT_ERRORS));
        const quoted = /authentication fails\s+on ([\d.]+)% of its requests/.exec(text);
        expect(quoted, text).not.toBeNull();
        expect(Number(quoted?.[1])).toBeGreaterThan(clientGoShare("401", "broken") * 100 - 5);
        expect(Number(quoted?.[1])).toBeLessThan(clientGoShare("401", "broken") * 100 + 5);
        expect(text).toContain(`${CLIENT.job}`);
        expect(text).toContain("FIRING");

        const [trigger] = run.pagerDutyEvents(API_CLIENT_ERRORS, "trigger");
        expect(trigger?.payload.class).toBe(API_CLIENT_ERRORS);
        expect(trigger?.payload.source).toBe(CLIENT.instance);
        const details = JSON.stringify(trigger?.payload.custom_details);
        expect(details).toContain("Client credentials rejected (401)");
        // The client's pod was found by the alert's instance address and its log read.
        expect(details).toContain("argocd/argocd-application-controller");
        expect(run.cluster.requests.some((r) => r.path.endsWith("/pods/argocd-application-controller-0/log"))).toBe(true);
      },
      60_000,
    );

    it.sequential(
      "fires the corrected KubernetesClientCertificateExpiresSoon when a kubelet's certificate nears expiry; the runbook's rule stays silent",
      async () => {
        run.clientGo.setHealthy();
        run.clientHealthyAt = Date.now();
        const brokenAt = Date.now();
        run.apiserver.setBroken();
        run.kubelets[1]?.setBroken();

        await run.until(
          `the ${CERT_EXPIRES_SOON} diagnosis in Slack and PagerDuty`,
          () => run.slackMessage(CERT_EXPIRES_SOON) !== undefined && run.pagerDutyEvents(CERT_EXPIRES_SOON, "trigger").length > 0,
          40_000,
        );
        run.timings.push(`${CERT_EXPIRES_SOON} diagnosis in Slack and PagerDuty: ${seconds(brokenAt)} after the certificate broke`);

        const text = JSON.stringify(run.slackMessage(CERT_EXPIRES_SOON));
        expect(text).toMatch(/kubelet on worker-2 expires in \d+m/);
        expect(text).toContain("its renewal request csr-7x9kq is waiting for approval");
        const [trigger] = run.pagerDutyEvents(CERT_EXPIRES_SOON, "trigger");
        expect(trigger?.payload.source).toBe(APISERVER.instance);
        expect(JSON.stringify(trigger?.payload.custom_details)).toContain("rotation is not renewing it");

        // The shipped rule fired with {job, instance}; the runbook's original rule, fed the same series and evaluated
        // every second since, has no alert at all.
        const alerts = (await run.prometheusAlerts()).filter((a) => a.labels.alertname === CERT_EXPIRES_SOON);
        expect(alerts).toEqual([
          expect.objectContaining({ state: "firing", labels: { alertname: CERT_EXPIRES_SOON, severity: "critical", ...APISERVER } }),
        ]);
        expect(alerts.filter((a) => a.labels.rule === RUNBOOK_ORIGINAL.rule)).toEqual([]);
        const groups = (await run.promApi<{ groups: Array<{ name: string; rules: PromRule[] }> }>("rules?type=alert")).groups;
        const original = groups.find((g) => g.name === "runbook-original.client-certificates")?.rules[0];
        expect(original).toEqual(expect.objectContaining({ name: CERT_EXPIRES_SOON, health: "ok", state: "inactive", alerts: [] }));
        expect(Date.parse(original?.lastEvaluation ?? "")).toBeGreaterThan(brokenAt);
        // Both sides of its `and` have data; they never match because their label sets differ.
        const [left, right] = runbookRule(CERT_EXPIRES_SOON).expr.split(" and ");
        expect(await run.query(left ?? "")).not.toEqual([]);
        expect(await run.query(right ?? "")).not.toEqual([]);
        expect(await run.query(runbookRule(CERT_EXPIRES_SOON).expr)).toEqual([]);
      },
      45_000,
    );

    it.sequential(
      "resolves KubernetesApiClientErrors in Slack and PagerDuty once the 401s leave the rule's [1m] window",
      async () => {
        expect(run.clientHealthyAt, "the client turned healthy in the previous test").toBeDefined();
        const healthyAt = run.clientHealthyAt ?? Date.now();
        const [trigger] = run.pagerDutyEvents(API_CLIENT_ERRORS, "trigger");
        const message = run.slackMessage(API_CLIENT_ERRORS);
        // [1m] windows: the last 401 increase leaves the window ~60 s after the switch; then the group_interval flush.
        await run.until(
          `the ${API_CLIENT_ERRORS} resolve in Slack and PagerDuty`,
          () =>
            run.pagerDutyEvents(API_CLIENT_ERRORS, "resolve").length > 0 &&
            JSON.stringify(run.slackMessage(API_CLIENT_ERRORS)?.updates.at(-1) ?? {}).includes("RESOLVED") &&
            run.slack.replies(message?.ts ?? "").some((m) => JSON.stringify(m).includes("Resolved after")),
          Math.max(1000, healthyAt + 100_000 - Date.now()),
        );
        run.timings.push(`${API_CLIENT_ERRORS} resolve in Slack and PagerDuty: ${seconds(healthyAt)} after the 401s stopped`);

        const [resolve] = run.pagerDutyEvents(API_CLIENT_ERRORS, "resolve");
        expect(resolve?.dedup_key).toBe(trigger?.dedup_key);
        expect(resolve?.routing_key).toBe(ROUTING_KEY);
        // One message per group: the resolve edited the message the trigger posted.
        expect(run.slack.parents().filter((m) => JSON.stringify(m).includes(API_CLIENT_ERRORS))).toHaveLength(1);
        expect(run.slackMessage(API_CLIENT_ERRORS)?.ts).toBe(message?.ts);
        // The certificate alert is still firing: its resolve was not sent.
        expect(run.pagerDutyEvents(CERT_EXPIRES_SOON, "resolve")).toEqual([]);
        expect((await run.prometheusAlerts()).some((a) => a.labels.alertname === API_CLIENT_ERRORS)).toBe(false);
      },
      110_000,
    );
  },
);
