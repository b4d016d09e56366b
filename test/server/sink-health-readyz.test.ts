// Each sink's last delivery state as an operator sees it in /readyz and the backend gauges: a Slack that answers 500
// shows failing (since when, why, how many attempts) while the pod stays ready, then ok once a delivery gets through;
// a 429 shows rate_limited until the time Slack asked for. PagerDuty, delivering fine meanwhile, shows ok throughout.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, startService } from "../../src/service.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { SLACK_STANDIN_WEBHOOK_PATH, type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

const TOKEN = "sink-health-token-0123456789abcdef";
const ROUTING_KEY = "R0123456789abcdef0123456789abcde".slice(0, 32);
const SCENARIO = scenarioNamed("credentials-rejected");

let dir: string | undefined;
let cluster: DemoCluster | undefined;
let slack: SlackStandIn | undefined;
let pagerduty: PagerDutyStandIn | undefined;
let service: RunningService | undefined;

afterEach(async () => {
  await service?.stop();
  await cluster?.close();
  await slack?.close();
  await pagerduty?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  service = cluster = slack = pagerduty = dir = undefined;
});

interface SinkState {
  state: string;
  since?: string;
  until?: string;
  lastError?: string;
  attempts?: number;
  lastDeliveredAt?: string;
}

async function readyz(url: string): Promise<{ code: number; status: string; backends: Record<string, SinkState> }> {
  const response = await fetch(`${url}/readyz`);
  const body = (await response.json()) as { status: string; backends: Record<string, SinkState> };
  return { code: response.status, ...body };
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function sendAlert(url: string, groupKey: string): Promise<void> {
  const response = await fetch(`${url}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(kubeClientErrorsPayload(SCENARIO.alertLabels, { groupKey })),
  });
  expect(response.status).toBe(200);
}

async function gauge(running: RunningService, backend: string): Promise<number | undefined> {
  const text = await running.metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`enricher_backend_up{backend="${backend}"} `));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe("sinks in /readyz and enricher_backend_up", () => {
  it("shows idle, then failing with the error and since, then ok, then rate_limited until; the pod stays ready", async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-sink-health-"));
    cluster = await startDemoCluster(SCENARIO);
    slack = await startSlackStandIn();
    pagerduty = await startPagerDutyStandIn();
    const config = loadConfig({
      ...cluster.env,
      PORT: "0",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
      SLACK_WEBHOOK_URL: slack.webhookUrl,
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pagerduty.eventsUrl,
    });
    // A backoff of about a second, so each failed attempt can be seen before the next one.
    const running = await startService(config, {
      logger: createLogger("silent"),
      pollIntervalMs: 25,
      deliveryBackoff: { baseMs: 1000, maxMs: 1000 },
    });
    service = running;

    const before = await readyz(running.url);
    expect(before.backends.slack).toEqual({ state: "idle" });
    expect(before.backends.pagerduty).toEqual({ state: "idle" });
    expect(await gauge(running, "slack")).toBe(1);

    slack.failNext(2, { status: 500 });
    const sentAt = Date.now();
    await sendAlert(running.url, '{}:{alertname="KubeClientErrors",try="500"}');
    const failing = await until(
      () => readyz(running.url),
      (r) => r.backends.slack?.state === "failing",
    );
    expect(failing.code).toBe(200);
    expect(failing.status).toBe("ready");
    const firstFailure = failing.backends.slack;
    expect(firstFailure?.lastError).toContain("500");
    expect(firstFailure?.lastError).toContain("rollup_error");
    expect(firstFailure?.attempts).toBe(1);
    expect(Date.parse(firstFailure?.since ?? "")).toBeGreaterThanOrEqual(sentAt);
    expect(await gauge(running, "slack")).toBe(0);

    // The second failure keeps the run's start and counts it.
    const second = await until(
      () => readyz(running.url),
      (r) => (r.backends.slack?.attempts ?? 0) >= 2 || r.backends.slack?.state === "ok",
    );
    expect(second.backends.slack).toMatchObject({ state: "failing", since: firstFailure?.since, attempts: 2 });

    const recovered = await until(
      () => readyz(running.url),
      (r) => r.backends.slack?.state === "ok",
    );
    expect(slack.messages).toHaveLength(1);
    expect(Object.keys(recovered.backends.slack ?? {}).sort()).toEqual(["lastDeliveredAt", "state"]);
    expect(Date.parse(recovered.backends.slack?.lastDeliveredAt ?? "")).toBeGreaterThan(Date.parse(firstFailure?.since ?? ""));
    expect(recovered.backends.pagerduty?.state).toBe("ok");
    expect(await gauge(running, "slack")).toBe(1);
    expect(await gauge(running, "pagerduty")).toBe(1);

    slack.failNext(1, { status: 429, retryAfterSeconds: 30 });
    const limitedAt = Date.now();
    await sendAlert(running.url, '{}:{alertname="KubeClientErrors",try="429"}');
    const limited = await until(
      () => readyz(running.url),
      (r) => r.backends.slack?.state === "rate_limited",
    );
    expect(limited.code).toBe(200);
    const heldFor = Date.parse(limited.backends.slack?.until ?? "") - limitedAt;
    expect(heldFor).toBeGreaterThan(25_000);
    expect(heldFor).toBeLessThanOrEqual(31_000);
    expect(limited.backends.slack?.lastDeliveredAt).toBe(recovered.backends.slack?.lastDeliveredAt);
    expect(await gauge(running, "slack")).toBe(1);

    // Neither the webhook URL nor its token path ever shows.
    const shown = JSON.stringify([failing, second, recovered, limited]);
    expect(shown).not.toContain(SLACK_STANDIN_WEBHOOK_PATH);
    expect(shown).not.toContain("XXXX");
  });
});
