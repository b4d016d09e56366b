// A playbook test case that gives `series:` (series.ts) runs its PromQL steps against a real Prometheus: the series are
// written as OpenMetrics, `promtool tsdb create-blocks-from openmetrics` makes a TSDB block of them in a data
// directory of the case's own, and a `prometheus` (2.42 or later, 3.x included) started over that directory on a free loopback port
// answers the case's steps through the service's own PrometheusSource, evaluated at the case's clock. A step with a
// canned answer (`prometheus:`) that reads none of the series keeps it. One Prometheus per case: blocks of two cases
// would overlap in time for the same series, and promtool and Prometheus together start in about 0.15 s. A block is
// made once per process for the same series (the generated checks serve a case again), and a watcher stops every
// Prometheus, and removes its directory, when the process that started it ends, even killed by a signal.
//
// Every query sent to a real Prometheus is recorded (realEvaluations), so a test can check that every PromQL step of
// every playbook was evaluated for real by some case, and compare two Prometheus versions' answers. The binaries are
// `promtool` and `prometheus` on PATH unless PROMTOOL_BINARY / PROMETHEUS_BINARY name others (or a test calls
// usePrometheusBinaries), e.g. a Prometheus 3.x built by .ci/build-prometheus-stack.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompiledPlaybook, CompiledStep } from "../src/engine/load-playbooks.ts";
import type { StepSources } from "../src/engine/run-playbook.ts";
import { PrometheusSource } from "../src/sources/prometheus.ts";
import type { FixtureProblem } from "./fixture-checks.ts";
import { freePort } from "./loopback-server.ts";
import {
  answersOverSeries,
  type CaseSeries,
  caseSeries,
  fileSeries,
  hasSeries,
  readsSeries,
  stepMetrics,
  toOpenMetrics,
  unreadSeries,
} from "./series.ts";
import type { TestCase, TestFile } from "./test-file.ts";

/** One query a case sent to a real Prometheus. */
export interface RealEvaluation {
  file: string;
  testCase: string;
  playbook: string;
  step: string;
  /** The fragment the step came from, when it was included. */
  fragment?: string;
  query: string;
  /** Series in the answer (0: it answered, with nothing). */
  series: number;
  /** The answer itself: each series' labels and its values (an instant query's one value, a range query's points). */
  answer: EvaluatedSeries[];
  /** The prometheus binary that answered. */
  binary: string;
}

export interface EvaluatedSeries {
  labels: Record<string, string>;
  values: number[];
}

/** Every query sent to a real Prometheus by this process, in order. */
export const realEvaluations: RealEvaluation[] = [];

/** A PromQL step as a coverage count sees it: a fragment's step is one step, whichever playbook includes it. */
export interface PromQLStep {
  key: string;
  playbook: string;
  fragment?: string;
  step: string;
  query: string;
}

/** Every PromQL step of the playbooks and their fragments, once each. */
export function promqlSteps(playbooks: CompiledPlaybook[]): PromQLStep[] {
  const steps = new Map<string, PromQLStep>();
  for (const playbook of playbooks) {
    for (const step of playbook.steps) {
      if (step.kind !== "prometheus") continue;
      const key = stepKey(playbook.name, step);
      if (!steps.has(key)) {
        steps.set(key, {
          key,
          playbook: playbook.name,
          ...(step.fragment ? { fragment: step.fragment } : {}),
          step: step.id,
          query: step.spec.prometheus?.query ?? "",
        });
      }
    }
  }
  return [...steps.values()];
}

function stepKey(playbook: string, step: Pick<CompiledStep, "id" | "fragment">): string {
  return `${step.fragment ? `shared/${step.fragment}` : playbook}:${step.id}`;
}

/** The PromQLStep key of the step an evaluation was made for. */
export function evaluationKey(evaluation: RealEvaluation): string {
  return stepKey(evaluation.playbook, { id: evaluation.step, ...(evaluation.fragment ? { fragment: evaluation.fragment } : {}) });
}

