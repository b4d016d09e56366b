// The command line run in this process (runCli), judged by its exit code and output, as a user running
// `node bin/enricher.ts …` from the repository root sees them; test/cli-process.test.ts proves the process wiring.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../bin/enricher.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { makeDiagnosis } from "./support/diagnosis-fixtures.ts";
import { type DemoCluster, startDemoCluster } from "./support/demo-cluster.ts";
import { scenarioNamed } from "./support/kube-client-errors-scenarios.ts";
import { REPO_ROOT } from "./support/node-process.ts";
import { kubeClientErrorsPayload } from "./support/payloads.ts";
import { EXAMPLE_PLAYBOOK } from "./support/playbook-fixtures.ts";

const VALID_RULE = EXAMPLE_PLAYBOOK;

let dir: string;
let cluster: DemoCluster | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-cli-"));
});

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the command line with only `env` set (as a child process started with that environment would have). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { ...env },
  });
  return { code, stdout, stderr };
}

function writePayload(name: string, payload: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof payload === "string" ? payload : JSON.stringify(payload));
  return path;
}

describe("enricher rules validate", () => {
  it("exits 0 on the shipped rules and names the playbook", async () => {
    const result = await cli(["rules", "validate", "./rules"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^\d+ playbook\(s\) valid in \.\/rules: .*KubeClientErrors/);
    expect(result.code).toBe(0);
  });

  it("exits 1 with file:line: path: reason for each broken rule", async () => {
    writeFileSync(
      join(dir, "a-unknown-field.yaml"),
      VALID_RULE.replace("      kind: Pod\n", "      kind: Pod\n      labelSelektor: app=x\n"),
    );
    writeFileSync(
      join(dir, "b-bad-cel.yaml"),
      VALID_RULE.replace("alert: Example", "alert: Other").replace("when: steps.pods.count > 0", "when: steps.pods.count >"),
    );
    const result = await cli(["rules", "validate", dir]);
    const lines = result.stderr.trim().split("\n");
    expect(lines[0]).toBe(`${join(dir, "a-unknown-field.yaml")}:10: steps.0.kubernetes: unknown field "labelSelektor"`);
    expect(lines[1]).toMatch(
      new RegExp(`^${escapeRegExp(join(dir, "b-bad-cel.yaml"))}:14: causes\\.0\\.symptom\\.when: invalid CEL expression`),
    );
    expect(result.stdout).toBe("");
    expect(result.code).toBe(1);
  });

  it("reads RULES_DIR when no directory is given", async () => {
    writeFileSync(join(dir, "example.yaml"), VALID_RULE);
    const result = await cli(["rules", "validate"], { RULES_DIR: dir });
    expect(result.stdout).toBe(`1 playbook(s) valid in ${dir}: Example\n`);
    expect(result.code).toBe(0);
  });
});

describe("enricher usage", () => {
  it("exits 2 on an unknown command and prints the usage", async () => {
    const result = await cli(["frobnicate"]);
    expect(result.stderr).toContain("unknown command: frobnicate");
    expect(result.stderr).toContain("usage:");
    expect(result.stderr).toContain("enricher diagnose FILE.json [--dry-run]");
    expect(result.code).toBe(2);
  });

  // Each command with the line of the usage that names it.
  const COMMANDS: Array<[string[], string]> = [
    [[], "enricher diagnose FILE.json"],
    [["diagnose"], "enricher diagnose FILE.json"],
    [["check"], "enricher check "],
    [["rules"], "enricher rules validate [DIR]"],
    [["rules", "validate"], "enricher rules validate [DIR]"],
    [["rules", "test"], "enricher rules test [DIR] [--all-faults]"],
    [["rules", "schema"], "enricher rules schema [fragment]"],
    [["reports"], "enricher reports link [ID]"],
    [["reports", "link"], "enricher reports link [ID]"],
  ];

  it("prints each command's usage for --help and -h and exits 0, without running it", async () => {
    for (const [command, line] of COMMANDS) {
      for (const flag of ["--help", "-h"]) {
        const args = [...command, flag];
        const result = await cli(args);
        expect(result.stdout.startsWith("usage:\n"), args.join(" ")).toBe(true);
        expect(result.stdout, args.join(" ")).toContain(line);
        expect(result.stderr, args.join(" ")).toBe("");
        expect(result.code, args.join(" ")).toBe(0);
      }
    }
    // A subcommand's help is its own, not the whole list.
    const validate = await cli(["rules", "validate", "--help"]);
    expect(validate.stdout).not.toContain("enricher diagnose");
    expect(validate.stdout).not.toContain("enricher rules test");
  });

  it("exits 2 on an unknown flag of any command, naming it, with that command's usage", async () => {
    for (const [command, line] of COMMANDS) {
      const name = command.join(" ") || "enricher";
      const result = await cli([...command, "--frobnicate"]);
      // check takes no arguments at all, and says so.
      expect(result.stderr, name).toMatch(/^enricher: (unknown flag --frobnicate|check takes no arguments, not --frobnicate)\nusage:\n/);
      expect(result.stderr, name).toContain(line);
      expect(result.stdout, name).toBe("");
      expect(result.code, name).toBe(2);
    }
  });

  it("prints the version of package.json for --version and -V", async () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const result = await cli([flag]);
      expect(result.stdout).toBe(`${version}\n`);
      expect(result.code).toBe(0);
    }
  });

  it("lists the subcommands of rules and reports when none is given, as bad usage", async () => {
    const rules = await cli(["rules"]);
    expect(rules.stderr).toContain("enricher: rules needs a subcommand: validate, test, schema\n");
    expect(rules.stderr).toContain("enricher rules schema [fragment]");
    expect(rules.code).toBe(2);
    const reports = await cli(["reports"]);
    expect(reports.stderr).toContain("enricher: reports needs a subcommand: link\n");
    expect(reports.code).toBe(2);
    const unknown = await cli(["rules", "frobnicate"]);
    expect(unknown.stderr).toContain("unknown command: rules frobnicate");
    expect(unknown.stderr).toContain("enricher rules validate [DIR]");
    expect(unknown.code).toBe(2);
  });
});

