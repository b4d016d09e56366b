// The checks `rules test` builds from the written cases: a refutation case per cause (its symptom's steps answering
// nothing there must rule it out) and the fault matrix (each step unknown, and whole backends failing, must never
// create a claim nor turn "not checked" into "ruled out"). A sound playbook passes them; deliberately wrong ones are
// caught, even though every written case of theirs passes.
import { afterEach, describe, expect, it } from "vitest";
import type { PlaybookTestReport } from "../../testkit/run-playbook-tests.ts";
import { formatReport } from "../../testkit/test-report.ts";
import type { GeneratedResult } from "../../testkit/generated-checks.ts";
import { type RulesDir, rulesWith } from "./support.ts";
import { DEMO_CASE, FAULTS_PLAYBOOK, faultsFile, faultsPlaybookWith } from "./trust-support.ts";

let rules: RulesDir | undefined;

afterEach(() => {
  rules?.remove();
  rules = undefined;
});

const CRASHING_CASE = `
  - name: blames the crashing pod
    cluster:
      objects:
        - apiVersion: v1
          kind: Pod
          metadata: { name: web-1, namespace: shop, labels: { app: web } }
          spec: { nodeName: worker-1, containers: [{ name: app, image: registry.example.com/app:1.0 }] }
          status: { phase: Running, containerStatuses: [{ name: app, ready: false, restartCount: 7, state: { running: { startedAt: now-1m } } }] }
    expect: { cause: pods_crashing }`;

async function suite(
  playbook: string,
  cases = DEMO_CASE + CRASHING_CASE,
  faultMatrix: "demo" | "all" = "demo",
): Promise<PlaybookTestReport> {
  rules = rulesWith(faultsFile(cases), playbook);
  return rules.suite({ faultMatrix });
}

const failures = (results: GeneratedResult[]) => results.filter((r) => !r.passed).map((r) => ({ name: r.name, problems: r.problems }));

