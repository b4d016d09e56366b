// The service under test, in a child process of its own (the bundle, run as `npm start` runs it, with its
// environment), pointed at fakes that live in the benchmark's process: their request counts are read here, and the
// service's memory is its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SlackStandIn, type SlackStandInOptions, startSlackStandIn } from "../../test/support/slack-standin.ts";
import { BENCH_TOKEN } from "./alerts.ts";
import { freePort } from "../../testkit/loopback-server.ts";
import { type Child, REPO_ROOT, SERVICE_START, sleep, spawnNode, waitUntilReady } from "./processes.ts";

export interface ServiceChild {
  url: string;
  child: Child;
  /** The SQLite file the service stores into. */
  databasePath: string;
  stop(): Promise<void>;
}

export async function startServiceChild(env: Record<string, string>, timeoutMs: number): Promise<ServiceChild> {
  // A working directory of its own: no .env of the checkout leaks in, and the database lands in a temp dir.
  const dir = mkdtempSync(join(tmpdir(), "alert-enricher-bench-"));
  const port = await freePort();
  const databasePath = join(dir, "enricher.db");
  const child = spawnNode(SERVICE_START.nodeArgs, {
    cwd: dir,
    timeoutMs,
    env: {
      ...SERVICE_START.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      WEBHOOK_BEARER_TOKEN: BENCH_TOKEN,
      DATABASE_URL: `sqlite:${databasePath}`,
      RULES_DIR: join(REPO_ROOT, "rules"),
      // The default level: what a deployment pays for its logs (they go to /dev/null here).
      LOG_LEVEL: "info",
      ...env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(`${url}/readyz`, child);
  } catch (error) {
    await child.stop(1000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    child,
    databasePath,
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The service's own counters from GET /metrics, summed over labels: name → value. */
export async function serviceCounters(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const counters = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([a-z_:]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!match) continue;
    const name = match[1] as string;
    counters.set(name, (counters.get(name) ?? 0) + Number(match[3]));
  }
  return counters;
}

export interface TimedSlack {
  standIn: SlackStandIn;
  /** performance.now() at which each accepted message arrived, in order. */
  arrivals: number[];
  /** Resolves when `n` messages have arrived; rejects after `timeoutMs`. */
  waitForMessages(n: number, timeoutMs: number): Promise<void>;
}

/**
 * The tests' Slack webhook stand-in (it checks Block Kit limits and enforces Slack's posting limit as Slack does), with
 * the arrival time of each message: the moment the stand-in accepts it is when Slack has it.
 */
export async function startTimedSlack(options: SlackStandInOptions = {}): Promise<TimedSlack> {
  const arrivals: number[] = [];
  const standIn = await startSlackStandIn({
    ...options,
    onMessage(message) {
      arrivals.push(performance.now());
      options.onMessage?.(message);
    },
  });
  return {
    standIn,
    arrivals,
    async waitForMessages(n, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (arrivals.length < n) {
        if (performance.now() > deadline) {
          const rejected =
            standIn.rejections.length > 0 ? `; Slack rejected ${standIn.rejections.length}: ${JSON.stringify(standIn.rejections[0])}` : "";
          throw new Error(`${arrivals.length} of ${n} Slack messages arrived within ${timeoutMs / 1000} s${rejected}`);
        }
        await sleep(2);
      }
    },
  };
}
