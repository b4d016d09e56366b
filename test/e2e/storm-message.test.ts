// A storm told as one Slack message through the whole service: from the storm's fifth alert group on, the groups get
// no message of their own; the storm's message names every group by verdict and is edited as they land, and each
// group's diagnosis is a reply in its thread.
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
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";
import { type SlackWebApiStandIn, type StandInMessage, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const TOKEN = "e2e-token-0123456789abcdef";
const scenario = scenarioNamed("apiserver-crashlooping");

let dir: string | undefined;
let cluster: DemoCluster | undefined;
let slack: SlackWebApiStandIn | undefined;
let webhook: SlackStandIn | undefined;
let pagerduty: PagerDutyStandIn | undefined;
let service: RunningService | undefined;

afterEach(async () => {
  await service?.stop();
  await cluster?.close();
  await slack?.close();
  await webhook?.close();
  await pagerduty?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function clientGroup(client: string, status: "firing" | "resolved" = "firing"): AlertmanagerPayload {
  return kubeClientErrorsPayload(
    { ...scenario.alertLabels, cluster: "prod-eu", job: client },
    { groupKey: `{}:{cluster="prod-eu",job="${client}"}`, groupLabels: { cluster: "prod-eu", job: client }, status },
  );
}

/** The service on the demo cluster, storms from 5 groups, report pages on; `sinks` says where it delivers. */
async function startStormService(sinks: Record<string, string>): Promise<RunningService> {
  dir = mkdtempSync(join(tmpdir(), "enricher-storm-message-"));
  cluster = await startDemoCluster(scenario);
  service = await startService(
    loadConfig({
      ...cluster.env,
      ...sinks,
      PORT: "0",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
      STORM_MIN_GROUPS: "5",
      STORM_WINDOW_SECONDS: "120",
      PUBLIC_URL: "https://enricher.example.com",
      REPORT_SIGNING_SECRET: "storm-report-secret-0123456789abcdef",
    }),
    { logger: createLogger("silent"), pollIntervalMs: 50, deliveryBackoff: { baseMs: 50, maxMs: 200 } },
  );
  return service;
}

async function send(payload: AlertmanagerPayload): Promise<void> {
  const response = await fetch(`${service!.url}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(payload),
  });
  expect(response.status).toBe(200);
}

const textOf = (message: StandInMessage | undefined) => JSON.stringify([message?.text, message?.blocks, message?.attachments]);

it("tells a storm of 12 alert groups as 4 messages of their own and one storm message, edited as the rest land, with each group's diagnosis in its thread", async () => {
  slack = await startSlackWebApiStandIn();
  const stand = slack;
  await startStormService({ SLACK_BOT_TOKEN: stand.token, SLACK_CHANNEL: stand.channelId, SLACK_API_URL: stand.apiUrl });

  // The first four are not a storm yet: each gets its own message.
  for (let i = 1; i <= 4; i++) {
    await send(clientGroup(`client-${i}`));
    await until(() => stand.parents().length === i);
  }
  // Then eight at once: one storm message, never one per group.
  await Promise.all(Array.from({ length: 8 }, (_, i) => send(clientGroup(`client-${i + 5}`))));
  const storm = () => stand.parents().find((m) => textOf(m).includes("Storm in prod-eu"));
  await until(() => storm() !== undefined && textOf(storm()).includes("12 alert groups, 12 firing"));
  await until(() => stand.replies(storm()!.ts).length >= 8);

  expect(stand.parents()).toHaveLength(5);
  const message = textOf(storm());
  for (let i = 1; i <= 12; i++) expect(message).toContain(`|client-${i}>`);
  expect(message).toContain("Shared cause: the API server");
  expect(message).toContain("It explains 12 of the 12 groups.");
  expect(message).toMatch(/12 groups: [^"]*API server/);
  expect(message).toContain("https://enricher.example.com/reports/");
  // Edited as the groups landed, not posted again.
  expect(storm()!.updates.length).toBeGreaterThan(0);
  const replies = stand.replies(storm()!.ts).map(textOf);
  for (let i = 5; i <= 12; i++) expect(replies.filter((r) => r.includes(`"*client-${i}*"`))).toHaveLength(1);
  expect(stand.rateLimits.sent429).toBe(0);

  // A group of the storm resolving: a reply naming it in the storm's thread, and the storm message shows it resolved.
  await send(clientGroup("client-7", "resolved"));
  await until(() => stand.replies(storm()!.ts).some((r) => /client-7: Resolved/.test(textOf(r))));
  await until(() => textOf(storm()).includes("12 alert groups, 11 firing"));
  expect(textOf(storm())).toMatch(/~<[^>]*\|client-7>~ ✅/);
  expect(stand.parents()).toHaveLength(5);
}, 120_000);

it("tells the same storm through an incoming webhook as a few snapshots, and pages PagerDuty once for the storm", async () => {
  webhook = await startSlackStandIn();
  pagerduty = await startPagerDutyStandIn();
  const stand = webhook;
  const pd = pagerduty;
  await startStormService({
    SLACK_WEBHOOK_URL: stand.webhookUrl,
    PAGERDUTY_ROUTING_KEY: "0123456789abcdef0123456789abcdef",
    PAGERDUTY_EVENTS_URL: pd.eventsUrl,
  });
  for (let i = 1; i <= 4; i++) {
    await send(clientGroup(`client-${i}`));
    await until(() => stand.messages.length === i && pd.events.length === i);
  }
  await Promise.all(Array.from({ length: 8 }, (_, i) => send(clientGroup(`client-${i + 5}`))));
  const last = () => JSON.stringify(stand.messages.at(-1));
  await until(() => last().includes("12 alert groups, 12 firing"));
  await until(() => pd.events.length === 12);

  // Four messages of their own, then at most a snapshot every 3 s instead of eight messages.
  expect(stand.messages.length).toBeLessThanOrEqual(4 + 3);
  for (let i = 1; i <= 12; i++) expect(last()).toContain(`|client-${i}>`);
  // The webhook is not paced until Slack says so: a 429 may come, and is waited out, never ignored.
  expect(stand.rateLimits.ignored429).toBe(0);
  // PagerDuty: the first four groups' own incidents, then one incident for the storm, whatever the number of groups.
  const keys = new Set(pd.events.map((event) => event.dedup_key));
  expect(keys.size).toBe(5);
  const stormEvents = pd.events.slice(4);
  expect(new Set(stormEvents.map((event) => event.dedup_key)).size).toBe(1);
  expect(stormEvents.at(-1)?.payload.summary).toMatch(/^Alert storm in cluster prod-eu: 12 alert groups; 12 point to the API server/);
}, 120_000);