/** The steps of `steps` some recorded evaluation answered with at least one series. */
export function coveredSteps(steps: PromQLStep[], evaluations: RealEvaluation[] = realEvaluations): Set<string> {
  const keys = new Set(steps.map((s) => s.key));
  return new Set(
    evaluations
      .filter((e) => e.series > 0)
      .map(evaluationKey)
      .filter((k) => keys.has(k)),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The binaries

export interface PrometheusBinaries {
  /** The prometheus executable: a path, or a name looked up on PATH. */
  prometheus: string;
  /** The promtool of the same release (it writes the TSDB blocks prometheus reads). */
  promtool: string;
}

function binariesFromEnv(env: NodeJS.ProcessEnv): PrometheusBinaries {
  return { prometheus: env.PROMETHEUS_BINARY || "prometheus", promtool: env.PROMTOOL_BINARY || "promtool" };
}

let binaries = binariesFromEnv(process.env);
let binariesFound: boolean | undefined;

/** The binaries cases are evaluated with from now on in this process (a test comparing two Prometheus versions). */
export function usePrometheusBinaries(next: PrometheusBinaries): void {
  binaries = { ...next };
  binariesFound = undefined;
}

export function prometheusBinaries(): PrometheusBinaries {
  return { ...binaries };
}

function needsBinaries(): string {
  const { prometheus, promtool } = binaries;
  const named = prometheus !== "prometheus" || promtool !== "promtool";
  return named
    ? `needs ${promtool} and ${prometheus} (PROMTOOL_BINARY, PROMETHEUS_BINARY) to evaluate its series for real, and one of them cannot be run`
    : "needs promtool and prometheus (2.42 or later) on PATH to evaluate its series: for real (Debian and Ubuntu: apt-get install prometheus; " +
        "elsewhere the release archive from https://prometheus.io/download/, or name them with PROMTOOL_BINARY and PROMETHEUS_BINARY)";
}

function runnable(binary: string): boolean {
  const probe = spawnSync(binary, ["--version"], { stdio: "ignore", timeout: 10_000 });
  const code = (probe.error as NodeJS.ErrnoException | undefined)?.code;
  return code !== "ENOENT" && code !== "EACCES";
}

/** Whether promtool and prometheus can be run (asked once per process, and again after usePrometheusBinaries). */
export function realPrometheusAvailable(): boolean {
  binariesFound ??= runnable(binaries.promtool) && runnable(binaries.prometheus);
  return binariesFound;
}

// ---------------------------------------------------------------------------------------------------------------
// One Prometheus over one case's series

/** Process groups and data directories still there: killed and removed if the process exits before a case closes them. */
const running = new Set<number>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
/** Where this process keeps the blocks promtool made, removed when it exits. */
let blockCacheDir: string | undefined;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of running) killGroup(pid, "SIGKILL");
    for (const dir of [...liveDirs, ...(blockCacheDir ? [blockCacheDir] : [])]) rmSync(dir, { recursive: true, force: true });
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function run(binary: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

export interface RealPrometheus {
  url: string;
  /** The prometheus binary serving it. */
  binary: string;
  /** Stops Prometheus and removes the data directory. */
  close(): Promise<void>;
}

/**
 * Writes `series` as a TSDB block (the last samples at `endMs`) and starts Prometheus over it on 127.0.0.1. The
 * retention is long enough for any clock a case may set; the lookback delta is Prometheus' default (5m).
 */
export async function startRealPrometheus(series: CaseSeries, endMs: number): Promise<RealPrometheus> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), "rules-test-prometheus-"));
  liveDirs.add(dir);
  const removeDir = async () => {
    await rm(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  try {
    writeFileSync(join(dir, "prometheus.yml"), "# No scrapes and no rules: the data are the imported block.\nglobal: {}\n");
    const { prometheus, promtool } = binaries;
    cpSync(await blocksOf(promtool, toOpenMetrics(series.series, endMs, series.intervalMs)), join(dir, "data"), { recursive: true });
    let lastError = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = await startOver(prometheus, dir);
      if ("url" in started) {
        let closing: Promise<void> | undefined;
        return { url: started.url, binary: prometheus, close: () => (closing ??= started.stop().then(removeDir)) };
      }
      lastError = started.error;
      // Another process took the port between freePort() and the bind: try another one.
      if (!/address already in use/i.test(lastError)) break;
    }
    throw new Error(`${prometheus} did not start: ${lastError}`);
  } catch (error) {
    await removeDir();
    throw error;
  }
}

/**
 * Blocks made in this process, by promtool and OpenMetrics text: a case served again (the generated checks) skips
 * promtool. Keyed by promtool too, as a 3.x block is not for a Prometheus before 2.55.
 */
const blocks = new Map<string, Promise<string>>();

