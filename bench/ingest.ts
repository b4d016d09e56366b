// Figure 1: how many webhooks per second the real receiver accepts, and how fast it acknowledges them, beside a bare
// fastify handler on the same machine under the same load generators (in this process): at saturation (autocannon),
// and at a fixed rate such as an Alertmanager storm sends (one webhook every 1/rate s, open loop). The receiver runs
// twice, with group commit and without.
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
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
  /** Then each server again at this many webhooks/s, evenly spaced, over up to `connections` sockets, for this long. */
  fixedRate: { perSecond: number; durationSeconds: number };
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

type ServerMode = "real" | "real-no-group-commit" | "bare";

export interface IngestResults {
  /** At saturation: the receiver with group commit, without it, and bare fastify. */
  real: IngestResult;
  noGroupCommit: IngestResult;
  bare: IngestResult;
  /** The same three at the fixed rate. */
  fixedRate: { real: IngestResult; noGroupCommit: IngestResult; bare: IngestResult };
}

async function startIngestServer(mode: ServerMode, dataDir: string): Promise<{ url: string; child: Child }> {
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

async function load(url: string, connections: number, durationSeconds: number, overallRate?: number): Promise<Load> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/alerts`,
        connections,
        duration: durationSeconds,
        ...(overallRate === undefined ? {} : { overallRate }),
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

/**
 * One webhook every 1000/perSecond ms, whether or not the earlier ones were answered (as Alertmanager's dispatchers
 * send), each timed from the moment it is written to its answer. autocannon's overallRate is not used here: it sends
 * each connection's share of a second back to back at the start of the second, so its "200/s" is bursts of 10.
 */
async function paced(url: string, connections: number, durationSeconds: number, perSecond: number): Promise<Load> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(`${url}/alerts`);
  const latencies: number[] = [];
  let accepted = 0;
  let non2xx = 0;
  let errors = 0;
  const send = (body: string) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const call = request(
        target,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${BENCH_TOKEN}`,
            "content-length": Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          response.on("end", () => {
            latencies.push(performance.now() - started);
            if ((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300) accepted++;
            else non2xx++;
            resolve();
          });
        },
      );
      call.on("error", () => {
        errors++;
        resolve();
      });
      call.end(body);
    });
  const interval = 1000 / perSecond;
  const total = Math.round(perSecond * durationSeconds);
  const answers: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const body = JSON.stringify(notification([uniqueAlert(CLIENT_LABELS)]));
    const wait = start + i * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    answers.push(send(body));
  }
  await Promise.all(answers);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return { accepted, durationSeconds: seconds, latencies, non2xx, errors };
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
 * The servers run at once (idle while another is under load); they take turns, `rounds` times, so that whatever
 * else the machine does meanwhile falls on all alike. Each gets `durationSeconds` in all, after a warm-up.
 */
export async function measureIngest(options: IngestLoad): Promise<IngestResults> {
  const dataDir = mkdtempSync(join(tmpdir(), "alert-enricher-bench-ingest-"));
  const modes = ["bare", "real", "real-no-group-commit"] as const;
  const servers = new Map<ServerMode, { url: string; child: Child }>();
  const urlOf = (mode: ServerMode) => (servers.get(mode) as { url: string }).url;
  try {
    for (const mode of modes) servers.set(mode, await startIngestServer(mode, dataDir));
    // JIT, the SQLite page cache and the connection pool warmed up first; not counted.
    if (options.warmupSeconds > 0) for (const mode of modes) await load(urlOf(mode), options.connections, options.warmupSeconds);
    const counters = async () => new Map(await Promise.all(modes.slice(1).map(async (m) => [m, await serviceCounters(urlOf(m))] as const)));
    const before = await counters();
    const saturated = new Map<ServerMode, Load[]>(modes.map((m) => [m, []]));
    const atFixedRate = new Map<ServerMode, Load[]>(modes.map((m) => [m, []]));
    const slice = options.durationSeconds / options.rounds;
    const pacedSlice = options.fixedRate.durationSeconds / options.rounds;
    for (let round = 0; round < options.rounds; round++) {
      for (const mode of modes) saturated.get(mode)?.push(await load(urlOf(mode), options.connections, slice));
      for (const mode of modes)
        atFixedRate.get(mode)?.push(await paced(urlOf(mode), options.connections, pacedSlice, options.fixedRate.perSecond));
    }
    const after = await counters();
    const withCounters = (mode: ServerMode, result: IngestResult): IngestResult => {
      const delta = (name: string) => (after.get(mode)?.get(name) ?? 0) - (before.get(mode)?.get(name) ?? 0);
      return {
        ...result,
        stored: delta("enricher_notifications_received_total"),
        duplicates: delta("enricher_notifications_duplicate_total"),
      };
    };
    const summary = (loads: Map<ServerMode, Load[]>, mode: ServerMode) => summarize(loads.get(mode) ?? []);
    return {
      bare: summary(saturated, "bare"),
      real: withCounters("real", summary(saturated, "real")),
      noGroupCommit: withCounters("real-no-group-commit", summary(saturated, "real-no-group-commit")),
      fixedRate: {
        bare: summary(atFixedRate, "bare"),
        real: summary(atFixedRate, "real"),
        noGroupCommit: summary(atFixedRate, "real-no-group-commit"),
      },
    };
  } finally {
    for (const server of servers.values()) await server.child.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
