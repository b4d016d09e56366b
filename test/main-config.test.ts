// `npm start` with configuration mistakes, as a user meets them: every mistake listed at once (exit 2), a variable
// that looks like a setting but is none warned about, and .env read under the real environment.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { killChildren, REPO_ROOT, runNode, startNode } from "./support/node-process.ts";

const MAIN = join(REPO_ROOT, "src", "main.ts");
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:9" } }]
users: [{ name: u, user: { token: not-used } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`;
const SLACK_URL = "https://hooks.slack.com/services/T0/B0/lookalike-secret";

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-config-start-"));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "kubeconfig"), KUBECONFIG);
});

afterEach(async () => {
  await killChildren();
  rmSync(dir, { recursive: true, force: true });
});

/** A shell with a scratch database, the shipped rules and a cluster nobody answers for; `extra` on top. */
function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: dir,
    DATABASE_URL: `sqlite:${join(dir, "data", "enricher.db")}`,
    KUBECONFIG: join(dir, "kubeconfig"),
    PROMETHEUS_URL: "http://127.0.0.1:9",
    RULES_DIR: join(REPO_ROOT, "rules"),
    ALLOW_UNAUTHENTICATED: "true",
    HOST: "127.0.0.1",
    PORT: "0",
    ...extra,
  };
}

describe("npm start with configuration mistakes", () => {
  it("exits 2 listing all three mistakes at once, one line each, without a stack trace", async () => {
    const exit = await runNode([MAIN], {
      cwd: dir,
      env: env({ PORT: "80x", LOG_LEVEL: "loud", DATABASE_URL: "mysql://enricher:db-password@db/enricher" }),
    });
    expect(exit.stderr).toBe(
      [
        "alert-enricher: DATABASE_URL must be sqlite:PATH or postgres://…",
        "alert-enricher: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got loud)",
        "alert-enricher: PORT=80x is not a whole number from 0 to 65535",
        "",
      ].join("\n"),
    );
    expect(exit.stdout).toBe("");
    expect(exit.code).toBe(2);
  });

  it("adds a warning for a lookalike variable to the mistakes, since it is often their cause", async () => {
    const exit = await runNode([MAIN], {
      cwd: dir,
      env: env({ ALLOW_UNAUTHENTICATED: "", WEBHOOK_BEARER_TOKN: "a-token-of-32-characters-0123456" }),
    });
    expect(exit.stderr).toBe(
      [
        "alert-enricher: no webhook authentication configured: set WEBHOOK_BEARER_TOKEN (or WEBHOOK_BASIC_AUTH=user:password), or ALLOW_UNAUTHENTICATED=true to accept unauthenticated webhooks",
        "alert-enricher: warning: WEBHOOK_BEARER_TOKN is not a setting; did you mean WEBHOOK_BEARER_TOKEN?",
        "",
      ].join("\n"),
    );
    expect(exit.stderr).not.toContain("a-token-of-32");
    expect(exit.code).toBe(2);
  });

  it("starts, and logs one warning per lookalike variable at start, naming the setting it meant and not its value", async () => {
    const child = startNode([MAIN], {
      cwd: dir,
      env: env({ SLACK_WEBHOOK: SLACK_URL, PAGERDUTY_INTEGRATION_KEY: "0123456789abcdef0123456789abcdef" }),
      timeoutMs: 20_000,
    });
    await child.waitForLine((line) => line.includes('"alert-enricher ready"'), 15_000);
    const warnings = child
      .stdout()
      .split("\n")
      .filter((line) => line.includes("is not a setting"))
      .map((line) => JSON.parse(line) as { level: number; variable: string; suggestion?: string; msg: string });
    expect(warnings.map(({ level, variable, suggestion, msg }) => ({ level, variable, suggestion, msg }))).toEqual([
      {
        level: 40,
        variable: "PAGERDUTY_INTEGRATION_KEY",
        suggestion: "PAGERDUTY_ROUTING_KEY",
        msg: "PAGERDUTY_INTEGRATION_KEY is not a setting; did you mean PAGERDUTY_ROUTING_KEY?",
      },
      {
        level: 40,
        variable: "SLACK_WEBHOOK",
        suggestion: "SLACK_WEBHOOK_URL",
        msg: "SLACK_WEBHOOK is not a setting; did you mean SLACK_WEBHOOK_URL?",
      },
    ]);
    expect(child.stdout()).not.toContain("lookalike-secret");
    expect(child.stdout()).not.toContain("0123456789abcdef0123456789abcdef");
  });

  it("reads .env for what the environment does not set: the environment wins", async () => {
    // .env's LOG_LEVEL would stop the start; the environment's wins. Its STORM_MIN_GROUPS is read, and refused.
    writeFileSync(join(dir, ".env"), "LOG_LEVEL=loud\nSTORM_MIN_GROUPS=1\n");
    const exit = await runNode([MAIN], { cwd: dir, env: env({ LOG_LEVEL: "warn" }) });
    expect(exit.stderr).toBe("alert-enricher: STORM_MIN_GROUPS=1 is not a whole number from 2 to 10000\n");
    expect(exit.code).toBe(2);
  });

  it("exits 2 naming a .env that is there but cannot be read", async () => {
    mkdirSync(join(dir, ".env"));
    const exit = await runNode([MAIN], { cwd: dir, env: env() });
    expect(exit.stderr).toBe("alert-enricher: .env could not be read: EISDIR\n");
    expect(exit.code).toBe(2);
  });
});