/** A directory holding the TSDB blocks of `openMetrics`, made once per process by promtool; copy it, never write to it. */
function blocksOf(promtool: string, openMetrics: string): Promise<string> {
  const key = createHash("sha256").update(promtool).update("\0").update(openMetrics).digest("hex");
  let made = blocks.get(key);
  if (!made) {
    if (blockCacheDir === undefined) {
      blockCacheDir = mkdtempSync(join(tmpdir(), "rules-test-blocks-"));
      removeWhenGone(blockCacheDir);
    }
    const root = blockCacheDir;
    made = (async () => {
      writeFileSync(join(root, `${key}.om`), openMetrics);
      const made = await run(promtool, ["tsdb", "create-blocks-from", "openmetrics", "--quiet", `${key}.om`, key], root);
      if (made.code !== 0) throw new Error(`${promtool} tsdb create-blocks-from openmetrics failed: ${made.output.trim()}`);
      return join(root, key);
    })();
    made.catch(() => blocks.delete(key));
    blocks.set(key, made);
  }
  return made;
}

/**
 * Runs the prometheus binary (its second argument, its own arguments after it) and stops it, removing the directory, within a second of
 * the process that started it ending, however it ends: a test worker killed by a signal runs no exit hook. Stopped
 * normally, the whole group gets SIGTERM (sleep included), and the script waits for Prometheus and exits at once.
 */
const WATCHED_PROMETHEUS = `dir=$1; binary=$2; shift 2
"$binary" "$@" &
p=$!
trap 'kill "$p" 2>/dev/null; wait "$p"; exit $?' TERM INT HUP
while kill -0 "$PPID" 2>/dev/null && kill -0 "$p" 2>/dev/null; do sleep 0.5; done
kill "$p" 2>/dev/null
wait "$p"; code=$?
kill -0 "$PPID" 2>/dev/null || rm -rf "$dir"
exit $code`;

/** Removes `dir` within a second of this process ending, however it ends. */
function removeWhenGone(dir: string): void {
  spawn("/bin/sh", ["-c", 'while kill -0 "$PPID" 2>/dev/null; do sleep 1; done; rm -rf "$1"', "sh", dir], {
    detached: true,
    stdio: "ignore",
  }).unref();
}

/**
 * Starts prometheus over `dir` on a free port, watched (WATCHED_PROMETHEUS). Its output goes to a file, and the child
 * does not keep the process alive: the watcher stops it when the process ends.
 */
async function startOver(binary: string, dir: string): Promise<{ url: string; stop(): Promise<void> } | { error: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, `prometheus-${port}.log`);
  const fd = openSync(logFile, "w");
  let child: ChildProcess;
  try {
    child = spawn(
      "/bin/sh",
      [
        "-c",
        WATCHED_PROMETHEUS,
        "sh",
        dir,
        binary,
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        // Blocks are dropped when older than this, counted from the newest: a case's series never are.
        "--storage.tsdb.retention.time=100y",
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { cwd: dir, detached: true, stdio: ["ignore", fd, fd] },
    );
  } finally {
    closeSync(fd);
  }
  child.unref();
  const output = () => {
    try {
      return readFileSync(logFile, "utf8").slice(-16_384).trim();
    } catch {
      return "";
    }
  };
  const failed = new Promise<string>((resolve) => {
    child.once("error", (e) => resolve(e.message));
    child.once("exit", (code, signal) => resolve(`exited (${code ?? signal}) before it was ready: ${output()}`));
  });
  if (child.pid !== undefined) running.add(child.pid);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopChild(child));
  const ready = await Promise.race([waitReady(url, 20_000), failed]);
  if (ready === true) return { url, stop };
  await stop();
  return { error: ready === false ? `not ready within 20 s: ${output()}` : ready };
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function stopChild(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(hardKill);
      if (pid !== undefined) {
        killGroup(pid, "SIGKILL");
        running.delete(pid);
      }
      resolve();
    };
    const hardKill = setTimeout(() => pid !== undefined && killGroup(pid, "SIGKILL"), 5000);
    if (child.exitCode !== null || child.signalCode !== null || pid === undefined) return done();
    child.once("exit", done);
    killGroup(pid, "SIGTERM");
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The hooks run-playbook-tests.ts calls

/** Problems of a file's own `series:`, `interval:` and answers over them, reported once for the file. */
export function checkFileSeries(playbook: CompiledPlaybook, spec: TestFile): FixtureProblem[] {
  const own = fileSeries(spec);
  return [
    ...own.problems,
    ...unreadSeries(playbook, own.series),
    ...answersOverSeries(playbook, spec.prometheus, own.series, ["prometheus"]),
  ];
}

export interface RealPrometheusCase {
  /** The case's series problems; after the run, also its own series no step that ran read. */
  problems(): FixtureProblem[];
  close(): Promise<void>;
}

const NOTHING: RealPrometheusCase = { problems: () => [], close: async () => {} };

