// `npm run bench`: measures the service side by side with a reference in one run and prints a markdown table.
// Benchmarks, not tests: nothing here asserts a speed. Only 127.0.0.1 is contacted; every phase is bounded in
// count and time, and the whole run is killed after HARD_LIMIT_MS.
//   npm run bench                      all four figures (about two minutes)
//   npm run bench -- ingest notify     only some: ingest, notify, storm, degraded
import { cpus, totalmem } from "node:os";
import { loadPlaybooks } from "../src/engine/load-playbooks.ts";
import { findPlaybook } from "../src/diagnosis/diagnose.ts";
import { type IngestResult, measureIngest } from "./ingest.ts";
import { killAllChildren, REPO_ROOT } from "./lib/processes.ts";
import { count, mib, ms, ratio } from "./lib/stats.ts";
import { criticalPaths, measureTimeToNotify, type NotifyResult } from "./notify.ts";
import { measureStorm, type StormResult } from "./storm.ts";
import { join } from "node:path";

const HARD_LIMIT_MS = 240_000;
const LATENCY_MS = 50;
/** The service's defaults (src/config.ts); the degraded figure runs on them. */
const DEFAULT_STEP_TIMEOUT_MS = 5000;
const DEFAULT_PLAYBOOK_DEADLINE_MS = 25_000;

const PHASES = ["ingest", "notify", "storm", "degraded"] as const;
type Phase = (typeof PHASES)[number];

const requested = process.argv.slice(2).filter((a) => a !== "--");
for (const name of requested) {
  if (!(PHASES as readonly string[]).includes(name)) {
    process.stderr.write(`unknown phase ${name}: choose from ${PHASES.join(", ")}\n`);
    process.exit(2);
  }
}
const phases = new Set<Phase>(requested.length > 0 ? (requested as Phase[]) : PHASES);

const hardLimit = setTimeout(() => {
  process.stderr.write(`bench: still running after ${HARD_LIMIT_MS / 1000} s; stopping\n`);
  killAllChildren();
  process.exit(1);
}, HARD_LIMIT_MS);
hardLimit.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

interface Row {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
  how: string;
}

const rows: Row[] = [];
const notes: string[] = [];
const started = performance.now();

const playbook = findPlaybook(loadPlaybooks(join(REPO_ROOT, "rules")), "KubeClientErrors");
if (!playbook) throw new Error("rules/ has no playbook for KubeClientErrors");

// ---------------------------------------------------------------------------------------------------------------
if (phases.has("ingest")) {
  const load = { connections: 10, durationSeconds: 10, rounds: 2, warmupSeconds: 1 };
  progress(
    `ingest: ${load.connections} connections × ${load.durationSeconds} s on a bare fastify handler and on the receiver, taking turns`,
  );
  const { bare, real } = await measureIngest(load);
  const how = `autocannon, ${load.connections} connections × ${load.durationSeconds} s on each server (after ${load.warmupSeconds} s warm-up), in ${load.rounds} turns each, alternating; a new 1-alert KubeClientErrors payload per request`;
  const check = (r: IngestResult) => (r.non2xx > 0 || r.errors > 0 ? `; ${r.non2xx} non-2xx, ${r.errors} errors` : "");
  rows.push({
    figure: "Ingest: accepted webhooks/s",
    value: count(real.acceptedPerSecond),
    reference: `${count(bare.acceptedPerSecond)} (bare fastify)`,
    ratio: ratio(real.acceptedPerSecond, bare.acceptedPerSecond),
    how: `${how}; receiver: buildApp, bearer auth, schema check, SQLite WAL synchronous=FULL (fsync per webhook), info logs; ${count(real.stored ?? 0)} stored, ${real.duplicates ?? 0} taken for duplicates${check(real)}${check(bare)}`,
  });
  rows.push({
    figure: "Ingest: ack latency p50",
    value: ms(real.p50Ms),
    reference: `${ms(bare.p50Ms)} (bare fastify)`,
    ratio: ratio(real.p50Ms, bare.p50Ms),
    how: "request sent → 200 received, per response (autocannon's response event), under the load above",
  });
  rows.push({
    figure: "Ingest: ack latency p99",
    value: ms(real.p99Ms),
    reference: `${ms(bare.p99Ms)} (bare fastify)`,
    ratio: ratio(real.p99Ms, bare.p99Ms),
    how: "as above",
  });
}

