// Figure: where one webhook's time goes on the receiver. Sends webhooks one at a time through the real receiver
// (buildApp on a durable SQLite store, info logs to a discarded stream; light-my-request's inject, so no socket) under
// the V8 CPU profiler, then sums the profile's self time per function. `node bench/ingest-profile.ts [COUNT] [OUT.cpuprofile]` prints the same summary.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { BENCH_TOKEN, notification, uniqueAlert } from "./lib/alerts.ts";
import { benchReceiver } from "./lib/receiver.ts";
import { REPO_ROOT } from "./lib/processes.ts";
import { CLIENT_LABELS } from "../test/support/kube-client-errors-scenarios.ts";

export interface ProfiledFunction {
  /** "parseJsonBody src/server/app.ts:79", or V8's own names: "(garbage collector)", "(program)". */
  name: string;
  share: number;
}

export interface IngestProfile {
  webhooks: number;
  /** Wall time per webhook while profiled (the profiler adds some). */
  msPerWebhook: number;
  top: ProfiledFunction[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const fn = functionName === "" ? "(anonymous)" : functionName;
  if (url === "") return fn;
  const path = url.startsWith("file:") ? relative(REPO_ROOT, fileURLToPath(url)) : url;
  return `${fn} ${path.replace(/^node_modules\//, "")}:${lineNumber + 1}`;
}

/** Self time per function, largest first; idle time (the process waiting for nothing) left out. */
export function selfTimeShares(nodes: ProfileNode[]): ProfiledFunction[] {
  const parents = new Map<number, ProfileNode>();
  for (const node of nodes) for (const child of node.children ?? []) parents.set(child, node);
  // A native function ("exec") says little alone; its JavaScript caller says what it was doing.
  const nameOf = (node: ProfileNode) => {
    const { functionName, url } = node.callFrame;
    const caller = parents.get(node.id);
    const native = url === "" && !functionName.startsWith("(") && caller !== undefined;
    return native ? `${frameName(node)} (native) ← ${frameName(caller)}` : frameName(node);
  };
  const hits = new Map<string, number>();
  for (const node of nodes) {
    if (node.callFrame.functionName === "(idle)" || !node.hitCount) continue;
    const name = nameOf(node);
    hits.set(name, (hits.get(name) ?? 0) + node.hitCount);
  }
  const total = [...hits.values()].reduce((sum, n) => sum + n, 0);
  return [...hits.entries()].map(([name, n]) => ({ name, share: n / total })).sort((a, b) => b.share - a.share);
}

export async function profileIngest(webhooks: number, saveTo?: string): Promise<IngestProfile> {
  const dataDir = mkdtempSync(join(tmpdir(), "alert-enricher-bench-profile-"));
  const store = openSqliteStore(join(dataDir, "enricher.db"));
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const app = benchReceiver(store, pino({ level: "info" }, discard));
  const session = new Session();
  try {
    await store.migrate();
    await app.ready();
    // Bodies made beforehand, so that making them is not in the profile.
    const bodies = Array.from({ length: webhooks + 200 }, () => JSON.stringify(notification([uniqueAlert(CLIENT_LABELS)])));
    const send = async () => {
      const response = await app.inject({
        method: "POST",
        url: "/alerts",
        headers: { "content-type": "application/json", authorization: `Bearer ${BENCH_TOKEN}` },
        payload: bodies.pop(),
      });
      if (response.statusCode !== 200) throw new Error(`the receiver answered ${response.statusCode}: ${response.body}`);
    };
    for (let i = 0; i < 200; i++) await send(); // JIT warm-up, not profiled
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 100 });
    await session.post("Profiler.start");
    const started = performance.now();
    for (let i = 0; i < webhooks; i++) await send();
    const elapsed = performance.now() - started;
    const { profile } = await session.post("Profiler.stop");
    if (saveTo) writeFileSync(saveTo, JSON.stringify(profile));
    return { webhooks, msPerWebhook: elapsed / webhooks, top: selfTimeShares(profile.nodes as ProfileNode[]) };
  } finally {
    session.disconnect();
    await app.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const [count, out] = process.argv.slice(2);
  const result = await profileIngest(Number(count ?? 2000), out);
  console.log(`${result.webhooks} webhooks one at a time, ${result.msPerWebhook.toFixed(3)} ms each; self time:`);
  for (const f of result.top.slice(0, 15)) console.log(`${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
}
