// The whole path in one process, as a user runs it: HTTP receiver → SQLite → playbook against the (fake) cluster and
// Prometheus → diagnosis → Slack and PagerDuty stand-ins that check what the real services check.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, type ServiceOverrides, startService } from "../../src/service.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { AlertmanagerPayload } from "../../src/model/alertmanager.ts";
import { buildApp } from "../../src/server/app.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import type { FakeKubeOptions } from "../../testkit/fixture-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

const TOKEN = "e2e-token-0123456789abcdef";
const ROUTING_KEY = "R0123456789abcdef0123456789abcde".slice(0, 32);

let dir: string;
let cluster: DemoCluster;
let slack: SlackStandIn;
let pagerduty: PagerDutyStandIn;
let service: RunningService | undefined;

async function setUp(kubeOptions: FakeKubeOptions = {}) {
  dir = mkdtempSync(join(tmpdir(), "enricher-e2e-"));
  cluster = await startDemoCluster(scenarioNamed("credentials-rejected"), kubeOptions);
  slack = await startSlackStandIn();
  pagerduty = await startPagerDutyStandIn();
}

function env(extra: Record<string, string> = {}) {
  return {
    ...cluster.env,
    PORT: "0",
    HOST: "127.0.0.1",
    WEBHOOK_BEARER_TOKEN: TOKEN,
    DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
    SLACK_WEBHOOK_URL: slack.webhookUrl,
    PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
    PAGERDUTY_EVENTS_URL: pagerduty.eventsUrl,
    ...extra,
  };
}

async function start(extra: Record<string, string> = {}, overrides: ServiceOverrides = {}): Promise<RunningService> {
  service = await startService(loadConfig(env(extra)), {
    logger: createLogger("silent"),
    pollIntervalMs: 50,
    deliveryBackoff: { baseMs: 50, maxMs: 200 },
    ...overrides,
  });
  return service;
}