// ---------------------------------------------------------------------------------------------------------------
let notify: NotifyResult | undefined;
if (phases.has("notify")) {
  // READ_CACHE_SECONDS=0: every read goes to the fakes, as for the first alert on a client. With the default (10 s) a
  // repeat of the same alert would be answered from reads kept from the one before: measured apart, below.
  const options = { latencyMs: LATENCY_MS, count: 30, warmup: 2, perNotificationTimeoutMs: 20_000, env: { READ_CACHE_SECONDS: "0" } };
  progress(`time to notify: ${options.count} notifications one at a time, ${LATENCY_MS} ms on every API call`);
  notify = await measureTimeToNotify(options);
  const repeat = await measureTimeToNotify({ ...options, count: 10, env: {} });
  const paths = criticalPaths(playbook, notify.stepStatuses);
  const floorMs = paths.run.length * LATENCY_MS;
  const how = `credentials-rejected demo cluster (fixture cluster + fake Prometheus, ${LATENCY_MS} ms added to every answer); webhook POST sent → Slack stand-in accepts the message; ${options.count} notifications one after another after ${options.warmup} warm-up; real service in a child process (node src/main.ts, SQLite, default poll intervals and concurrency)`;
  rows.push({
    figure: "Time to notify p50",
    value: ms(notify.p50Ms),
    reference: `${ms(floorMs)} (critical path: ${paths.run.length} dependent reads × ${LATENCY_MS} ms)`,
    ratio: ratio(notify.p50Ms, floorMs),
    how: `${how}; READ_CACHE_SECONDS=0 so that every read reaches the fakes (${notify.kubePerNotification.toFixed(0)} API requests and ${notify.promPerNotification.toFixed(0)} Prometheus queries per notification)`,
  });
  rows.push({
    figure: "Time to notify p95",
    value: ms(notify.p95Ms),
    reference: `${ms(floorMs)} (same)`,
    ratio: ratio(notify.p95Ms, floorMs),
    how: `critical path computed from the compiled playbook's dependsOn over the steps that read in this run: ${paths.run.join(" → ")}; over every step (branches this alert does not take included) it is ${paths.all.length}: ${paths.all.join(" → ")}`,
  });
  rows.push({
    figure: "Time to notify p50, alert repeated",
    value: ms(repeat.p50Ms),
    reference: `${ms(notify.p50Ms)} (p50 above)`,
    ratio: ratio(repeat.p50Ms, notify.p50Ms),
    how: `the same alert again and again (new fingerprint each time) with the default READ_CACHE_SECONDS (10): ${repeat.kubePerNotification.toFixed(1)} API requests and ${repeat.promPerNotification.toFixed(1)} Prometheus queries per notification; ${repeat.timesMs.length} notifications`,
  });
  notes.push(
    `Time to notify: the first (cold) notification took ${ms(notify.coldMs ?? Number.NaN)}; the timed ones ranged from ${ms(Math.min(...notify.timesMs))} to ${ms(Math.max(...notify.timesMs))}.`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
let storm: StormResult | undefined;
if (phases.has("storm")) {
  const options = {
    instances: 50,
    notifications: 100,
    alertsPerNotification: 5,
    spreadMs: 10_000,
    latencyMs: LATENCY_MS,
    drainTimeoutMs: 60_000,
  };
  progress(
    `storm: ${options.notifications * options.alertsPerNotification} alerts (${options.notifications} notifications of ${options.alertsPerNotification}) over ${options.instances} instances in ${options.spreadMs / 1000} s`,
  );
  storm = await measureStorm(options);
  const s = storm;
  const setup = `${s.alerts} firing KubeClientErrors alerts, ${options.notifications} notifications of ${options.alertsPerNotification} sent evenly over ${options.spreadMs / 1000} s, instances cycling over ${options.instances} client pods in 5 namespaces, ${LATENCY_MS} ms on every API call; MAX_PLAYBOOK_RUNS_PER_NOTIFICATION=${Math.max(10, options.alertsPerNotification)}; ${s.playbookRuns} playbook runs, ${s.messages} of ${options.notifications} Slack messages`;
  rows.push({
    figure: "Storm: Kubernetes API requests",
    value: count(s.storm.kube),
    reference: `${count(s.single.kube * s.alerts)} (${s.single.kube} per lone run × ${s.alerts})`,
    ratio: ratio(s.storm.kube, s.single.kube * s.alerts),
    how: `${setup}; counted by the fixture cluster. Lone run: one alert at a time in a fresh service with READ_CACHE_SECONDS=0, measured on its second alert (the first also made ${s.singleCold.kube - s.single.kube} discovery requests)`,
  });
  rows.push({
    figure: "Storm: Prometheus queries",
    value: count(s.storm.prom),
    reference: `${count(s.single.prom * s.alerts)} (${s.single.prom} per lone run × ${s.alerts})`,
    ratio: ratio(s.storm.prom, s.single.prom * s.alerts),
    how: "counted by the fake Prometheus; playbook queries plus each alert's chart query",
  });
  rows.push({
    figure: "Storm: peak RSS of the service",
    value: mib(s.peakRssBytes),
    reference: `${mib(s.singlePeakRssBytes)} (peak after lone runs)`,
    ratio: ratio(s.peakRssBytes, s.singlePeakRssBytes),
    how: `VmHWM from /proc/<pid>/status of the service's child process; largest 50 ms VmRSS sample ${mib(s.maxSampledRssBytes)}; ${mib(s.idleRssBytes)} once ready, before any alert`,
  });
  rows.push({
    figure: "Storm: last webhook → last message",
    value: ms(s.lagMs),
    reference: notify ? `${ms(notify.p50Ms)} (time to notify p50, quiet)` : "n/a (run notify too)",
    ratio: ratio(s.lagMs, notify?.p50Ms ?? Number.NaN),
    how: `how far behind the service is when the storm ends (its last notification carries 5 alerts); the whole storm took ${ms(s.drainMs)} from the first webhook to the last message, for ${ms(options.spreadMs)} of sending`,
  });
}

// ---------------------------------------------------------------------------------------------------------------
if (phases.has("degraded")) {
  const options = {
    latencyMs: LATENCY_MS,
    count: 3,
    warmup: 0,
    perNotificationTimeoutMs: DEFAULT_PLAYBOOK_DEADLINE_MS + 15_000,
    kube: { hang: () => true },
  };
  progress(
    `degraded: ${options.count} notifications while the API server never answers (about ${(options.count * DEFAULT_STEP_TIMEOUT_MS) / 1000} s)`,
  );
  const degraded = await measureTimeToNotify(options);
  const statuses = new Map<string, number>();
  for (const status of degraded.stepStatuses.values()) statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const lastRun = [...statuses].map(([status, n]) => `${n} ${status}`).join(", ");
  rows.push({
    figure: "Degraded: time to notify p50",
    value: ms(degraded.p50Ms),
    reference: `${ms(DEFAULT_STEP_TIMEOUT_MS)} (STEP_TIMEOUT_SECONDS default)`,
    ratio: ratio(degraded.p50Ms, DEFAULT_STEP_TIMEOUT_MS),
    how: `the fixture cluster holds every request open (discovery too), Prometheus answers in ${LATENCY_MS} ms; defaults STEP_TIMEOUT_SECONDS=${DEFAULT_STEP_TIMEOUT_MS / 1000}, PLAYBOOK_DEADLINE_SECONDS=${DEFAULT_PLAYBOOK_DEADLINE_MS / 1000} (the playbook's own deadline: ${playbook.deadlineMs === undefined ? "none" : `${playbook.deadlineMs / 1000} s`}); ${degraded.timesMs.length} notifications one after another: ${degraded.timesMs.map(ms).join(", ")}; steps of the last diagnosis: ${lastRun}; ${degraded.kubePerNotification.toFixed(1)} API requests per notification`,
  });
}

// ---------------------------------------------------------------------------------------------------------------
const cell = (text: string) => text.replace(/\|/g, "\\|");
const cpu = cpus();
const lines = [
  "| figure | value | reference | ratio | how measured |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map((r) => `| ${cell(r.figure)} | ${cell(r.value)} | ${cell(r.reference)} | ${cell(r.ratio)} | ${cell(r.how)} |`),
];
process.stdout.write(`\n${lines.join("\n")}\n\n`);
for (const note of notes) process.stdout.write(`${note}\n`);
process.stdout.write(
  `Measured with \`npm run bench\`${requested.length > 0 ? ` -- ${requested.join(" ")}` : ""} on Node ${process.versions.node}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"}, ${mib(totalmem())} RAM, in ${((performance.now() - started) / 1000).toFixed(0)} s.\n`,
);
clearTimeout(hardLimit);
killAllChildren();
