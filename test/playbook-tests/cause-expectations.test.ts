// expect's keys beyond the top cause's own text (testkit/cause-expectations.ts): ranked, explains, ruledOut and
// notContains. Each passes when the diagnosis says what it claims, and fails the case with file:line when not.
import { afterEach, describe, expect, it } from "vitest";
import { type CaseResult, PlaybookTestFileError } from "../../testkit/run-playbook-tests.ts";
import { EXAMPLE_CLUSTER, EXAMPLE_PLAYBOOK, lineOf, type RulesDir, rulesWith } from "./support.ts";

/** Example, where failures in the web pod's log explain the errors, and the errors cause has a remediation. */
const PLAYBOOK = EXAMPLE_PLAYBOOK.replace("    confidence: 0.5\n", "    confidence: 0.5\n    explains: [high_errors]\n").replace(
  '    summary: "{{ percent(steps.errors.value) }} errors"\n',
  '    summary: "{{ percent(steps.errors.value) }} errors"\n    remediation: ["kubectl -n shop rollout restart deployment/web"]\n',
);

/** 30% errors, and the web pod's log either quiet or showing a failure. */
const BOTH_HOLD = `prometheus: { errors: [{ value: 0.3 }] }
    cluster: { logs: { shop/web-1/app: "request failed\\n" } }`;
const ERRORS_ONLY = `prometheus: { errors: [{ value: 0.3 }] }
    cluster: { logs: { shop/web-1/app: "request served\\n" } }`;

let rules: RulesDir | undefined;

afterEach(() => {
  rules?.remove();
  rules = undefined;
});

