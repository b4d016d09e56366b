// The README rows of the ingest figures: the receiver with group commit and without, beside bare fastify, at
// saturation and at a fixed rate, and where one webhook's time goes.
import type { IngestLoad, IngestResult, IngestResults } from "./ingest.ts";
import type { IngestProfile } from "./ingest-profile.ts";
import { count, ms, ratio } from "./lib/stats.ts";

export interface BenchRow {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
  how: string;
}

const problems = (r: IngestResult) => (r.non2xx > 0 || r.errors > 0 ? `; ${r.non2xx} non-2xx, ${r.errors} errors` : "");
const stored = (r: IngestResult) => `${count(r.stored ?? 0)} stored, ${r.duplicates ?? 0} taken for duplicates${problems(r)}`;

export function ingestRows(load: IngestLoad, results: IngestResults, profile: IngestProfile): BenchRow[] {
  const { real, noGroupCommit: single, bare, fixedRate } = results;
  const rate = load.fixedRate.perSecond;
  const how = `autocannon, ${load.connections} connections × ${load.durationSeconds} s on each server (after ${load.warmupSeconds} s warm-up), in ${load.rounds} turns each, alternating; a new 1-alert KubeClientErrors payload per request; receiver: buildApp, bearer auth, schema check, SQLite WAL synchronous=FULL, info logs`;
  const top = profile.top
    .slice(0, 5)
    .map((f) => `${(f.share * 100).toFixed(1)}% ${f.name}`)
    .join("; ");
  return [
    {
      figure: "Ingest: accepted webhooks/s (group commit)",
      value: count(real.acceptedPerSecond),
      reference: `${count(bare.acceptedPerSecond)} (bare fastify)`,
      ratio: ratio(real.acceptedPerSecond, bare.acceptedPerSecond),
      how: `${how}; the webhooks that arrive while a commit runs are stored in the next transaction, one fsync for all; ${stored(real)}${problems(bare)}`,
    },
    {
      figure: "Ingest: accepted webhooks/s, group commit off",
      value: count(single.acceptedPerSecond),
      reference: `${count(bare.acceptedPerSecond)} (bare fastify)`,
      ratio: ratio(single.acceptedPerSecond, bare.acceptedPerSecond),
      how: `as above, one transaction and one fsync per webhook (SqliteStore groupCommit: false); ${stored(single)}`,
    },
    {
      figure: "Ingest: ack latency p50 / p99 at saturation (group commit)",
      value: `${ms(real.p50Ms)} / ${ms(real.p99Ms)}`,
      reference: `${ms(bare.p50Ms)} / ${ms(bare.p99Ms)} (bare fastify)`,
      ratio: `${ratio(real.p50Ms, bare.p50Ms)} / ${ratio(real.p99Ms, bare.p99Ms)}`,
      how: `request sent → 200 received, per response (autocannon's response event), under the load above; group commit off: ${ms(single.p50Ms)} / ${ms(single.p99Ms)}`,
    },
    {
      figure: `Ingest: ack latency p99 at ${rate} webhooks/s (group commit)`,
      value: ms(fixedRate.real.p99Ms),
      reference: `${ms(fixedRate.bare.p99Ms)} (bare fastify)`,
      ratio: ratio(fixedRate.real.p99Ms, fixedRate.bare.p99Ms),
      how: `one webhook every ${ms(1000 / rate)}, open loop, over up to ${load.connections} keep-alive connections, timed from its write to its answer, ${load.fixedRate.durationSeconds} s on each server in ${load.rounds} turns; p50 ${ms(fixedRate.real.p50Ms)}; group commit off: p99 ${ms(fixedRate.noGroupCommit.p99Ms)}, p50 ${ms(fixedRate.noGroupCommit.p50Ms)}${problems(fixedRate.real)}`,
    },
    {
      figure: "Ingest: one webhook alone, profiled",
      value: ms(profile.msPerWebhook),
      reference: "—",
      ratio: "—",
      how: `${count(profile.webhooks)} webhooks one at a time through the receiver (inject, no socket) under the V8 CPU profiler; self time, top 5: ${top}`,
    },
  ];
}
