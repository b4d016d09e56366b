// The real Prometheus on 127.0.0.1, for end-to-end tests of the alerting stack: scraping test exporters every second,
// evaluating rule files, and sending alerts to an Alertmanager. Debian's `prometheus` package (2.42) unless told which
// binary (a 3.x built by .ci/build-prometheus-stack, alerting-stacks.ts). One config serves both: alerts go to
// Alertmanager's API v2 (the only one 3.x has), and the exporters send a Content-Type 3.x accepts (it fails a scrape
// without one rather than guessing the format).
// Also the process plumbing the real Alertmanager shares (alertmanager-server.ts): a free loopback port, a temp dir,
// readiness polling, and a stop that kills the whole process group and removes the temp dir.
// A missing binary is an Error naming the apt package: a test using it fails, it never skips.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "../../testkit/loopback-server.ts";

export interface RunningDaemon {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** The temp dir holding the config and the data; removed by stop(). */
  dir: string;
  /** The last 64 KB the process wrote to stdout and stderr, for a failing test's message. */
  output(): string;
  /** Kills the process and its children (SIGTERM, SIGKILL after 5 s) and removes the temp dir; later calls return the same promise. */
  stop(): Promise<void>;
}

export interface DaemonSpec {
  /** The executable: a path, or a name looked up on PATH. */
  binary: string;
  /** The Debian package that provides it, named in the error when it is missing; none for a built binary. */
  aptPackage?: string;
  /** The temp dir's name prefix. */
  name: string;
  /** Writes the config into `dir` and returns the command line for `port`. */
  args(dir: string, port: number): string[];
  /** Milliseconds to wait for `GET /-/ready` to answer 200. Default 20 s. */
  readyTimeoutMs?: number;
}

const OUTPUT_LIMIT = 64 * 1024;
/** Process group ids still running, killed on exit if a test run dies before its afterAll. */
const running = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of running) killGroup(pid, "SIGKILL");
  });
}

/** Throws an Error naming the apt package (or the build script) when `binary` cannot be run. */
export function requireBinary(binary: string, aptPackage?: string): void {
  const probe = spawnSync(binary, ["--version"], { stdio: "ignore", timeout: 10_000 });
  const code = (probe.error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== "ENOENT" && code !== "EACCES") return;
  throw new Error(
    aptPackage !== undefined
      ? `${binary} is not installed (not on PATH): install Debian's ${aptPackage} package (apt-get install -y ${aptPackage})`
      : `${binary} cannot be run (${code}): build it with \`bash .ci/build-prometheus-stack\``,
  );
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitForReady(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(child)) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess, dir: string): Promise<void> {
  const pid = child.pid;
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(hardKill);
      if (pid !== undefined) {
        // Children of the daemon, if any, go with the group.
        killGroup(pid, "SIGKILL");
        running.delete(pid);
      }
      rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    const hardKill = setTimeout(() => {
      if (pid !== undefined) killGroup(pid, "SIGKILL");
    }, 5000);
    if (exited(child) || pid === undefined) return done();
    child.once("exit", done);
    killGroup(pid, "SIGTERM");
  });
}