describe("a sound playbook", () => {
  it("passes a refutation case per cause and the fault matrix of its demo case", async () => {
    const report = await suite(FAULTS_PLAYBOOK);
    expect(report.cases.map((c) => [c.name, c.passed])).toEqual([
      ["blames the rejected credentials", true],
      ["blames the crashing pod", true],
    ]);
    expect(report.refutations.map((r) => [r.name.replace(rules?.file ?? "", "FILE"), r.passed])).toEqual([
      ['Example: credentials_rejected with its symptom absent (from "blames the rejected credentials", FILE:14)', true],
      ['Example: pods_crashing with its symptom absent (from "blames the crashing pod", FILE:18)', true],
    ]);
    // The four steps the demo case read (deep's condition was false), then the three whole-backend cases.
    expect(report.faults.map((r) => r.name.replace(/ \(in .*$/, ""))).toEqual([
      "Example: step pods unknown",
      "Example: step account unknown",
      "Example: step errors unknown",
      "Example: step web_logs unknown",
      "Example: Prometheus refusing",
      "Example: the API server hanging",
      "Example: Prometheus refusing and the API server hanging",
    ]);
    expect(failures(report.faults)).toEqual([]);
    expect(report.causes).toEqual({
      all: ["Example/credentials_rejected", "Example/pods_crashing"],
      reached: ["Example/credentials_rejected", "Example/pods_crashing"],
    });
  });

  it("runs the matrix over every case with faultMatrix: all", async () => {
    const report = await suite(FAULTS_PLAYBOOK, DEMO_CASE + CRASHING_CASE, "all");
    expect(report.faults.filter((r) => r.name.includes('"blames the crashing pod"')).map((r) => r.name.replace(/ \(in .*$/, ""))).toEqual([
      "Example: step pods unknown",
      "Example: step account unknown",
      "Example: step errors unknown",
      "Example: step web_logs unknown",
    ]);
    expect(failures(report.faults)).toEqual([]);
  });
});

describe("refutation", () => {
  it("catches a cause that holds on its explanation alone", async () => {
    const report = await suite(
      faultsPlaybookWith(
        "when: steps.errors.value != null && steps.errors.value > 0.1",
        "when: (steps.errors.value != null && steps.errors.value > 0.1) || steps.account.found == false",
      ),
      DEMO_CASE,
    );
    expect(report.cases.every((c) => c.passed)).toBe(true);
    expect(failures(report.refutations).map((f) => f.problems)).toEqual([
      [
        "with errors answering no series, account answering not found, credentials_rejected still holds: its symptom " +
          "((steps.errors.value != null && steps.errors.value > 0.1) || steps.account.found == false) is true with nothing there",
      ],
    ]);
  });

  it("catches a symptom that a read of nothing leaves undecided", async () => {
    const report = await suite(
      faultsPlaybookWith("when: steps.errors.value != null && steps.errors.value > 0.1", "when: steps.errors.series[0].value > 0.1"),
    );
    expect(report.cases.every((c) => c.passed)).toBe(true);
    const problems = failures(report.refutations).flatMap((f) => f.problems);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^with errors answering no series, credentials_rejected could not be decided \(its condition could not be evaluated \(.*\)\): nothing there must rule it out$/,
    );
  });

  it("refutes a symptom that is an absence by answering its get with a bare object, unless an explanation reads that get", async () => {
    const gone = `
  - id: account_gone
    title: The ServiceAccount is gone
    confidence: 0.3
    symptom: { when: steps.account.found == false, text: ServiceAccount shop/web does not exist, step: account }
    summary: the ServiceAccount is gone
noCorrelation:`;
    const refuted = await suite(faultsPlaybookWith("noCorrelation:", gone));
    expect(refuted.refutations.find((r) => r.name.startsWith("Example: account_gone"))?.passed).toBe(true);

    const explained = await suite(
      faultsPlaybookWith(
        "noCorrelation:",
        gone.replace("summary: the ServiceAccount is gone", "summary: gone\n    evidence: [{ step: account, text: gone }]"),
      ),
    );
    expect(failures(explained.refutations).map((f) => f.problems)).toEqual([
      ["with account answering not found, account_gone still holds: its symptom (steps.account.found == false) is true with nothing there"],
    ]);
  });

  it("lists the causes no case reaches", async () => {
    const report = await suite(
      faultsPlaybookWith(
        "noCorrelation:",
        `
  - id: many_pods
    title: Too many pods
    confidence: 0.3
    symptom: { when: size(steps.pods.items) > 5, text: many pods, step: pods }
    summary: many pods
noCorrelation:`,
      ),
    );
    expect(report.causes.reached).toEqual(["Example/credentials_rejected", "Example/pods_crashing"]);
    expect(formatReport(report)).toContain("causes no case reaches (1): Example: many_pods");
    expect(formatReport(report).split("\n").at(-2)).toContain("; 2 of 3 causes reached;");
  });
});

describe("the fault matrix", () => {
  it("catches a condition that takes an unknown step for empty with .orValue([])", async () => {
    const report = await suite(
      faultsPlaybookWith(
        "noCorrelation:",
        `
  - id: no_pods
    title: No web pod runs
    confidence: 0.7
    symptom: { when: "size(steps.?pods.items.orValue([])) == 0", text: no web pod, step: pods }
    summary: no web pod runs
noCorrelation:`,
      ),
    );
    expect(report.cases.every((c) => c.passed)).toBe(true);
    expect(failures(report.faults).map((f) => [f.name.replace(/ \(in .*$/, ""), f.problems])).toEqual([
      [
        "Example: step pods unknown",
        ["no_pods holds with step pods unknown, but is ruled out when it is read: a read that failed created a claim"],
      ],
      [
        "Example: the API server hanging",
        ["no_pods holds with the API server hanging, but is ruled out when it is read: a read that failed created a claim"],
      ],
      [
        "Example: Prometheus refusing and the API server hanging",
        [
          "no_pods holds with Prometheus refusing and the API server hanging, but is ruled out when it is read: a read that failed created a claim",
        ],
      ],
    ]);
  });

  it("catches a condition that gives an unknown step a value with .orValue(), though the cause still holds", async () => {
    const report = await suite(
      faultsPlaybookWith("when: steps.errors.value != null && steps.errors.value > 0.1", "when: steps.?errors.value.orValue(1.0) > 0.1"),
    );
    expect(report.cases.every((c) => c.passed)).toBe(true);
    const step = failures(report.faults).find((f) => f.name.startsWith("Example: step errors unknown"));
    expect(step?.problems).toHaveLength(1);
    expect(step?.problems[0]).toMatch(
      /^credentials_rejected holds with step errors unknown and when it is read, but is not checked \(its condition could not be evaluated \(.*\)\) with errors answering no series: its condition takes the unknown step for a value \(has\(\), orValue\(\)\); it must be not checked$/,
    );
  });

  it("catches a condition that rules a cause out when its step is unknown, and the no-correlation headline that follows", async () => {
    const report = await suite(
      faultsPlaybookWith(
        "when: steps.errors.value != null && steps.errors.value > 0.1",
        "when: has(steps.errors) && steps.errors.value != null && steps.errors.value > 0.1",
      ),
    );
    expect(report.cases.every((c) => c.passed)).toBe(true);
    const byName = new Map(failures(report.faults).map((f) => [f.name.replace(/ \(in .*$/, ""), f.problems]));
    expect(byName.get("Example: step errors unknown")).toEqual([
      "credentials_rejected is ruled out with step errors unknown, but holds when it is read: a failed read must leave it not checked",
      'the headline is "no correlation found" with step errors unknown, though it was credentials_rejected holds when it is read',
    ]);
    expect(byName.get("Example: Prometheus refusing")).toEqual([
      "credentials_rejected is ruled out with Prometheus refusing, but holds when it is read: a failed read must leave it not checked",
      'the headline is "no correlation found" with Prometheus refusing: it must be "could not check" or a cause that holds on what did answer',
      'the message gives the no-correlation remediation (["restart everything"]) though Prometheus could not be read',
    ]);
  });
});

describe("the report", () => {
  it("ends with the counts of each kind, then one plain line of everything passed and failed", async () => {
    const report = await suite(
      faultsPlaybookWith(
        "when: steps.errors.value != null && steps.errors.value > 0.1",
        "when: has(steps.errors) && steps.errors.value != null && steps.errors.value > 0.1",
      ),
    );
    const lines = formatReport(report).split("\n");
    expect(lines.at(-2)).toBe(
      "2 cases passed, 0 failed; 2 of 2 causes reached; 2 refutation cases passed, 0 failed; 4 fault cases passed, 3 failed",
    );
    expect(lines.at(-1)).toBe("8 passed, 3 failed");
    expect(lines).toContain('  ✗ Example: step errors unknown (in "blames the rejected credentials", ' + `${rules?.file}:14)`);
  });
});
