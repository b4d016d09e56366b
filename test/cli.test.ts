// The CLI as a user runs it: `node bin/enricher.ts …` from the repository root, judged by its exit code and output.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type DemoCluster, startDemoCluster } from "./support/demo-cluster.ts";
import { scenarioNamed } from "./support/kube-client-errors-scenarios.ts";
import { killChildren, runNode } from "./support/node-process.ts";
import { kubeClientErrorsPayload } from "./support/payloads.ts";

const CLI = "bin/enricher.ts";

const VALID_RULE = `alert: Example
title: Example
runbook: example.md
steps:
  - id: pods
    title: Pods
    kubernetes:
      apiVersion: v1
      kind: Pod
causes:
  - id: bad
    title: Bad
    symptom:
      when: steps.pods.count > 0
      text: pods
    confidence: 0.5
    summary: "{{ steps.pods.count }} pods"
noCorrelation:
  title: No correlation
  summary: none
`;

let dir: string;
let cluster: DemoCluster | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-cli-"));
});

afterEach(async () => {
  await killChildren();
  await cluster?.close();
  cluster = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}) => runNode([CLI, ...args], { env });

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
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("enricher reports link", () => {
  const env = { PUBLIC_URL: "https://enricher.example.com", REPORT_SIGNING_SECRET: "a-secret-of-at-least-32-characters-long" };

  it("prints a signed link to one report, and one to the list, that the service accepts", async () => {
    const { verifyReportToken, LIST_TOKEN_ID } = await import("../src/server/report-links.ts");
    const one = await cli(["reports", "link", "n-42"], env);
    expect(one.code).toBe(0);
    const oneUrl = new URL(one.stdout.trim());
    expect(oneUrl.pathname).toBe("/reports/n-42");
    expect(verifyReportToken(oneUrl.searchParams.get("token") ?? "", "n-42", env.REPORT_SIGNING_SECRET)).toBe("valid");
    const list = await cli(["reports", "link"], env);
    const listUrl = new URL(list.stdout.trim());
    expect(listUrl.pathname).toBe("/reports");
    expect(verifyReportToken(listUrl.searchParams.get("token") ?? "", LIST_TOKEN_ID, env.REPORT_SIGNING_SECRET)).toBe("valid");
  });

  it("exits 2 naming the variables when reports are not configured", async () => {
    const run = await cli(["reports", "link"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("PUBLIC_URL and REPORT_SIGNING_SECRET");
  });
});
