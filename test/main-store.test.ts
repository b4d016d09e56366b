// `npm start` with a DATABASE_URL it cannot use: a missing or read-only volume, a file in the way, a path under /proc,
// PostgreSQL refusing connections. Each is a configuration problem (exit 2) told in one line that names DATABASE_URL
// and the cause, with no stack trace and never the password.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../src/playbook-tests/loopback-server.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Exit, killChildren, REPO_ROOT, runNode } from "./support/node-process.ts";

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

function start(databaseUrl: string, options: { uid?: number; gid?: number } = {}): Promise<Exit> {
  return runNode([MAIN], {
    cwd: dir,
    env: {
      HOME: dir,
      DATABASE_URL: databaseUrl,
      KUBECONFIG: join(dir, "kubeconfig"),
      PROMETHEUS_URL: "http://127.0.0.1:9",
      RULES_DIR: join(REPO_ROOT, "rules"),
      ALLOW_UNAUTHENTICATED: "true",
      HOST: "127.0.0.1",
      PORT: "0",
    },
    timeoutMs: 15_000,
    ...options,
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

  it("exits 2 at once for a path under /proc instead of hanging", async () => {
    const started = Date.now();
    expectRefused(await start("sqlite:/proc/alert-enricher/enricher.db"), /cannot create the directory \/proc\/alert-enricher/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("exits 2 naming DATABASE_URL and the refusal, without the password, when PostgreSQL refuses connections", async () => {
    const port = await freePort();
    const exit = await start(`postgres://enricher:Sup3r-s3cret-pw@127.0.0.1:${port}/alerts?password=Sup3r-s3cret-pw`);
    expectRefused(exit, new RegExp(`enricher@127\\.0\\.0\\.1:${port}/alerts .*ECONNREFUSED`));
    expect(exit.stderr + exit.stdout).not.toContain("Sup3r-s3cret-pw");
  });
});
