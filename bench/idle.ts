// What the service costs doing nothing: resident memory and heap once it is ready (`node src/main.ts` against the demo
// cluster, SQLite, a Slack webhook), beside a bare `node` and a bare fastify server, all measured the same way in the
// same run. Each child is started with a preloaded probe (lib/memory-probe.mjs) that, on SIGUSR2, collects garbage
// twice and writes process.memoryUsage(): what is left is what the process keeps, not garbage it has yet to collect.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoCluster } from "../test/support/demo-cluster.ts";
import { scenarioNamed } from "../test/support/kube-client-errors-scenarios.ts";
import { freePort } from "../testkit/loopback-server.ts";
import { type Child, REPO_ROOT, sleep, spawnNode, waitUntilReady } from "./lib/processes.ts";
import { startServiceChild, startTimedSlack } from "./lib/service.ts";

export interface IdleMemory {
  rssBytes: number;
  heapUsedBytes: number;
}

export interface IdleResult {
  service: IdleMemory;
  bareNode: IdleMemory;
  bareFastify: IdleMemory;
}

/** How long a process is left alone once ready before it is measured: start-up work (preflight, timers) settles. */
const SETTLE_MS = 2000;
const CHILD_TIMEOUT_MS = 60_000;

function probeEnv(file: string): Record<string, string> {
  return {
    MEMORY_PROBE_FILE: file,
    NODE_OPTIONS: `--expose-gc --import=${join(REPO_ROOT, "bench", "lib", "memory-probe.mjs")}`,
  };
}

/** Asks the probe in `child` for its memory and waits for the answer. */
async function measure(child: Child, file: string): Promise<IdleMemory> {
  await sleep(SETTLE_MS);
  rmSync(file, { force: true });
  child.process.kill("SIGUSR2");
  const deadline = Date.now() + 10_000;
  while (!existsSync(file) || readFileSync(file, "utf8") === "") {
    if (Date.now() > deadline) throw new Error(`no memory figures from pid ${child.pid}: ${child.stderr()}`);
    await sleep(20);
  }
  await sleep(20); // the probe writes the file in one call; let it finish
  const usage = JSON.parse(readFileSync(file, "utf8")) as NodeJS.MemoryUsage;
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
}

export async function measureIdle(): Promise<IdleResult> {
  const dir = mkdtempSync(join(tmpdir(), "alert-enricher-idle-"));
  try {
    const bareNode = await (async () => {
      const file = join(dir, "bare-node.json");
      const child = spawnNode(["-e", "setInterval(() => {}, 1 << 30)"], { cwd: dir, env: probeEnv(file), timeoutMs: CHILD_TIMEOUT_MS });
      try {
        return await measure(child, file);
      } finally {
        await child.stop(1000);
      }
    })();

    const bareFastify = await (async () => {
      const file = join(dir, "bare-fastify.json");
      const port = await freePort();
      const child = spawnNode([join(REPO_ROOT, "bench", "lib", "bare-fastify.mjs")], {
        cwd: dir,
        env: { ...probeEnv(file), PORT: String(port) },
        timeoutMs: CHILD_TIMEOUT_MS,
      });
      try {
        await waitUntilReady(`http://127.0.0.1:${port}/readyz`, child);
        return await measure(child, file);
      } finally {
        await child.stop(1000);
      }
    })();

    const cluster = await startDemoCluster(scenarioNamed("credentials-rejected"));
    const slack = await startTimedSlack();
    try {
      const file = join(dir, "service.json");
      const service = await startServiceChild(
        { ...cluster.env, SLACK_WEBHOOK_URL: slack.standIn.webhookUrl, ...probeEnv(file) },
        CHILD_TIMEOUT_MS,
      );
      try {
        return { service: await measure(service.child, file), bareNode, bareFastify };
      } finally {
        await service.stop();
      }
    } finally {
      await Promise.all([cluster.close(), slack.standIn.close()]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