async function send(url: string, payload: AlertmanagerPayload): Promise<Response> {
  return fetch(`${url}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(payload),
  });
}

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeEach(async () => {
  service = undefined;
});

afterEach(async () => {
  await service?.stop();
  await cluster?.close();
  await slack?.close();
  await pagerduty?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the whole path", () => {
  it("turns a firing KubeClientErrors webhook into a Slack message and a PagerDuty trigger naming the cause", async () => {
    await setUp();
    const running = await start();
    const response = await send(running.url, kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels));
    expect(response.status).toBe(200);
    await until(() => slack.messages.length === 1 && pagerduty.events.length === 1);
    const slackText = JSON.stringify(slack.messages[0]);
    expect(slackText).toContain("authentication fails on 42% of its requests");
    expect(slackText).toContain("kubectl -n monitoring create serviceaccount kube-state-metrics");
    const event = pagerduty.events[0];
    expect(event?.event_action).toBe("trigger");
    expect(event?.payload.summary).toContain("kube-state-metrics");
    expect(JSON.stringify(event?.payload.custom_details)).toContain("Client credentials rejected (401)");
    // The stand-ins hold the messages a moment before the service has read their answers and counted the deliveries.
    let metrics: string;
    const delivered = (sink: string) => new RegExp(`enricher_deliveries_total\\{sink="${sink}",outcome="delivered"\\}`);
    const deadline = Date.now() + 5_000;
    do {
      metrics = await running.metrics.registry.metrics();
      await new Promise((r) => setTimeout(r, 25));
    } while (!(delivered("slack").test(metrics) && delivered("pagerduty").test(metrics)) && Date.now() < deadline);
    expect(metrics).toMatch(/enricher_playbook_runs_total\{playbook="KubeClientErrors",outcome="complete"\} 1/);
    expect(metrics).toMatch(/enricher_deliveries_total\{sink="slack",outcome="delivered"\} 1/);
  });

  it("processes a notification Alertmanager sends twice (retry or HA peer) once", async () => {
    await setUp();
    const running = await start();
    const payload = kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels);
    const [first, second] = await Promise.all([send(running.url, payload), send(running.url, payload)]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    await until(() => slack.messages.length >= 1 && pagerduty.events.length >= 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(slack.messages).toHaveLength(1);
    expect(pagerduty.events).toHaveLength(1);
  });

  it("loses nothing when the process stops between receipt and processing", async () => {
    await setUp();
    // A receiver with no workers stands for a process that stored the notification and died before running it.
    const store = openSqliteStore(join(dir, "enricher.db"));
    await store.migrate();
    const receiver = buildApp({
      store,
      metrics: createMetrics(),
      auth: { kind: "bearer", token: TOKEN },
      bodyLimitBytes: 1 << 20,
      dedupWindowMs: 600_000,
    });
    const address = await receiver.listen({ port: 0, host: "127.0.0.1" });
    expect((await send(address, kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels))).status).toBe(200);
    await receiver.close();
    await store.close();
    expect(slack.messages).toHaveLength(0);

    await start();
    await until(() => slack.messages.length === 1 && pagerduty.events.length === 1);
    expect(JSON.stringify(slack.messages[0])).toContain("authentication fails");
  });

  it("finishes a notification whose worker died mid-run once its lease expires, without a duplicate message", async () => {
    await setUp();
    const store = openSqliteStore(join(dir, "enricher.db"));
    await store.migrate();
    const payload = kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels);
    await store.insertNotification({ dedupKey: "k1", payload, receivedAt: new Date(), dedupWindowMs: 0 });
    expect(await store.claimNotification("worker-that-died", 300)).not.toBeNull();
    await store.close();

    await start({}, { leaseMs: 10_000 });
    await new Promise((r) => setTimeout(r, 150));
    expect(slack.messages).toHaveLength(0);
    await until(() => slack.messages.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.messages).toHaveLength(1);
  });

  it("retries a delivery Slack refused with 500 and does not hold PagerDuty back", async () => {
    await setUp();
    slack.failNext(2, { status: 500 });
    const running = await start();
    await send(running.url, kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels));
    await until(() => pagerduty.events.length === 1);
    await until(() => slack.messages.length === 1);
    const metrics = await running.metrics.registry.metrics();
    expect(metrics).toMatch(/enricher_deliveries_total\{sink="slack",outcome="retry"\} 2/);
  });

  it("pages PagerDuty for 10 alert groups at once while Slack accepts connections and never answers", async () => {
    await setUp();
    // Every group's first Slack post hangs until the sink's own 10 s timeout.
    slack.failNext(10, { hang: true });
    const running = await start();
    const labels = scenarioNamed("credentials-rejected").alertLabels;
    const sentAt = Date.now();
    const arrivals: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => send(running.url, kubeClientErrorsPayload(labels, { groupKey: `{}:{group="${i}"}` }))),
    );
    try {
      await until(() => {
        while (arrivals.length < pagerduty.events.length) arrivals.push(Date.now() - sentAt);
        return arrivals.length === 10;
      }, 2000).catch(() => undefined);
      expect(arrivals).toHaveLength(10);
      expect(Math.max(...arrivals)).toBeLessThan(2000);
      expect(slack.messages).toHaveLength(0);
    } finally {
      // Slack goes away: the hung posts fail and are left to their retries, so the draining stop does not wait on them.
      await slack.close();
    }
  });

  it("delivers a partial diagnosis within the deadline when the API server never answers", async () => {
    await setUp({ hang: (request) => request.path !== "/api/v1" && request.path !== "/apis" && !request.path.startsWith("/apis/") });
    const running = await start({ STEP_TIMEOUT_SECONDS: "1", PLAYBOOK_DEADLINE_SECONDS: "3" });
    const started = Date.now();
    await send(running.url, kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels));
    await until(() => slack.messages.length === 1, 10_000);
    expect(Date.now() - started).toBeLessThan(6000);
    const text = JSON.stringify(slack.messages[0]);
    expect(text).toContain("PARTIAL");
    // Prometheus still answered: the 401 share alone is enough to name the cause.
    expect(text).toContain("authentication fails on 42%");
  });

  it("delivers what Alertmanager can send but the stand-ins' limits cannot show: 1,001 alerts, a 65,537-character value, 257 labels", async () => {
    await setUp();
    const running = await start({ MAX_PLAYBOOK_RUNS_PER_NOTIFICATION: "3" });
    const labels = scenarioNamed("credentials-rejected").alertLabels;
    const payload = kubeClientErrorsPayload(labels);
    const first = payload.alerts[0] as AlertmanagerPayload["alerts"][number];
    payload.alerts = Array.from({ length: 1001 }, (_, n) => ({
      ...first,
      fingerprint: `f${n}`,
      labels: { ...first.labels, pod: `p${n}` },
      annotations: { ...first.annotations },
    }));
    const wide = payload.alerts[1] as AlertmanagerPayload["alerts"][number];
    for (let k = 0; k < 257; k++) wide.labels[`extra_${k}`] = "v";
    wide.annotations.description = "d".repeat(65_537);
    payload.commonAnnotations = { description: "c".repeat(65_537) };

    const response = await send(running.url, payload);
    expect(response.status).toBe(200);
    await until(() => slack.messages.length === 1 && pagerduty.events.length === 1);
    // The stand-ins enforce Slack's and PagerDuty's limits, so arriving at all means the renderers cut to fit.
    const slackText = JSON.stringify(slack.messages[0]);
    expect(slackText).toContain("authentication fails on 42%");
    expect(slackText).toMatch(/more alerts? not shown \(truncated\)/);
    expect(slack.rejections).toEqual([]);
    const details = JSON.stringify(pagerduty.events[0]?.payload.custom_details);
    expect(details).toContain("1001");
    const metrics = await running.metrics.registry.metrics();
    expect(metrics).toMatch(/enricher_playbook_runs_total\{playbook="KubeClientErrors",outcome="complete"\} 3/);
    expect(metrics).not.toContain("enricher_notifications_rejected_total{");
  });

  it("forwards an alert no playbook covers with plain formatting, never dropping it", async () => {
    await setUp();
    const running = await start();
    const payload = kubeClientErrorsPayload(
      { alertname: "DiskAlmostFull", job: "node-exporter" },
      { groupKey: '{}:{alertname="DiskAlmostFull"}' },
    );
    await send(running.url, payload);
    await until(() => slack.messages.length === 1);
    expect(JSON.stringify(slack.messages[0])).toContain("DiskAlmostFull");
    expect(cluster.kube.requests).toHaveLength(0);
  });
});
