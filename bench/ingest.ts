// Figure 1: how many webhooks per second the real receiver accepts, and how fast it acknowledges them, beside a bare
// fastify handler on the same machine under the same load generator (autocannon, in this process).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { BENCH_TOKEN, notification, uniqueAlert } from "./lib/alerts.ts";
import { type Child, REPO_ROOT, spawnNode } from "./lib/processes.ts";
import { serviceCounters } from "./lib/service.ts";
import { percentile } from "./lib/stats.ts";
import { CLIENT_LABELS } from "../test/support/kube-client-errors-scenarios.ts";

export interface IngestLoad {
  connections: number;
  /** Per server, in all. */
  durationSeconds: number;
  /** Turns each server takes, the duration split evenly. */
  rounds: number;
  warmupSeconds: number;
}

export interface IngestResult {
  /** 2xx answers per second over the measured run. */
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  answered: number;
  non2xx: number;
  errors: number;
  /** The real receiver only: notifications it stored, and ones it took for duplicates (should be 0). */
  stored?: number;
  duplicates?: number;
}

async function startIngestServer(mode: "real" | "bare", dataDir: string): Promise<{ url: string; child: Child }> {
  const child = spawnNode([join(REPO_ROOT, "bench", "ingest-server.ts"), mode, dataDir], {
    cwd: dataDir,
    env: {},
    timeoutMs: 120_000,
    ipc: true,
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${mode} ingest server did not start: ${child.stderr()}`)), 20_000);
    child.process.once("message", (message: { url: string }) => {
      clearTimeout(timer);
      resolve(message.url);
    });
    void child.exited.then((code) => reject(new Error(`the ${mode} ingest server exited (${code}): ${child.stderr()}`)));
  });
  return { url, child };
}

interface Load {
  accepted: number;
  durationSeconds: number;
  latencies: number[];
  non2xx: number;
  errors: number;
}

async function load(url: string, connections: number, durationSeconds: number): Promise<Load> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/alerts`,
        connections,
        duration: durationSeconds,
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${BENCH_TOKEN}` },
        // A new notification per request: the same body would be answered from the deduplication check, not stored.
        requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(notification([uniqueAlert(CLIENT_LABELS)])) }) }],
      },
      (error: unknown, done: autocannon.Result) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(done),
    );
    // autocannon's own histogram is in whole milliseconds; loopback answers take less, so each response time is kept.
    instance.on("response", (_client, _status, _bytes, responseTimeMs: number) => {
      latencies.push(responseTimeMs);
    });
  });
  return { accepted: result["2xx"], durationSeconds: result.duration, latencies, non2xx: result.non2xx, errors: result.errors };
}

function summarize(loads: Load[]): IngestResult {
  const latencies = loads.flatMap((l) => l.latencies);
  const seconds = loads.reduce((sum, l) => sum + l.durationSeconds, 0);
  return {
    acceptedPerSecond: loads.reduce((sum, l) => sum + l.accepted, 0) / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    answered: latencies.length,
    non2xx: loads.reduce((sum, l) => sum + l.non2xx, 0),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
  };
}

/**
 * Both servers run at once (idle while the other is under load); they take turns, `rounds` times, so that whatever
 * else the machine does meanwhile falls on both alike. Each gets `durationSeconds` in all, after a warm-up.
 */
export async function measureIngest(options: IngestLoad): Promise<{ real: IngestResult; bare: IngestResult }> {
  const dataDir = mkdtempSync(join(tmpdir(), "alert-enricher-bench-ingest-"));
  const servers: Array<{ child: Child }> = [];
  try {
    const bare = await startIngestServer("bare", dataDir);
    servers.push(bare);
    const real = await startIngestServer("real", dataDir);
    servers.push(real);
    // JIT, the SQLite page cache and the connection pool warmed up first; not counted.
    if (options.warmupSeconds > 0) {
      await load(bare.url, options.connections, options.warmupSeconds);
      await load(real.url, options.connections, options.warmupSeconds);
    }
    const before = await serviceCounters(real.url);
    const loads: { bare: Load[]; real: Load[] } = { bare: [], real: [] };
    const slice = options.durationSeconds / options.rounds;
    for (let round = 0; round < options.rounds; round++) {
      loads.bare.push(await load(bare.url, options.connections, slice));
      loads.real.push(await load(real.url, options.connections, slice));
    }
    const after = await serviceCounters(real.url);
    const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
    return {
      bare: summarize(loads.bare),
      real: {
        ...summarize(loads.real),
        stored: delta("enricher_notifications_received_total"),
        duplicates: delta("enricher_notifications_duplicate_total"),
      },
    };
  } finally {
    for (const server of servers) await server.child.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
