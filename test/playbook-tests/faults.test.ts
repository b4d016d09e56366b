// A case can make reads fail (`faults:`), by step or by backend, and expect what an honest diagnosis then says: the
// headline "could not check", the causes not checked, the grouped lines of what could not be read, the checks made.
import { afterEach, describe, expect, it } from "vitest";
import type { CaseResult } from "../../testkit/run-playbook-tests.ts";
import { lineOf, type RulesDir, rulesWith } from "./support.ts";
import { FAULTS_PLAYBOOK, faultsFile } from "./trust-support.ts";

let rules: RulesDir | undefined;

afterEach(() => {
  rules?.remove();
  rules = undefined;
});

async function run(text: string, playbook = FAULTS_PLAYBOOK): Promise<CaseResult[]> {
  rules = rulesWith(text, playbook);
  return rules.run();
}

function only(results: CaseResult[], name: string): CaseResult {
  const result = results.find((r) => r.name === name);
  if (!result) throw new Error(`no result ${name} in ${results.map((r) => r.name).join(", ")}`);
  return result;
}

describe("faults in a case", () => {
  it("make a step's read fail with the message given, and the case expects could_not_check and what it could not read", async () => {
    const result = only(
      await run(
        faultsFile(`
  - name: Prometheus refuses the error ratio
    faults: { errors: "Prometheus could not be reached: connect ECONNREFUSED" }
    expect:
      cause: could_not_check
      notChecked: [credentials_rejected]
      couldNotRead: ["Prometheus could not be reached: connect ECONNREFUSED (1 query)"]
      partial: true`),
      ),
      "Prometheus refuses the error ratio",
    );
    expect(result.problems).toEqual([]);
  });

  it("need no partial: true: a read the case makes fail is its point, not a broken fixture", async () => {
    const result = only(
      await run(
        faultsFile(`
  - name: the error ratio fails
    faults: { errors: "Prometheus rejected the query (bad_data: parse error)" }
    expect: { cause: could_not_check, notChecked: [credentials_rejected] }`),
      ),
      "the error ratio fails",
    );
    expect(result.problems).toEqual([]);
  });

  it("still fail the case on a step that failed without a fault", async () => {
    // A pod log for a container the pod does not have: the API server answers 400, which is no fault of the case.
    const text = faultsFile(`
  - name: a broken fixture
    faults: { errors: refused }
    cluster:
      remove: [{ kind: Pod, namespace: shop, name: web-1 }]
    expect: { cause: could_not_check }`);
    const result = only(await run(text), "a broken fixture");
    expect(result.passed).toBe(false);
    expect(result.problems).toContain(
      "steps that failed (fix the fixture, make the failure a fault of the case, or expect partial: true):",
    );
    expect(result.problems.join("\n")).toContain("  - web_logs: ");
    expect(result.problems.join("\n")).not.toContain("  - errors: ");
  });

  it("time a step out with timeout (or hang), worded as the service words it", async () => {
    const result = only(
      await run(
        faultsFile(`
  - name: the ServiceAccount get hangs
    faults: { account: timeout }
    prometheus: { errors: [{ value: 0.3 }] }
    expect:
      cause: credentials_rejected
      checks: 2 of 3
      couldNotRead: ["the API server did not answer 1 read in 0.3 s"]`),
      ),
      "the ServiceAccount get hangs",
    );
    expect(result.problems).toEqual([]);
  });

  it("make a whole backend fail: prometheus refused, kubernetes hang", async () => {
    const results = await run(
      faultsFile(`
  - name: Prometheus refuses
    faults: { prometheus: refused }
    expect:
      cause: could_not_check
      notChecked: [credentials_rejected]
      couldNotRead: ["Prometheus at 127.0.0.1:9090 could not be reached: ECONNREFUSED (1 query)"]
  - name: the API server hangs
    faults: { kubernetes: hang }
    prometheus: { errors: [{ value: 0.3 }] }
    expect:
      cause: credentials_rejected
      notChecked: [pods_crashing]
      checks: 1 of 3
      couldNotRead: ["the API server did not answer 3 reads in 0.3 s"]`),
    );
    expect(results.map((r) => [r.name, r.problems])).toEqual([
      ["Prometheus refuses", []],
      ["the API server hangs", []],
    ]);
  });

  it("say what differs from the expectation: the headline, the causes not checked, the lines, the checks", async () => {
    const rulesResults = await run(
      faultsFile(`
  - name: wrong expectations
    faults: { account: "API server answered 403 Forbidden" }
    prometheus: { errors: [{ value: 0.3 }] }
    expect:
      cause: could_not_check
      notChecked: [credentials_rejected, pods_crashing]
      couldNotRead: ["Prometheus"]
  - name: wrong checks
    faults: { account: "API server answered 403 Forbidden" }
    prometheus: { errors: [{ value: 0.3 }] }
    expect: { cause: credentials_rejected, checks: 3 of 3 }`),
    );
    const result = only(rulesResults, "wrong expectations");
    expect(result.problems).toEqual([
      "expected top cause: could_not_check",
      "     got top cause: credentials_rejected — credentials rejected on 30% of requests",
      "  causes ranked: credentials_rejected 59%",
      "cause credentials_rejected should be not checked, but it holds (not checked: none)",
      "cause pods_crashing should be not checked, but it was ruled out (not checked: none)",
      'missing could-not-read line: "Prometheus" (was: ["API server answered 403 Forbidden (1 read)"])',
    ]);
    expect(only(rulesResults, "wrong checks").problems).toEqual(["expected checks: 3 of 3, got 2 of 3"]);
  });

  it("refuse a key that is no step and no backend, with the file, line and the step meant", async () => {
    const text = faultsFile(`
  - name: misspelt
    faults: { erors: refused }
    expect: { cause: no_correlation }`);
    const result = only(await run(text), "misspelt");
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "erors:")}: cases.0.faults.erors: playbook Example has no step erors, and erors is no backend (prometheus, kubernetes, audit) (did you mean errors?)`,
    );
  });

  it("refuse a backend the playbook never reads, and an answer the fault kept from being used", async () => {
    const text = faultsFile(`
  - name: unused
    faults: { audit: refused, errors: refused }
    prometheus: { errors: [{ value: 0.3 }] }
    expect: { cause: could_not_check }`);
    const result = only(await run(text), "unused");
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "faults:")}: cases.0.faults.audit: playbook Example has no step that reads from audit`,
    );
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "prometheus: { errors")}: cases.0.prometheus.errors: never used: step errors did not ask for it (failed: ${"Prometheus at 127.0.0.1:9090 could not be reached: ECONNREFUSED"}); if that is the point of the case, list it in expect.notRun`,
    );
  });

  it("refuse a fault of a step that made no read", async () => {
    const text = faultsFile(
      `
  - name: the deep step does not run
    faults: { deep: refused }
    prometheus: { errors: [{ value: 0.3 }] }
    expect: { cause: credentials_rejected }`,
    );
    const result = only(await run(text), "the deep step does not run");
    expect(result.problems).toEqual([
      `${rules?.file}:${lineOf(text, "faults:")}: cases.0.faults.deep: never used: step deep made no read (skipped: not needed: its condition was false), so its fault shows nothing; if that is the point of the case, list it in expect.notRun`,
    ]);
  });

  it("refuse checks not written as made of total", async () => {
    const text = faultsFile(`
  - name: checks as a fraction
    expect: { cause: no_correlation, checks: 3/4 }`);
    rules = rulesWith(text, FAULTS_PLAYBOOK);
    await expect(rules.run()).rejects.toThrow(
      `${rules.file}:${lineOf(text, "checks:")}: cases.0.expect.checks: must be "<made> of <total>", such as "3 of 4"`,
    );
  });

  it("refuse checks for a headline that has no cause", async () => {
    const text = faultsFile(`
  - name: checks of nothing
    expect: { cause: no_correlation, checks: 1 of 2 }`);
    const result = only(await run(text), "checks of nothing");
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "checks:")}: cases.0.expect.checks: checks are the top cause's: there is none when the headline is no_correlation`,
    );
  });
});
