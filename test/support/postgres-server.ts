// A throwaway PostgreSQL server for tests: initdb into a temp dir, pg_ctl start on a free 127.0.0.1 port, stop and delete.
import { execFile, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../../testkit/loopback-server.ts";

const run = promisify(execFile);

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication, no password). */
  url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server as a crash would (`pg_ctl -m immediate`: every backend killed, connections cut), keeping its files. */
  crash(): Promise<void>;
  /** Starts the crashed server again on the same port and data, and waits until it accepts connections (crash recovery). */
  restart(): Promise<void>;
  /** Stops the server (fast shutdown) and deletes its files. */
  stop(): Promise<void>;
}

const POSTGRES_ROOT = "/usr/lib/postgresql";
const START_ATTEMPTS = 3;

export interface PostgresOptions {
  /**
   * Commits reach the WAL before they are acknowledged (synchronous_commit on), so nothing acknowledged is lost when
   * crash() kills the server. Off by default: tests that never crash the server run faster without it.
   */
  crashSafe?: boolean;
}

export async function startPostgres(serverOptions: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), "alert-enricher-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root, so as root everything runs as the postgres user, which must own the directory.
  if (asRoot) {
    const { uid, gid } = await postgresUser();
    chownSync(dir, uid, gid);
  }
  const pgCommand = (program: string, args: string[]) =>
    // cwd: the postgres user may not be allowed into the caller's working directory.
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(bin, program), ...args], { cwd: dir })
      : run(join(bin, program), args, { cwd: dir });

  let stopped = false;
  let crashed = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    const pgCtl = [join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"];
    spawnSync(asRoot ? "runuser" : pgCtl[0]!, asRoot ? ["-u", "postgres", "--", ...pgCtl] : pgCtl.slice(1), { stdio: "ignore", cwd: dir });
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await pgCommand("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
    const synchronousCommit = serverOptions.crashSafe === true ? "on" : "off";
    const port = await startOnFreePort(pgCommand, data, log, dir, synchronousCommit);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitUntilAccepting(url);
    // A test runner killed mid-file must not leave a server running.
    process.once("exit", stopSync);
    return {
      url,
      async createDatabase(name: string): Promise<string> {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must be a lower-case SQL identifier`);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async crash(): Promise<void> {
        crashed = true;
        await pgCommand("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
      },
      async restart(): Promise<void> {
        await pgCommand("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "30", "-o", serverFlags(port, dir, synchronousCommit), "start"]);
        crashed = false;
        await waitUntilAccepting(url);
      },
      async stop(): Promise<void> {
        if (stopped) return;
        process.removeListener("exit", stopSync);
        try {
          if (!crashed) await pgCommand("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
        } finally {
          stopped = true;
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    stopSync();
    throw error;
  }
}

/** The newest installed major version's bin directory. */
function findBinDir(): string {
  const versions = existsSync(POSTGRES_ROOT)
    ? readdirSync(POSTGRES_ROOT)
        .filter((entry) => /^\d+$/.test(entry) && existsSync(join(POSTGRES_ROOT, entry, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(`PostgreSQL is not installed (no ${POSTGRES_ROOT}/*/bin/initdb): run \`apt-get install postgresql\``);
  }
  return join(POSTGRES_ROOT, newest, "bin");
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  try {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error("running as root needs the postgres user, which Debian's postgresql package creates: `apt-get install postgresql`");
  }
}

type PgCommand = (program: string, args: string[]) => Promise<unknown>;

/** The port is free when asked for but another process may take it before the server binds it: then try another. */
async function startOnFreePort(
  pgCommand: PgCommand,
  data: string,
  log: string,
  socketDir: string,
  synchronousCommit: string,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await pgCommand("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "30", "-o", serverFlags(port, socketDir, synchronousCommit), "start"]);
      return port;
    } catch (error) {
      if (attempt >= START_ATTEMPTS) {
        const detail = existsSync(log) ? spawnSync("tail", ["-n", "20", log], { encoding: "utf8" }).stdout : "";
        throw new Error(`pg_ctl start failed ${attempt} times: ${(error as Error).message}\n${detail}`, { cause: error });
      }
    }
  }
}

/**
 * fsync and full-page writes off: the operating system's cache survives the server's crash (only a machine crash
 * would lose it), so even crash() loses nothing acknowledged as long as commits are synchronous.
 */
function serverFlags(port: number, socketDir: string, synchronousCommit: string): string {
  return `-c listen_addresses=127.0.0.1 -p ${port} -k ${socketDir} -c fsync=off -c full_page_writes=off -c synchronous_commit=${synchronousCommit}`;
}

/** pg_ctl -w already waits for the server; this confirms a TCP client gets through before a test relies on it. */
async function waitUntilAccepting(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL at ${url} did not accept connections within 30 s`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