/**
 * For a case with `series:` (its own or its file's): starts a Prometheus over them and routes the case's PromQL steps
 * to it, at the case's clock, except steps that read none of the series and have a canned answer. A case without
 * series is left as it is. Without promtool or prometheus on PATH, the case fails and says what it needs.
 */
export async function useRealPrometheus(
  loaded: { file: string; spec: TestFile; playbook: CompiledPlaybook },
  index: number,
  /** The case as prepareCase (run-playbook-tests.ts) serves it: its sources, and the canned PromQL answers asked for. */
  prepared: { sources: StepSources; answered: { prometheus: Set<string> } },
  at: Date,
): Promise<RealPrometheusCase> {
  const { file, spec, playbook } = loaded;
  const testCase = spec.cases[index] as TestCase;
  if (!hasSeries(spec, testCase)) return NOTHING;
  const where = ["cases", index];
  const series = caseSeries(spec, index);
  const own = series.series.filter((s) => s.path[0] === "cases");
  const problems: FixtureProblem[] = [
    ...series.problems,
    ...unreadSeries(playbook, own),
    ...answersOverSeries(playbook, testCase.prometheus, series.series, [...where, "prometheus"]),
  ];
  if (!realPrometheusAvailable()) {
    problems.push({ path: [...where, "name"], message: `this case ${needsBinaries()}` });
    return { problems: () => problems, close: async () => {} };
  }
  if (series.problems.length > 0) return { problems: () => problems, close: async () => {} };
  let prometheus: RealPrometheus;
  try {
    prometheus = await startRealPrometheus(series, at.getTime());
  } catch (error) {
    problems.push({ path: [...where, "series"], message: (error as Error).message });
    return { problems: () => problems, close: async () => {} };
  }
  const source = new PrometheusSource({ url: prometheus.url, userAgent: "alert-enricher/rules-test" });
  const { sources, answered } = prepared;
  const canned = sources.prometheus;
  const answers = { ...spec.prometheus, ...testCase.prometheus };
  const evaluated = new Set<string>();
  sources.prometheus = async (request, signal, context) => {
    const step = playbook.steps.find((s) => s.id === context.stepId && s.kind === "prometheus");
    // Not a step (the alert's chart), or a step the series do not feed that the case answers itself.
    if (!step || (answers[step.id] !== undefined && !readsSeries(step, series.series))) return canned(request, signal, context);
    evaluated.add(step.id);
    // An answer over the series is reported above; it must not also be called unused.
    if (testCase.prometheus?.[step.id] !== undefined) answered.prometheus.add(step.id);
    const output = await source.query({ ...request, at: request.at ?? at.getTime() }, signal);
    const answer = evaluatedSeries(output.data);
    realEvaluations.push({
      file,
      testCase: testCase.name,
      playbook: playbook.name,
      step: step.id,
      ...(step.fragment ? { fragment: step.fragment } : {}),
      query: request.query,
      series: answer.length,
      answer,
      binary: prometheus.binary,
    });
    return output;
  };
  const notRun = testCase.expect.notRun ?? [];
  return {
    problems: () => [...problems, ...unusedSeries(playbook, own, evaluated, notRun)],
    close: () => prometheus.close(),
  };
}

/** PrometheusSource's answer as series and values: a vector's samples, a matrix's points (a scalar is no series). */
function evaluatedSeries(data: unknown): EvaluatedSeries[] {
  const series = (data as { series?: unknown }).series;
  if (!Array.isArray(series)) return [];
  return series.map((s: { labels: Record<string, string>; value?: number; points?: Array<{ v: number }> }) => ({
    labels: s.labels,
    values: s.points ? s.points.map((p) => p.v) : [s.value ?? Number.NaN],
  }));
}

/** The case's own series that no step which ran reads (unless the case says those steps must not run). */
function unusedSeries(playbook: CompiledPlaybook, own: CaseSeries["series"], evaluated: Set<string>, notRun: string[]): FixtureProblem[] {
  const steps = playbook.steps.filter((s) => s.kind === "prometheus");
  return own.flatMap((s) => {
    const name = s.labels.__name__ as string;
    const readers = steps.filter((step) => {
      const read = stepMetrics(step);
      return read.anyMetric || read.names.includes(name);
    });
    if (readers.length === 0 || readers.some((r) => evaluated.has(r.id) || notRun.includes(r.id))) return [];
    return [
      {
        path: [...s.path, "series"],
        message: `never used: no step that reads ${name} ran (${readers.map((r) => r.id).join(", ")}); if that is the point of the case, list them in expect.notRun`,
      },
    ];
  });
}
