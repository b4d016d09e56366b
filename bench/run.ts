// `npm run bench`: measures the service side by side with a reference in one run and prints a markdown table.
// Benchmarks, not tests: nothing here asserts a speed. Only 127.0.0.1 is contacted; every phase is bounded in
// count and time, and the whole run is killed after HARD_LIMIT_MS.
//   npm run bench                      every phase (about five minutes: the storms wait on Slack's posting limit)
//   npm run bench -- ingest notify     only some: idle, ingest, notify, storm, storm-api, degraded
import { cpus, totalmem } from "node:os";
import { loadPlaybooks } from "../src/engine/load-playbooks.ts";
import { findPlaybook } from "../src/diagnosis/diagnose.ts";
import { measureIdle } from "./idle.ts";
import { measureIngest } from "./ingest.ts";
import { profileIngest } from "./ingest-profile.ts";
import { ingestRows } from "./ingest-rows.ts";
import { buildService, killAllChildren, REPO_ROOT } from "./lib/processes.ts";
import { count, mib, ms, percentile, ratio } from "./lib/stats.ts";
import { criticalPaths, measureTimeToNotify, type NotifyResult } from "./notify.ts";
import { measureStorm, measureStormWebApi, type SlackDelivery, type StormOptions, type StormResult } from "./storm.ts";
import { PAGERDUTY_EVENTS_RATE_LIMIT } from "../test/support/pagerduty-standin.ts";
import { SLACK_WEBHOOK_RATE_LIMIT } from "../test/support/slack-standin.ts";
import { SLACK_WEB_API_RATE_LIMITS } from "../test/support/slack-web-api-standin.ts";
import { join } from "node:path";

const HARD_LIMIT_MS = 480_000;
/** How long each storm waits, after its last webhook, for every group to be named in Slack. */
const STORM_DRAIN_MS = 90_000;
const LATENCY_MS = 50;
/** The service's defaults (src/config.ts); the degraded figure runs on them. */
const DEFAULT_STEP_TIMEOUT_MS = 5000;
const DEFAULT_PLAYBOOK_DEADLINE_MS = 25_000;

const PHASES = ["idle", "ingest", "notify", "storm", "storm-api", "degraded"] as const;
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

// The service child runs what `npm start` runs: the bundle, built here from the sources as they are.
if ([...phases].some((phase) => phase !== "ingest")) {
  progress("building the service bundle (npm run build)");
  buildService();
}

// ---------------------------------------------------------------------------------------------------------------
if (phases.has("idle")) {
  progress("idle: resident memory and heap once ready, the service beside a bare node and a bare fastify");
  const idle = await measureIdle();
  const how =
    "process.memoryUsage() after two forced garbage collections (--expose-gc, a probe preloaded with --import into each process), 2 s after the process is ready";
  rows.push({
    figure: "Idle: resident memory once ready",
    value: mib(idle.service.rssBytes),
    reference: `${mib(idle.bareFastify.rssBytes)} (bare fastify); ${mib(idle.bareNode.rssBytes)} (bare node -e)`,
    ratio: ratio(idle.service.rssBytes, idle.bareFastify.rssBytes),
    how: `${how}; the service: the bundle as npm start runs it, with SQLite, the demo cluster (fake API server and Prometheus) and a Slack webhook, preflight done, no alert yet`,
  });
  rows.push({
    figure: "Idle: heap used once ready",
    value: mib(idle.service.heapUsedBytes),
    reference: `${mib(idle.bareFastify.heapUsedBytes)} (bare fastify); ${mib(idle.bareNode.heapUsedBytes)} (bare node -e)`,
    ratio: ratio(idle.service.heapUsedBytes, idle.bareFastify.heapUsedBytes),
    how: "as above; the V8 heap only (native memory, code and Node's own allocations are in the resident figure)",
  });
}