describe("enricher check", () => {
  it("warns about variables that look like settings but are none, never showing their values", async () => {
    const secret = "https://hooks.slack.com/services/T000/B000/lookalike-secret";
    const result = await cli(["check"], { SLACK_WEBHOOK: secret, PAGERDUTY_INTEGRATION_KEY: "0123456789abcdef0123456789abcdef" });
    const warnings = result.stdout.split("\n").filter((line) => line.startsWith("warn "));
    expect(warnings).toEqual([
      "warn  environment  PAGERDUTY_INTEGRATION_KEY is not a setting; did you mean PAGERDUTY_ROUTING_KEY?",
      "warn  environment  SLACK_WEBHOOK is not a setting; did you mean SLACK_WEBHOOK_URL?",
    ]);
    expect(result.stdout + result.stderr).not.toContain("lookalike-secret");
    expect(result.stdout + result.stderr).not.toContain("0123456789abcdef0123456789abcdef");
    // Without a cluster configured the kubernetes check fails: the warnings come on top, not instead.
    expect(result.stdout).toMatch(/^FAIL {2}kubernetes {2}/m);
    expect(result.code).toBe(1);
  });
});

describe("enricher diagnose", () => {
  it("exits 2 naming a payload file that does not exist", async () => {
    const missing = join(dir, "no-such-payload.json");
    const result = await cli(["diagnose", missing]);
    expect(result.stderr).toContain(`${missing}: ENOENT`);
    expect(result.code).toBe(2);
  });

  it("exits 2 naming the field of a JSON file that is not a v4 payload", async () => {
    const v3 = writePayload("v3.json", { ...kubeClientErrorsPayload(), version: "3" });
    const result = await cli(["diagnose", v3]);
    expect(result.stderr).toContain(`${v3}: not an Alertmanager v4 payload: /version must be equal to constant: "4"`);
    expect(result.code).toBe(2);
  });

  it("prints the diagnosis for a payload against the configured cluster with --dry-run and delivers nothing", async () => {
    const scenario = scenarioNamed("credentials-rejected");
    cluster = await startDemoCluster(scenario);
    const payload = writePayload("alert.json", kubeClientErrorsPayload(scenario.alertLabels));
    // A Slack webhook nobody answers: delivering would fail the run, so exit 0 shows --dry-run sent nothing.
    const result = await cli(["diagnose", payload, "--dry-run"], {
      ...cluster.env,
      SLACK_WEBHOOK_URL: "http://127.0.0.1:9/services/T000/B000/XXXX",
    });
    expect(result.stdout).toContain("authentication fails");
    expect(result.stdout).toContain("KubeClientErrors");
    expect(result.stdout).not.toContain("eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9");
    expect(result.stderr).not.toContain("slack");
    expect(result.code).toBe(0);
    expect(cluster.kube.requests.length).toBeGreaterThan(0);
    expect(cluster.kube.requests.every((r) => r.method === "GET" && r.userAgent?.startsWith("alert-enricher/"))).toBe(true);
    expect(cluster.prometheus.queries.length).toBeGreaterThan(0);
  });

  it("exits 1 with --dry-run when reads failed, still printing the partial diagnosis", async () => {
    const scenario = scenarioNamed("credentials-rejected");
    // An API server that answers every read with 503, and a Prometheus that refuses connections.
    cluster = await startDemoCluster(scenario, { failWith: () => ({ status: 503, message: "the server is shutting down" }) });
    const payload = writePayload("alert.json", kubeClientErrorsPayload(scenario.alertLabels));
    const result = await cli(["diagnose", payload, "--dry-run"], { ...cluster.env, PROMETHEUS_URL: "http://127.0.0.1:9" });
    expect(result.stdout).toContain("KubeClientErrors");
    expect(result.stdout).toMatch(/could not|partial/i);
    expect(result.stderr).toBe("enricher: the diagnosis is partial: reads failed for 1 of 1 alert(s); run enricher check\n");
    expect(result.code).toBe(1);
    expect(cluster.kube.requests.length).toBeGreaterThan(0);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("enricher reports link", () => {
  const env = { PUBLIC_URL: "https://enricher.example.com", REPORT_SIGNING_SECRET: "a-secret-of-at-least-32-characters-long" };

  /** A store holding one diagnosed notification, as the service leaves it; returns the notification's id. */
  async function storeWithOneDiagnosis(path: string): Promise<string> {
    const store = openSqliteStore(path);
    try {
      await store.migrate();
      const { id } = await store.insertNotification({
        dedupKey: "k",
        payload: kubeClientErrorsPayload(),
        receivedAt: new Date(),
        dedupWindowMs: 0,
      });
      await store.claimNotification("w", 60_000);
      await store.completeNotification(id, makeDiagnosis({ notificationId: id }), []);
      return id;
    } finally {
      await store.close();
    }
  }

  it("prints a signed link to one stored report, and one to the list, that the service accepts", async () => {
    const { verifyReportToken, LIST_TOKEN_ID } = await import("../src/server/report-links.ts");
    const database = join(dir, "enricher.db");
    const id = await storeWithOneDiagnosis(database);
    const one = await cli(["reports", "link", id], { ...env, DATABASE_URL: `sqlite:${database}` });
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    const oneUrl = new URL(one.stdout.trim());
    expect(oneUrl.pathname).toBe(`/reports/${id}`);
    expect(verifyReportToken(oneUrl.searchParams.get("token") ?? "", id, env.REPORT_SIGNING_SECRET)).toBe("valid");
    const list = await cli(["reports", "link"], env);
    const listUrl = new URL(list.stdout.trim());
    expect(listUrl.pathname).toBe("/reports");
    expect(verifyReportToken(listUrl.searchParams.get("token") ?? "", LIST_TOKEN_ID, env.REPORT_SIGNING_SECRET)).toBe("valid");
  });

  it("exits 1 without a link when the store holds no such notification", async () => {
    const database = join(dir, "enricher.db");
    await storeWithOneDiagnosis(database);
    const result = await cli(["reports", "link", "no-such-id"], { ...env, DATABASE_URL: `sqlite:${database}` });
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "enricher: no diagnosis of notification no-such-id is stored (never received, not diagnosed yet, or pruned)\n",
    );
    expect(result.code).toBe(1);
  });

  it("exits 1 when the SQLite store does not exist yet, and does not create it", async () => {
    const database = join(dir, "data", "enricher.db");
    const result = await cli(["reports", "link", "n-42"], { ...env, DATABASE_URL: `sqlite:${database}` });
    expect(result.stderr).toContain("no diagnosis of notification n-42 is stored");
    expect(result.code).toBe(1);
    expect(existsSync(join(dir, "data"))).toBe(false);
  });

  it("exits 2 naming the variables when reports are not configured", async () => {
    const run = await cli(["reports", "link"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("PUBLIC_URL and REPORT_SIGNING_SECRET");
  });
});
