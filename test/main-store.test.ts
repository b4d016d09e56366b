// `npm start` with a DATABASE_URL it cannot use: a missing or read-only volume, a file in the way, a path under /proc,
// PostgreSQL refusing connections or never answering. Each is a configuration problem (exit 2) told in one line that
// names DATABASE_URL and the cause, with no stack trace and never the password.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../testkit/loopback-server.ts";
import { type Exit, killChildren, NODE, REPO_ROOT, runNode } from "./support/node-process.ts";

const MAIN = join(REPO_ROOT, "src", "main.ts");
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:9", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: not-used } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`;
// Root writes through any permission bits; the read-only cases run the service as nobody, as a container user would.
const asRoot = process.getuid?.() === 0;
const unprivileged = asRoot ? { uid: 65534, gid: 65534 } : {};

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-store-start-"));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "kubeconfig"), KUBECONFIG, { mode: 0o644 });
});

afterEach(async () => {
  await killChildren();
  rmSync(dir, { recursive: true, force: true });
});

function serviceEnv(databaseUrl: string): Record<string, string> {
  return {
    HOME: dir,
    DATABASE_URL: databaseUrl,
    KUBECONFIG: join(dir, "kubeconfig"),
    PROMETHEUS_URL: "http://127.0.0.1:9",
    RULES_DIR: join(REPO_ROOT, "rules"),
    ALLOW_UNAUTHENTICATED: "true",
    HOST: "127.0.0.1",
    PORT: "0",
  };
}

function start(databaseUrl: string, options: { uid?: number; gid?: number } = {}): Promise<Exit> {
  return runNode([MAIN], { cwd: dir, env: serviceEnv(databaseUrl), timeoutMs: 15_000, ...options });
}

/**
 * Mounting needs root and unshare(1): a private mount namespace keeps the read-only mounts away from everyone else.
 * Elsewhere the read-only volume case is skipped (the permission cases above still run).
 */
const canMountReadOnly =
  asRoot && spawnSync("unshare", ["-m", "sh", "-c", `mount -t tmpfs -o ro tmpfs ${tmpdir()}`], { stdio: "ignore" }).status === 0;

/** The service in a private mount namespace where `readOnly` directories are mounted read-only first. */
function startWithReadOnlyMounts(databaseUrl: string, readOnly: { emptyTmpfs: string; bindMount: string }): Promise<Exit> {
  const script = `mount -t tmpfs -o ro tmpfs "$1" && mount -o bind,ro "$2" "$2" && shift 2 && exec "$@"`;
  const child = spawn("unshare", ["-m", "sh", "-c", script, "sh", readOnly.emptyTmpfs, readOnly.bindMount, NODE, MAIN], {
    cwd: dir,
    env: { PATH: process.env.PATH, ...serviceEnv(databaseUrl) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, 15_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Exit 2 with a single line on stderr naming DATABASE_URL and matching `cause`; no stack, never started. */
function expectRefused(exit: Exit, cause: RegExp): void {
  expect(exit.timedOut).toBe(false);
  const lines = exit.stderr.trimEnd().split("\n");
  expect(lines, exit.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^alert-enricher: DATABASE_URL: /);
  expect(lines[0]).toMatch(cause);
  expect(exit.stderr).not.toMatch(/^\s+at /m);
  expect(exit.stdout).not.toContain("alert-enricher ready");
  expect(exit.code).toBe(2);
}

describe("npm start with a store it cannot use", () => {
  it("exits 2 naming DATABASE_URL when a file is in the way of the database's directory", async () => {
    writeFileSync(join(dir, "volume"), "not a directory");
    expectRefused(await start(`sqlite:${join(dir, "volume", "data", "enricher.db")}`), /volume is not a directory/);
    expectRefused(await start(`sqlite:${join(dir, "volume", "enricher.db")}`), /volume is not a directory/);
  });

  it("exits 2 naming DATABASE_URL when the database path is a directory", async () => {
    expectRefused(await start(`sqlite:${dir}`), /is a directory/);
  });

  it("exits 2 naming DATABASE_URL when the directory is read-only or cannot be created", async () => {
    const readOnly = join(dir, "read-only");
    mkdirSync(readOnly, { mode: 0o555 });
    chmodSync(readOnly, 0o555);
    expectRefused(await start(`sqlite:${join(readOnly, "enricher.db")}`, unprivileged), /read-only\S* is not writable by this user/);
    expectRefused(
      await start(`sqlite:${join(readOnly, "data", "enricher.db")}`, unprivileged),
      /cannot create the directory \S+read-only\/data: EACCES/,
    );
  });

  it("exits 2 naming DATABASE_URL when the database file is read-only", async () => {
    const volume = join(dir, "volume");
    mkdirSync(volume, { mode: 0o777 });
    chmodSync(volume, 0o777);
    const file = join(volume, "enricher.db");
    const db = new DatabaseSync(file);
    db.exec("CREATE TABLE kept (x)");
    db.close();
    chmodSync(file, 0o444);
    expectRefused(
      await start(`sqlite:${file}`, unprivileged),
      new RegExp(`attempt to write a readonly database \\(${file} is not writable by this user\\)$`),
    );
  });

  it.skipIf(!canMountReadOnly)("exits 2 naming DATABASE_URL when the volume is mounted read-only", async () => {
    const empty = join(dir, "empty");
    const existing = join(dir, "existing");
    mkdirSync(empty);
    mkdirSync(existing);
    const db = new DatabaseSync(join(existing, "enricher.db"));
    db.exec("CREATE TABLE kept (x)");
    db.close();
    const mounts = { emptyTmpfs: empty, bindMount: existing };
    expectRefused(
      await startWithReadOnlyMounts(`sqlite:${join(empty, "enricher.db")}`, mounts),
      new RegExp(`unable to open database file \\(${empty} is on a read-only file system\\)$`),
    );
    expectRefused(
      await startWithReadOnlyMounts(`sqlite:${join(empty, "data", "enricher.db")}`, mounts),
      new RegExp(`cannot create the directory ${empty}/data: EROFS`),
    );
    expectRefused(
      await startWithReadOnlyMounts(`sqlite:${join(existing, "enricher.db")}`, mounts),
      new RegExp(`attempt to write a readonly database \\(${existing}/enricher.db is on a read-only file system\\)$`),
    );
  });

  it("exits 2 at once for a path under /proc instead of hanging", async () => {
    const started = Date.now();
    expectRefused(await start("sqlite:/proc/alert-enricher/enricher.db"), /cannot create the directory \/proc\/alert-enricher/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("exits 2 within the connect timeout when PostgreSQL accepts connections but never answers", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      // Within start()'s 15 s: the store's 5 s connect timeout, not a hang.
      const exit = await start(`postgres://enricher:Sup3r-s3cret-pw@127.0.0.1:${port}/alerts`);
      expectRefused(exit, new RegExp(`enricher@127\\.0\\.0\\.1:${port}/alerts cannot migrate the schema: .*timeout`));
      expect(exit.stderr).not.toContain("Sup3r-s3cret-pw");
    } finally {
      silent.close();
    }
  });

  it("exits 2 naming DATABASE_URL and the refusal, without the password, when PostgreSQL refuses connections", async () => {
    const port = await freePort();
    const exit = await start(`postgres://enricher:Sup3r-s3cret-pw@127.0.0.1:${port}/alerts?password=Sup3r-s3cret-pw`);
    expectRefused(exit, new RegExp(`enricher@127\\.0\\.0\\.1:${port}/alerts .*ECONNREFUSED`));
    expect(exit.stderr + exit.stdout).not.toContain("Sup3r-s3cret-pw");
  });
});
