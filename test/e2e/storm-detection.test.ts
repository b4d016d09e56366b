// Storm detection through the whole service: alert groups of one cluster arriving close together are told, in their
// own Slack message, that they are part of a storm; groups of another cluster do not count towards it.
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
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

const TOKEN = "e2e-token-0123456789abcdef";
const scenario = scenarioNamed("credentials-rejected");

let dir: string | undefined;
let cluster: DemoCluster | undefined;
let slack: SlackStandIn | undefined;
let service: RunningService | undefined;

afterEach(async () => {
  await service?.stop();
  await cluster?.close();
  await slack?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One alert group per client: its own group key, its job, and the cluster label. */
function clientGroup(clusterName: string, client: string): AlertmanagerPayload {
  return kubeClientErrorsPayload(
    { ...scenario.alertLabels, cluster: clusterName, job: client },
    { groupKey: `{}:{cluster="${clusterName}",job="${client}"}`, groupLabels: { cluster: clusterName, job: client } },
  );
}

it("tells the 5th and later alert groups of one cluster within the window that they are part of a storm, not counting another cluster's", async () => {
  dir = mkdtempSync(join(tmpdir(), "enricher-storm-"));
  cluster = await startDemoCluster(scenario);
  // This test is about what each message says, not about pacing: the webhook's posting limit is raised so that nine
  // messages in a few seconds are not held back by 429s.
  slack = await startSlackStandIn({ rateLimit: { perSecond: 100, burst: 100 } });
  const stand = slack;
  service = await startService(
    loadConfig({
      ...cluster.env,
      PORT: "0",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`,
      SLACK_WEBHOOK_URL: stand.webhookUrl,
      STORM_MIN_GROUPS: "5",
      STORM_WINDOW_SECONDS: "120",
    }),
    { logger: createLogger("silent"), pollIntervalMs: 50, deliveryBackoff: { baseMs: 50, maxMs: 200 } },
  );
  const url = service.url;

  /** Sends one group and returns the text of the Slack message it gets. */
  const messageFor = async (payload: AlertmanagerPayload): Promise<string> => {
    const before = stand.messages.length;
    const response = await fetch(`${url}/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(payload),
    });
    expect(response.status).toBe(200);
    await until(() => stand.messages.length === before + 1);
    const text = JSON.stringify(stand.messages[before]);
    expect(text).toContain(payload.commonLabels.job);
    return text;
  };

  const lines: Array<string | undefined> = [];
  const stormLineOf = (text: string) => /Part of a storm of [^"]*?\./.exec(text)?.[0];
  // Three groups of another cluster first: they make no storm of their own and do not count towards prod-eu's.
  for (let i = 1; i <= 3; i++) expect(stormLineOf(await messageFor(clientGroup("prod-us", `us-client-${i}`)))).toBeUndefined();
  for (let i = 1; i <= 7; i++) lines.push(stormLineOf(await messageFor(clientGroup("prod-eu", `eu-client-${i}`))));

  expect(lines.slice(0, 4)).toEqual([undefined, undefined, undefined, undefined]);
  expect(lines[4]).toMatch(/^Part of a storm of 5 alert groups in cluster prod-eu in the last 2 min: /);
  expect(lines[5]).toMatch(/^Part of a storm of 6 alert groups in cluster prod-eu in the last 2 min: /);
  expect(lines[6]).toMatch(/^Part of a storm of 7 alert groups in cluster prod-eu in the last 2 min: /);
  // All seven clients have their credentials rejected: a client's own cause, not a shared component's.
  expect(lines[6]).toContain("no one cause on a shared component found; 6 other groups have this one's verdict.");
  expect(stand.rateLimits.sent429).toBe(0);
}, 90_000);
