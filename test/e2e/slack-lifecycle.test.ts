// One alert group's life in Slack, through the whole service: fired, re-sent by Alertmanager, resolved, across a restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningService, startService } from "../../src/service.ts";
import type { AlertmanagerPayload } from "../../src/model/alertmanager.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { type SlackWebApiStandIn, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const TOKEN = "e2e-token-0123456789abcdef";
let dir: string;
let cluster: DemoCluster;
let slack: SlackWebApiStandIn;
let service: RunningService | undefined;

afterEach(async () => {
  await service?.stop();
  await cluster?.close();
  await slack?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<RunningService> {
  const env = {
    ...cluster.env,
    PORT: "0",
    HOST: "127.0.0.1",
    WEBHOOK_BEARER_TOKEN: TOKEN,
    DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_CHANNEL: slack.channelId,
    SLACK_API_URL: slack.apiUrl,
  };
  return startService(loadConfig(env), {
    logger: createLogger(process.env.E2E_LOG ?? "silent"),
    pollIntervalMs: 50,
    deliveryBackoff: { baseMs: 50, maxMs: 200 },
  });
}

async function send(running: RunningService, payload: AlertmanagerPayload): Promise<void> {
  const response = await fetch(`${running.url}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(payload),
  });
  expect(response.status).toBe(200);
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

it("keeps one Slack message per alert group: posted, updated on re-send, marked resolved after a restart", async () => {
  dir = mkdtempSync(join(tmpdir(), "enricher-slack-e2e-"));
  const scenario = scenarioNamed("credentials-rejected");
  cluster = await startDemoCluster(scenario);
  slack = await startSlackWebApiStandIn();
  service = await start();

  const firing = kubeClientErrorsPayload(scenario.alertLabels);
  await send(service, firing);
  await until(() => slack.parents().length === 1 && slack.replies(slack.parents()[0]?.ts ?? "").length >= 1);
  const ts = slack.parents()[0]?.ts ?? "";
  expect(JSON.stringify(slack.parents()[0])).toContain("authentication fails on 42%");
  expect(JSON.stringify(slack.replies(ts))).toContain("client_error_ratio_by_code");

  // Alertmanager sends the group again when another alert joins it.
  const second = {
    ...firing.alerts[0],
    fingerprint: "1a2b3c4d5e6f7a8b",
    labels: { ...firing.alerts[0]?.labels, instance: "10.244.2.9:8443" },
  };
  await send(service, { ...firing, alerts: [...firing.alerts, second as (typeof firing.alerts)[number]] });
  await until(() => slack.callsTo("chat.update").length >= 1);
  expect(slack.parents()).toHaveLength(1);

  // A restart: the message ts lives in the store, not in the process.
  await service.stop();
  service = await start();
  const resolved = {
    ...firing,
    status: "resolved" as const,
    alerts: firing.alerts.map((a) => ({ ...a, status: "resolved" as const, endsAt: new Date().toISOString() })),
  };
  await send(service, resolved);
  await until(() => slack.replies(ts).some((m) => JSON.stringify(m).includes("Resolved after")));
  expect(slack.parents()).toHaveLength(1);
  expect(JSON.stringify(slack.parents()[0]?.updates.at(-1))).toContain("RESOLVED");
  // Slack's limits are on in the stand-in: whatever it answered with 429, nothing came back before its Retry-After.
  expect(slack.rateLimits.ignored429).toBe(0);
});
