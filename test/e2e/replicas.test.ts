// Two service processes on one PostgreSQL, behind no load balancer, as an HA deployment runs them: both receive what an
// Alertmanager HA pair sends, exactly one message results, and a replica killed mid-run has its work finished by the other.
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { killChildren, type NodeChild, startNode } from "../support/node-process.ts";
import { type PagerDutyStandIn, startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { type PostgresServer, startPostgres } from "../support/postgres-server.ts";
import { type SlackWebApiStandIn, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const TOKEN = "replica-token-0123456789abcdef";
const ROUTING_KEY = "R0123456789abcdef0123456789abcde";

let postgres: PostgresServer;
let cluster: DemoCluster;
let slack: SlackWebApiStandIn;
let pagerduty: PagerDutyStandIn;
let hangPodLists = false;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);

afterAll(async () => {
  await postgres?.stop();
});

afterEach(async () => {
  await killChildren();
  await cluster?.close();
  await slack?.close();
  await pagerduty?.close();
});

async function setUp(): Promise<string> {
  hangPodLists = false;
  const scenario = scenarioNamed("credentials-rejected");
  cluster = await startDemoCluster(scenario, { hang: (request) => hangPodLists && request.path.endsWith("/pods") });
  slack = await startSlackWebApiStandIn();
  pagerduty = await startPagerDutyStandIn();
  return postgres.createDatabase(`replicas_${Date.now()}_${Math.floor(Math.random() * 1e6)}`);
}

async function startReplica(databaseUrl: string): Promise<{ child: NodeChild; url: string }> {
  const child = startNode(["src/main.ts"], {
    env: {
      HOME: "/nonexistent",
      PORT: "0",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: databaseUrl,
      KUBECONFIG: cluster.kube.kubeconfigPath,
      PROMETHEUS_URL: cluster.prometheus.url,
      SLACK_BOT_TOKEN: slack.token,
      SLACK_CHANNEL: slack.channelId,
      SLACK_API_URL: slack.apiUrl,
      PAGERDUTY_ROUTING_KEY: ROUTING_KEY,
      PAGERDUTY_EVENTS_URL: pagerduty.eventsUrl,
      STEP_TIMEOUT_SECONDS: "2",
      PLAYBOOK_DEADLINE_SECONDS: "3",
      WORK_LEASE_SECONDS: "4",
      LOG_LEVEL: "info",
    },
    timeoutMs: 90_000,
  });
  const ready = await child.waitForLine((line) => line.includes("alert-enricher ready"), 30_000);
  const address = (JSON.parse(ready) as { address: string }).address;
  return { child, url: address.replace("0.0.0.0", "127.0.0.1") };
}

async function send(url: string, body: unknown): Promise<number> {
  const response = await fetch(`${url}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return response.status;
}

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

it("turns the same notification sent to both replicas into exactly one Slack message and one PagerDuty event", async () => {
  const databaseUrl = await setUp();
  // Both start at once: their schema migrations race on a new database.
  const [a, b] = await Promise.all([startReplica(databaseUrl), startReplica(databaseUrl)]);
  const payload = kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels);
  expect(await Promise.all([send(a.url, payload), send(b.url, payload)])).toEqual([200, 200]);
  await until(() => slack.parents().length === 1 && pagerduty.events.length === 1);
  await new Promise((r) => setTimeout(r, 2000));
  expect(slack.parents()).toHaveLength(1);
  expect(pagerduty.events).toHaveLength(1);
  expect(JSON.stringify(slack.parents()[0])).toContain("authentication fails on 42%");
}, 90_000);

it("finishes the work of a replica killed mid-run on the other replica, without a duplicate message", async () => {
  const databaseUrl = await setUp();
  // Only A runs when the notification arrives, so A takes it; A's pod list hangs, and A is killed mid-run.
  const a = await startReplica(databaseUrl);
  hangPodLists = true;
  expect(await send(a.url, kubeClientErrorsPayload(scenarioNamed("credentials-rejected").alertLabels))).toBe(200);
  await until(() => cluster.kube.requests.some((r) => r.path.endsWith("/pods")));
  a.child.process.kill("SIGKILL");
  await a.child.exited;
  hangPodLists = false;
  expect(slack.parents()).toHaveLength(0);
  const b = await startReplica(databaseUrl);
  // B takes the notification once A's lease (4 s) has expired.
  await until(() => slack.parents().length === 1 && pagerduty.events.length === 1, 40_000);
  await new Promise((r) => setTimeout(r, 1500));
  expect(slack.parents()).toHaveLength(1);
  expect(pagerduty.events).toHaveLength(1);
  expect(b.child.stdout()).toContain("diagnosis ready");
}, 90_000);
