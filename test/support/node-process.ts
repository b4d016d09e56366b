// Runs the project's own Node (node_modules/.bin/node) as a child process, the way a user runs the CLI or `npm start`.
// Every child is tracked so a test's afterEach can kill whatever is still running with killChildren().
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dirname, "..", "..");
export const NODE = join(REPO_ROOT, "node_modules", ".bin", "node");

export interface Exit {
  /** null when the child was killed by a signal (including the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface NodeChild {
  process: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Resolves with the first stdout line `match` accepts; rejects if the child exits or `timeoutMs` passes first. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

export interface NodeOptions {
  cwd?: string;
  /** The child's whole environment: nothing of the test runner's leaks in except PATH. */
  env?: Record<string, string | undefined>;
  /** The child is killed (SIGKILL) after this long. */
  timeoutMs?: number;
  /** Run as this user and group (the test runner must be root), e.g. to meet permissions root would ignore. */
  uid?: number;
  gid?: number;
}

const running = new Set<ChildProcess>();

export function startNode(args: string[], options: NodeOptions = {}): NodeChild {
  const child = spawn(NODE, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { PATH: process.env.PATH, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  running.add(child);
  let stdout = "";
  let stderr = "";
  const lineWaiters = new Set<() => void>();
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const check of lineWaiters) check();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs ?? 15_000);
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once("error", (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      for (const check of lineWaiters) check();
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });

  return {
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLine(match, timeoutMs = 10_000) {
      return new Promise<string>((resolve, reject) => {
        const finish = (outcome: () => void) => {
          clearTimeout(deadline);
          lineWaiters.delete(check);
          outcome();
        };
        const check = () => {
          const line = stdout.split("\n").find((l) => match(l));
          if (line !== undefined) finish(() => resolve(line));
          else if (child.exitCode !== null || child.signalCode !== null)
            finish(() => reject(new Error(`the child exited (${child.exitCode ?? child.signalCode}) first:\n${stdout}\n${stderr}`)));
        };
        const deadline = setTimeout(
          () => finish(() => reject(new Error(`no matching line within ${timeoutMs} ms:\n${stdout}\n${stderr}`))),
          timeoutMs,
        );
        lineWaiters.add(check);
        check();
      });
    },
  };
}

/** Runs the child to the end. */
export function runNode(args: string[], options: NodeOptions = {}): Promise<Exit> {
  return startNode(args, options).exited;
}

/** Kills every child still running and waits for each to be gone; for afterEach. */
export async function killChildren(): Promise<void> {
  const children = [...running];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("close", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}
