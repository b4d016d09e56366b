// Child processes for the benchmark: the service (as `npm start` runs it) and the ingest servers.
// Every child is tracked and killed by its own pid when the benchmark ends or is interrupted; each has a time limit.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");

const running = new Set<ChildProcess>();

export function killAllChildren(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  running.clear();
}

export interface Child {
  process: ChildProcess;
  pid: number;
  /** The last 8 KiB of stderr, for error messages. */
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
  /** Killed (SIGKILL) after this long whatever happens. */
  timeoutMs: number;
  /** An IPC channel, for children that report their URL with process.send(). */
  ipc?: boolean;
}

/**
 * How `npm start` (and the image's CMD and ENV) runs the service, read from package.json's start script
 * (`[NAME=value …] node [--flag …] dist/main.js`): the environment it sets and node's arguments, the bundle's path
 * absolute. The bundle is what `npm run build` writes; run.ts builds it before any phase that starts the service.
 */
export const SERVICE_START: { env: Record<string, string>; nodeArgs: string[] } = (() => {
  const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const words = scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? "")) {
    const [name = "", ...value] = (words.shift() as string).split("=");
    env[name] = value.join("=");
  }
  const [node, ...args] = words;
  const entry = args.at(-1);
  if (node !== "node" || !entry || entry.startsWith("-")) throw new Error(`cannot read package.json's start script: ${scripts.start}`);
  return { env, nodeArgs: [...args.slice(0, -1), join(REPO_ROOT, entry)] };
})();

/** `npm run build`: the bundle `npm start` runs, built from the sources as they are now. */
export function buildService(): void {
  const result = spawnSync("npm", ["run", "--silent", "build"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
  if (result.status !== 0) throw new Error(`npm run build failed: ${result.error?.message ?? ""}${result.stderr}`);
}

/** Runs a TypeScript file with the same Node as the benchmark (Node 24 runs .ts directly). stdout is discarded. */
export function spawnNode(args: string[], options: SpawnOptions): Child {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    // Only what the child needs: nothing of the caller's environment leaks into the service's configuration.
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: options.ipc ? ["ignore", "ignore", "pipe", "ipc"] : ["ignore", "ignore", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`could not start ${args.join(" ")}`);
  running.add(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  timer.unref();
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve(code);
    });
  });
  return {
    process: child,
    pid: child.pid,
    stderr: () => stderr,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Polls `url` until it answers 200; throws after `timeoutMs` or when the child exits first. */
export async function waitUntilReady(url: string, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline && !exited) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${url} did not become ready within ${timeoutMs / 1000} s${exited ? " (the process exited)" : ""}: ${child.stderr()}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** VmRSS and VmHWM (peak resident set) of a process from /proc, in bytes; undefined once it is gone or off Linux. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** Samples a child's resident set every `everyMs`; `stop()` gives the largest sample and the kernel's own peak (VmHWM). */
export function sampleMemory(pid: number, everyMs = 50): { stop(): { maxSampledRss: number; hwm: number; samples: number } } {
  let maxSampledRss = 0;
  let hwm = 0;
  let samples = 0;
  const take = () => {
    const memory = memoryOf(pid);
    if (!memory) return;
    samples++;
    if (memory.rss > maxSampledRss) maxSampledRss = memory.rss;
    if (memory.hwm > hwm) hwm = memory.hwm;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return { maxSampledRss, hwm, samples };
    },
  };
}
