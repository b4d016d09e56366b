// Graceful shutdown, as Kubernetes does it: SIGTERM to `node src/main.ts` while a playbook is running.
// - The listener closes at once: a webhook sent after SIGTERM is not taken (503 on a connection that was already open,
//   refused on a new one), so Alertmanager retries it against another replica.
// - The work in hand is finished: the notification being diagnosed (its API reads take 1.5 s each) and the Slack
//   message it leads to; then the process exits 0, well inside SHUTDOWN_TIMEOUT_SECONDS (30 by default).
// - Bounded: with a hanging API server and SHUTDOWN_TIMEOUT_SECONDS=2 the process exits 1 after 2 s and says the work
//   is left to another replica; that notification is still leased in the store, and a new process takes it over once
//   the lease expires and delivers it.
// - And Kubernetes waits long enough: the Deployment's terminationGracePeriodSeconds outlasts its preStop pause plus
//   SHUTDOWN_TIMEOUT_SECONDS, so the service exits by itself rather than by SIGKILL.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { killChildren, type NodeChild, REPO_ROOT, startNode } from "../support/node-process.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";

const TOKEN = "shutdown-token-0123456789abcdef";
const SCENARIO = scenarioNamed("credentials-rejected");

let dir: string;
let cluster: DemoCluster | undefined;
let slack: SlackStandIn;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "enricher-shutdown-"));
  slack = await startSlackStandIn();
});