/** Starts a daemon that serves `GET /-/ready` on 127.0.0.1, in its own process group, and waits until it is ready. */
export async function startDaemon(spec: DaemonSpec): Promise<RunningDaemon> {
  requireBinary(spec.binary, spec.aptPackage);
  installExitHook();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const dir = mkdtempSync(join(tmpdir(), `${spec.name}-`));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let text = "";
    const child = spawn(spec.binary, spec.args(dir, port), {
      cwd: dir,
      // Its own process group, so stop() reaches its children too.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const append = (chunk: Buffer) => {
      text = (text + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
    spawnError.catch(() => {});
    if (child.pid !== undefined) running.add(child.pid);
    let stopping: Promise<void> | undefined;
    const daemon: RunningDaemon = {
      url,
      dir,
      output: () => text,
      stop: () => (stopping ??= stopChild(child, dir)),
    };
    try {
      await Promise.race([waitForReady(url, child, () => text, spec.readyTimeoutMs ?? 20_000), spawnError]);
      return daemon;
    } catch (error) {
      await daemon.stop();
      lastError = error;
      // Another process took the port between freePort() and the bind: try another one.
      if (!/address already in use/i.test(text)) break;
    }
  }
  throw new Error(`${spec.binary}: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

export interface ScrapeTarget {
  /** The scrape job's name: the `job` label of every series scraped from it. */
  job: string;
  /** `host:port` the exporter listens on. */
  address: string;
  /** Default /metrics. */
  metricsPath?: string;
  /**
   * Target labels added to every series. An `instance` here replaces the scrape address as the series' instance,
   * as Kubernetes service discovery names a target by its pod's address.
   */
  labels?: Record<string, string>;
}

export interface PrometheusOptions {
  /** The prometheus executable. Default `prometheus` on PATH (Debian's package). */
  binary?: string;
  /** Absolute paths of rule files (`rule_files:`). */
  rulesFiles: string[];
  scrapeTargets: ScrapeTarget[];
  /** The Alertmanager to send alerts to, `http://host:port[/prefix]`; none when left out. */
  alertmanagerUrl?: string;
  /** Rule evaluation interval. Default 1s. Scrapes happen every second regardless. */
  evaluationInterval?: string;
}

export interface RunningPrometheus {
  url: string;
  /** The version it reports (`/api/v1/status/buildinfo`), e.g. "2.42.0". */
  version: string;
  output(): string;
  stop(): Promise<void>;
}

function prometheusConfig(options: PrometheusOptions): string {
  const jobs = [...new Set(options.scrapeTargets.map((t) => t.job))];
  const alertmanager = options.alertmanagerUrl !== undefined ? new URL(options.alertmanagerUrl) : undefined;
  return stringify({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: options.evaluationInterval ?? "1s" },
    rule_files: options.rulesFiles,
    ...(alertmanager !== undefined
      ? {
          alerting: {
            alertmanagers: [
              {
                api_version: "v2",
                scheme: alertmanager.protocol.replace(":", ""),
                path_prefix: alertmanager.pathname.replace(/\/$/, "") || "/",
                timeout: "5s",
                static_configs: [{ targets: [alertmanager.host] }],
              },
            ],
          },
        }
      : {}),
    scrape_configs: jobs.map((job) => {
      const targets = options.scrapeTargets.filter((t) => t.job === job);
      return {
        job_name: job,
        metrics_path: targets[0]?.metricsPath ?? "/metrics",
        static_configs: targets.map((t) => ({ targets: [t.address], ...(t.labels !== undefined ? { labels: t.labels } : {}) })),
      };
    }),
  });
}

/**
 * Starts `prometheus` (options.binary, else Debian's) on 127.0.0.1 with a free port and a temp dir for its TSDB, and waits for `/-/ready`.
 * `--web.external-url` is its own loopback URL, so alerts' generatorURL point at it. New targets are picked up in
 * 5 s batches, so the first scrape comes about 5 s after start (machine-facts.md).
 */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  for (const target of options.scrapeTargets) {
    const first = options.scrapeTargets.find((t) => t.job === target.job);
    if ((first?.metricsPath ?? "/metrics") !== (target.metricsPath ?? "/metrics")) {
      throw new Error(`the scrape targets of job ${target.job} must share one metricsPath`);
    }
  }
  const binary = options.binary ?? "prometheus";
  const daemon = await startDaemon({
    binary,
    ...(options.binary === undefined ? { aptPackage: "prometheus" } : {}),
    name: "e2e-prometheus",
    args(dir, port) {
      const config = join(dir, "prometheus.yml");
      writeFileSync(config, prometheusConfig(options));
      return [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--web.external-url=http://127.0.0.1:${port}`,
        "--log.level=info",
      ];
    },
  });
  try {
    const response = await fetch(`${daemon.url}/api/v1/status/buildinfo`);
    const body = (await response.json()) as { data?: { version?: string } };
    return { url: daemon.url, version: body.data?.version ?? "unknown", output: daemon.output, stop: daemon.stop };
  } catch (error) {
    await daemon.stop();
    throw error;
  }
}