// ---------------------------------------------------------------------------------------------------------------
if (phases.has("ingest")) {
  const load = { connections: 10, durationSeconds: 10, rounds: 2, warmupSeconds: 1, fixedRate: { perSecond: 200, durationSeconds: 12 } };
  progress(
    `ingest: ${load.connections} connections × ${load.durationSeconds} s, then ${load.fixedRate.perSecond}/s × ${load.fixedRate.durationSeconds} s, on a bare fastify handler and on the receiver with and without group commit, taking turns; then a CPU profile of one webhook`,
  );
  rows.push(...ingestRows(load, await measureIngest(load), await profileIngest(2000)));
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
  const how = `credentials-rejected demo cluster (fixture cluster + fake Prometheus, ${LATENCY_MS} ms added to every answer); webhook POST sent → Slack stand-in accepts the message; ${options.count} notifications one after another after ${options.warmup} warm-up; real service in a child process (the bundle as npm start runs it, SQLite, default poll intervals and concurrency)`;
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
    how: `critical path computed from the compiled playbook (each step waits for its dependsOn and for the steps behind the facts it reads) over the steps that read in this run: ${paths.run.join(" → ")}; over every step (branches this alert does not take included) it is ${paths.all.length}: ${paths.all.join(" → ")}`,
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
const stormOptions: StormOptions = {
  groups: 50,
  alertsPerGroup: 10,
  instances: 50,
  spreadMs: 10_000,
  latencyMs: LATENCY_MS,
  drainTimeoutMs: STORM_DRAIN_MS,
};
const stormSetup = (o: StormOptions) =>
  `${o.groups * o.alertsPerGroup} firing KubeClientErrors alerts in ${o.groups} groups (one per client, job exporter-N) of ${o.alertsPerGroup}, one webhook per group sent evenly over ${o.spreadMs / 1000} s, instances cycling over ${o.instances} client pods in 5 namespaces, ${LATENCY_MS} ms on every API call`;

/** The rows of how soon each group was named in Slack, against the floor, and how the service met Slack's limits. */
function slackRows(mode: string, d: SlackDelivery, postingLimit: string): void {
  const unnamed = d.named.filter((named) => !named).length;
  const atLeast = unnamed > 0 ? "≥ " : "";
  const namedLine = `${d.named.length - unnamed} of ${d.named.length} groups named within ${ms(d.waitedMs)} of the last webhook${unnamed > 0 ? ` (for the ${unnamed} not named, the time until the bench stopped counts, so the value is a lower bound)` : ""}`;
  const floor = `one message per group under Slack's posting limit (stand-in: ${postingLimit}), posted in webhook order the moment its webhook arrives or the limit allows, no time to diagnose (the least possible max; posting newer groups first can go under it at p50 only by making older ones wait longer)`;
  for (const [label, p] of [
    ["p50", 50],
    ["max", 100],
  ] as const) {
    const value = percentile(d.afterWebhookMs, p);
    const floorValue = percentile(d.floorMs, p);
    rows.push({
      figure: `Storm, Slack ${mode}: webhook → group named, ${label}`,
      value: `${atLeast}${ms(value)}`,
      reference: `${ms(floorValue)} (floor)`,
      ratio: `${atLeast}${ratio(value, floorValue)}`,
      how:
        label === "p50"
          ? `from each group's webhook to the first Slack message or edit naming its client; floor: ${floor}; ${namedLine}; first webhook → ${unnamed > 0 ? "end of the wait" : "last group named"} ${ms(d.spanMs)}`
          : `as above; goal: every group named within 15 s of its webhook`,
    });
  }
  const sent = [
    `${d.posted} posted`,
    ...(d.replies > 0 ? [`${d.replies} replies`] : []),
    `${d.edited} edited`,
    ...(d.files > 0 ? [`${d.files} files`] : []),
  ];
  rows.push({
    figure: `Storm, Slack ${mode}: messages, 429s`,
    value: `${sent.join(", ")}; ${d.sent429} × 429, ${d.ignored429} ignored (${d.earlyRetries} by an early retry of the same request)`,
    reference: "0 ignored (goal)",
    ratio: "n/a",
    how: `counted by the rate-limited stand-in; ignored: a request to a channel (or method) whose Retry-After had not passed yet, from whichever of the service's workers: Slack's Retry-After is "the number of seconds until you can retry"`,
  });
}

let storm: StormResult | undefined;
if (phases.has("storm")) {
  const o = stormOptions;
  progress(
    `storm: ${o.groups} groups of ${o.alertsPerGroup} alerts in ${o.spreadMs / 1000} s to a rate-limited Slack webhook and PagerDuty (up to ${(o.spreadMs + o.drainTimeoutMs) / 1000} s)`,
  );
  storm = await measureStorm(o);
  const s = storm;
  const setup = `${stormSetup(o)}; MAX_PLAYBOOK_RUNS_PER_NOTIFICATION=${Math.max(10, o.alertsPerGroup)}; ${s.playbookRuns} playbook runs`;
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
    figure: "Storm: last webhook → last group named",
    value: `${s.lagIsLowerBound ? "≥ " : ""}${ms(s.lagMs)}`,
    reference: notify ? `${ms(notify.p50Ms)} (time to notify p50, quiet)` : "n/a (run notify too)",
    ratio: `${s.lagIsLowerBound ? "≥ " : ""}${ratio(s.lagMs, notify?.p50Ms ?? Number.NaN)}`,
    how: `how far behind the service is when the storm ends, through the rate-limited webhook (its last group carries ${o.alertsPerGroup} alerts); Slack's posting limit alone puts the last of ${o.groups} messages ${ms(percentile(s.webhook.floorMs, 100))} after its webhook at best`,
  });
  slackRows("webhook", s.webhook, `${SLACK_WEBHOOK_RATE_LIMIT.perSecond}/s per webhook URL, bursts of ${SLACK_WEBHOOK_RATE_LIMIT.burst}`);
  rows.push({
    figure: "Storm, PagerDuty Events: 429s",
    value: `${s.pagerduty.events} events accepted; ${s.pagerduty.sent429} × 429, ${s.pagerduty.ignored429} ignored`,
    reference: "0 ignored (goal)",
    ratio: "n/a",
    how: `the same storm, PAGERDUTY_ROUTING_KEY beside the webhook; the stand-in allows ${PAGERDUTY_EVENTS_RATE_LIMIT.perMinute} events per routing key in any 60 s and counts an event within ${PAGERDUTY_EVENTS_RATE_LIMIT.advisedWaitMs / 1000} s of a 429 as ignoring it (PagerDuty sends no Retry-After and advises 30 s)`,
  });
}

if (phases.has("storm-api")) {
  const o = stormOptions;
  progress(
    `storm (Slack Web API): the same ${o.groups} groups to a rate-limited Slack Web API (up to ${(o.spreadMs + o.drainTimeoutMs) / 1000} s)`,
  );
  const d = await measureStormWebApi(o);
  const rate = SLACK_WEB_API_RATE_LIMITS["chat.postMessage"];
  slackRows("Web API", d, `chat.postMessage ${rate.perSecond}/s per channel, bursts of ${rate.burst}; chat.update Tier 3; files Tier 4`);
  notes.push(
    `Storm, Slack Web API: ${stormSetup(o)}; SLACK_BOT_TOKEN and SLACK_CHANNEL set: the first groups get messages of their own, the rest are named in the storm's one message (edited as they land) with their details in its thread.`,
  );
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