afterEach(async () => {
  await killChildren();
  await cluster?.close();
  cluster = undefined;
  await slack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const databasePath = () => join(dir, "enricher.db");

async function startEnricher(extra: Record<string, string> = {}): Promise<{ child: NodeChild; url: string }> {
  if (cluster === undefined) throw new Error("start the cluster first");
  const child = startNode(["src/main.ts"], {
    env: {
      HOME: "/nonexistent",
      PORT: "0",
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: TOKEN,
      DATABASE_URL: `sqlite:${databasePath()}`,
      ...cluster.env,
      SLACK_WEBHOOK_URL: slack.webhookUrl,
      LOG_LEVEL: "info",
      ...extra,
    },
    timeoutMs: 60_000,
  });
  const ready = await child.waitForLine((line) => line.includes("alert-enricher ready"), 20_000);
  const address = (JSON.parse(ready) as { address: string }).address;
  return { child, url: address.replace("0.0.0.0", "127.0.0.1") };
}

function payload(groupKey: string) {
  return kubeClientErrorsPayload({ ...SCENARIO.alertLabels, cluster: groupKey }, { groupKey: `{}:{cluster="${groupKey}"}` });
}

/** The HTTP status, or the network error's code when the request never got an answer. */
async function send(url: string, body: unknown): Promise<number | string> {
  try {
    const response = await fetch(`${url}/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    await response.arrayBuffer();
    return response.status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ?? (error as Error).name;
  }
}

/**
 * A webhook whose request line and first header are sent now and the rest on `finish()`: its connection is busy, so
 * closing the listener does not drop it, and the service routes the request only once its headers are complete.
 */
async function startWebhook(url: string, body: unknown): Promise<{ finish(): Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let received = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(`POST /alerts HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`);
  const json = JSON.stringify(body);
  return {
    async finish() {
      socket.end(
        `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
      );
      await closed;
      return received;
    },
  };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function notificationStatuses(): string[] {
  const db = new DatabaseSync(databasePath(), { readOnly: true, timeout: 5000 });
  try {
    return db
      .prepare("SELECT status FROM notifications ORDER BY received_at")
      .all()
      .map((row) => String(row.status));
  } finally {
    db.close();
  }
}

it("on SIGTERM refuses new webhooks, finishes the playbook and the Slack message in hand, then exits 0", async () => {
  cluster = await startDemoCluster(SCENARIO, { latencyMs: 1500 });
  const { child, url } = await startEnricher();
  expect(await send(url, payload("in-hand"))).toBe(200);

  // The playbook is running: its first API read is waiting out the 1.5 s latency.
  await until(() => (cluster?.kube.requests.filter((r) => r.method === "GET").length ?? 0) > 0, 10_000, "the playbook's first API read");
  expect(slack.messages).toHaveLength(0);
  const openBeforeSigterm = await startWebhook(url, payload("open-before-sigterm"));
  const sigtermAt = Date.now();
  child.process.kill("SIGTERM");
  let messagesAtExit = -1;
  const exited = child.exited.then((exit) => {
    messagesAtExit = slack.messages.length;
    return { ...exit, at: Date.now() };
  });

  // No new webhook is taken once the signal is handled: a new connection is refused, and a request completed on a
  // connection opened before SIGTERM is answered 503, both of which Alertmanager retries (against another replica).
  await until(() => child.stderr().includes("SIGTERM received"), 5000, "the SIGTERM message");
  expect(await send(url, payload("new-connection-after-sigterm"))).toBe("ECONNREFUSED");
  expect(await openBeforeSigterm.finish()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
  // Still running: the playbook in hand is not done.
  expect(child.process.exitCode).toBeNull();
  expect(slack.messages).toHaveLength(0);

  const exit = await exited;
  expect(exit.timedOut).toBe(false);
  expect(exit.code, exit.stderr).toBe(0);
  // The message arrived after SIGTERM and before the exit: the work in hand was finished, not dropped.
  expect(messagesAtExit).toBe(1);
  expect(slack.messages).toHaveLength(1);
  expect(slack.rejections).toEqual([]);
  const message = JSON.stringify(slack.messages[0]);
  expect(message).toContain("in-hand");
  expect(message).toContain("authentication fails on 42%");
  expect(exit.stdout).toContain("work in hand finished");
  expect(exit.stderr).toContain("work in hand finished, exiting");
  expect(exit.at - sigtermAt).toBeLessThan(20_000);
  // Only the notification taken before SIGTERM was stored, and it is done.
  expect(notificationStatuses()).toEqual(["done"]);
}, 60_000);

it("gives up after SHUTDOWN_TIMEOUT_SECONDS with exit 1 and leaves the unfinished notification to the next process", async () => {
  let hang = true;
  cluster = await startDemoCluster(SCENARIO, { hang: () => hang });
  // The playbook would need its 5 s step timeout; the shutdown allows 2 s. WORK_LEASE_SECONDS must exceed the deadline.
  const settings = { SHUTDOWN_TIMEOUT_SECONDS: "2", STEP_TIMEOUT_SECONDS: "5", PLAYBOOK_DEADLINE_SECONDS: "5", WORK_LEASE_SECONDS: "6" };
  const first = await startEnricher(settings);
  expect(await send(first.url, payload("hanging"))).toBe(200);
  await until(() => (cluster?.kube.requests.filter((r) => r.method === "GET").length ?? 0) > 0, 10_000, "the playbook's first API read");

  const sigtermAt = Date.now();
  first.child.process.kill("SIGTERM");
  const exit = await first.child.exited;
  const elapsed = Date.now() - sigtermAt;
  expect(exit.timedOut).toBe(false);
  expect(exit.code, exit.stderr).toBe(1);
  expect(elapsed).toBeGreaterThanOrEqual(1900);
  expect(elapsed).toBeLessThan(3500);
  expect(exit.stderr).toContain("shutdown timed out after 2 s; unfinished work is left to another replica");
  const logged = exit.stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; msg: string; timeoutSeconds?: number });
  expect(logged).toContainEqual(
    expect.objectContaining({ level: 50, timeoutSeconds: 2, msg: expect.stringContaining("left to another replica") }),
  );
  expect(slack.messages).toHaveLength(0);
  // Not lost: still leased to the process that is gone.
  expect(notificationStatuses()).toEqual(["running"]);

  // The API server recovers; a new process takes the notification over once the lease expires and delivers it.
  hang = false;
  const second = await startEnricher(settings);
  await until(() => slack.messages.length > 0, 20_000, "the message from the next process");
  expect(slack.messages).toHaveLength(1);
  expect(JSON.stringify(slack.messages[0])).toContain("hanging");
  second.child.process.kill("SIGTERM");
  expect((await second.child.exited).code).toBe(0);
}, 60_000);

it("the Deployment's grace period outlasts its preStop pause plus SHUTDOWN_TIMEOUT_SECONDS (30 s by default)", () => {
  const defaultSeconds = loadConfig({ ALLOW_UNAUTHENTICATED: "true" }).shutdownTimeoutMs / 1000;
  expect(defaultSeconds).toBe(30);
  for (const overlay of ["single-sqlite", "ha-postgres"]) {
    const rendered = spawnSync("kubectl", ["kustomize", join(REPO_ROOT, "docker", "kubernetes", "overlays", overlay)], {
      encoding: "utf8",
    });
    if (rendered.error !== undefined)
      throw new Error(`kubectl kustomize: ${rendered.error.message} (.ci/install-test-deps installs kubectl)`);
    expect(rendered.status, rendered.stderr).toBe(0);
    interface Container {
      name: string;
      env?: { name: string; value?: string }[];
      envFrom?: { configMapRef?: { name: string } }[];
      lifecycle?: { preStop?: { exec?: { command?: string[] } } };
    }
    const objects = parseAllDocuments(rendered.stdout).map(
      (doc) =>
        doc.toJS() as {
          kind: string;
          metadata: { name: string };
          data?: Record<string, string>;
          spec?: { template?: { spec: { terminationGracePeriodSeconds?: number; containers: Container[] } } };
        },
    );
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "alert-enricher");
    const pod = deployment?.spec?.template?.spec;
    if (pod === undefined) throw new Error(`${overlay}: no alert-enricher Deployment`);
    const container = pod.containers.find((c) => c.name === "alert-enricher") ?? pod.containers[0];
    if (container === undefined) throw new Error(`${overlay}: no container`);
    const fromConfigMaps = (container.envFrom ?? []).map(
      (source) =>
        objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === source.configMapRef?.name)?.data?.SHUTDOWN_TIMEOUT_SECONDS,
    );
    const configured =
      container.env?.find((e) => e.name === "SHUTDOWN_TIMEOUT_SECONDS")?.value ?? fromConfigMaps.find((v) => v !== undefined);
    const timeoutSeconds = configured !== undefined ? Number(configured) : defaultSeconds;
    const command = container.lifecycle?.preStop?.exec?.command ?? [];
    const preStopSeconds = command[0] === "sleep" ? Number(command[1]) : 0;
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    expect(grace, `${overlay}: ${grace} s > preStop ${preStopSeconds} s + shutdown ${timeoutSeconds} s`).toBeGreaterThan(
      preStopSeconds + timeoutSeconds,
    );
  }
});