/** Runs one case with `fixtures` and `expectation` (the lines under expect:, indented six spaces). */
async function runCase(fixtures: string, expectation: string): Promise<{ result: CaseResult; text: string; file: string }> {
  const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: the case
    ${fixtures}
    expect:
${expectation}
`;
  rules = rulesWith(text, PLAYBOOK);
  const [result] = await rules.run();
  if (!result) throw new Error("no result");
  return { result, text, file: rules.file };
}

describe("expect.ranked", () => {
  it("passes when the causes rank in that order from the top", async () => {
    const { result } = await runCase(BOTH_HOLD, "      cause: failing_logs\n      ranked: [failing_logs, high_errors]");
    expect(result).toMatchObject({ passed: true, problems: [] });
  });

  it("fails the case, with the ranking, when another cause ranks second", async () => {
    const { result, text, file } = await runCase(ERRORS_ONLY, "      cause: high_errors\n      ranked: [high_errors, failing_logs]");
    expect(result.passed).toBe(false);
    expect(result.problems).toEqual([
      `${file}:${lineOf(text, "ranked:")}: cases.0.expect.ranked: the causes should rank high_errors, failing_logs first; causes ranked: high_errors 80%`,
    ]);
  });

  it("fails the case when it does not start with the top cause, or names a cause the playbook does not have", async () => {
    const { result, text, file } = await runCase(BOTH_HOLD, "      cause: failing_logs\n      ranked: [high_error, failing_logs]");
    expect(result.problems).toEqual([
      `${file}:${lineOf(text, "ranked:")}: cases.0.expect.ranked.0: playbook Example has no cause high_error (did you mean high_errors?)`,
      `${file}:${lineOf(text, "ranked:")}: cases.0.expect.ranked.0: ranked starts with the top cause, failing_logs`,
    ]);
  });
});

describe("expect.explains", () => {
  it("passes when the top cause explains the cause that holds beside it", async () => {
    const { result } = await runCase(BOTH_HOLD, "      cause: failing_logs\n      explains: [high_errors]");
    expect(result).toMatchObject({ passed: true, problems: [] });
  });

  it("fails the case when the top cause explains nothing, because the other cause does not hold", async () => {
    const { result, text, file } = await runCase(
      `prometheus: { errors: [{ value: 0.05 }] }\n    cluster: { logs: { shop/web-1/app: "request failed\\n" } }`,
      "      cause: failing_logs\n      explains: [high_errors]",
    );
    expect(result.passed).toBe(false);
    expect(result.problems).toEqual([
      `${file}:${lineOf(text, "explains:")}: cases.0.expect.explains.0: the top cause failing_logs should explain high_errors, but failing_logs explains nothing and high_errors does not hold (causes ranked: failing_logs 50%)`,
    ]);
  });

  it("fails the case beside a headline that has no top cause", async () => {
    const { result, text, file } = await runCase(
      "prometheus: { errors: [{ value: 0.01 }] }",
      "      cause: no_correlation\n      explains: [high_errors]",
    );
    expect(result.problems).toEqual([
      `${file}:${lineOf(text, "explains:")}: cases.0.expect.explains: explains is about the top cause: there is none when the headline is no_correlation`,
    ]);
  });
});

describe("expect.ruledOut", () => {
  it("passes when the evidence rules the cause out", async () => {
    const { result } = await runCase(ERRORS_ONLY, "      cause: high_errors\n      ruledOut: [failing_logs]");
    expect(result).toMatchObject({ passed: true, problems: [] });
  });

  it("fails the case, saying the cause holds, when it does", async () => {
    const { result, text, file } = await runCase(BOTH_HOLD, "      cause: failing_logs\n      ruledOut: [high_errors]");
    expect(result.passed).toBe(false);
    expect(result.problems).toEqual([
      `${file}:${lineOf(text, "ruledOut:")}: cases.0.expect.ruledOut.0: cause high_errors ("High errors") should be ruled out, but it holds (ruled out: none)`,
    ]);
  });

  it("fails the case, with the read that stopped it, when the cause could not be checked", async () => {
    const { result, text, file } = await runCase(
      `${ERRORS_ONLY}\n    faults: { web_logs: "kubelet unreachable" }`,
      "      cause: high_errors\n      ruledOut: [failing_logs]",
    );
    expect(result.passed).toBe(false);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(
      new RegExp(
        `^${file}:${lineOf(text, "ruledOut:")}: cases\\.0\\.expect\\.ruledOut\\.0: cause failing_logs \\("Failures in the log"\\) should be ruled out, but it was not checked \\(.*kubelet unreachable.*\\)`,
      ),
    );
  });
});

describe("expect.notContains", () => {
  it("passes when the text is nowhere in the top cause's summary, evidence and remediation", async () => {
    const { result } = await runCase(
      ERRORS_ONLY,
      "      cause: high_errors\n      notContains: { summary: [failures], evidence: [log], remediation: [delete] }",
    );
    expect(result).toMatchObject({ passed: true, problems: [] });
  });

  it("fails the case at each entry found, quoting the line it is in", async () => {
    const { result, text, file } = await runCase(
      ERRORS_ONLY,
      "      cause: high_errors\n      notContains: { summary: [30%], evidence: [requests fail], remediation: [rollout restart] }",
    );
    const line = lineOf(text, "notContains:");
    expect(result.passed).toBe(false);
    expect(result.problems).toEqual([
      `${file}:${line}: cases.0.expect.notContains.summary.0: the top cause's summary should not contain "30%", but has "30% errors"`,
      `${file}:${line}: cases.0.expect.notContains.evidence.0: the top cause's evidence should not contain "requests fail", but has "30% of requests fail"`,
      `${file}:${line}: cases.0.expect.notContains.remediation.0: the top cause's remediation should not contain "rollout restart", but has "kubectl -n shop rollout restart deployment/web"`,
    ]);
  });

  it("refuses the file on a misspelt field, which would otherwise never fail", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: the case
    ${ERRORS_ONLY}
    expect:
      cause: high_errors
      notContains: { evidense: [token] }
`;
    rules = rulesWith(text, PLAYBOOK);
    const error: unknown = await rules.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlaybookTestFileError);
    expect((error as Error).message).toBe(
      `${rules.file}:${lineOf(text, "notContains:")}: cases.0.expect.notContains.evidense: unknown field "evidense"`,
    );
  });
});
