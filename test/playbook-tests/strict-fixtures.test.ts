// `rules test` is strict (issue #12): a fixture that takes no part in its case fails the case or the file, with the
// file and line, instead of being ignored while the case passes for another reason.
import { afterEach, describe, expect, it } from "vitest";
import { type CaseResult, PlaybookTestFileError } from "../../testkit/run-playbook-tests.ts";
import { EXAMPLE_CLUSTER, lineOf, type RulesDir, rulesWith } from "./support.ts";

let rules: RulesDir | undefined;

afterEach(() => {
  rules?.remove();
  rules = undefined;
});

async function run(text: string): Promise<CaseResult[]> {
  rules = rulesWith(text);
  return rules.run();
}

async function loadError(text: string): Promise<string> {
  rules = rulesWith(text);
  const error: unknown = await rules.run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlaybookTestFileError);
  return (error as Error).message;
}

function only(results: CaseResult[], name: string): CaseResult {
  const result = results.find((r) => r.name === name);
  if (!result) throw new Error(`no result ${name} in ${results.map((r) => r.name).join(", ")}`);
  return result;
}

const passing = (name: string, answers: string) => `
  - name: ${name}
    prometheus: { ${answers} }
    expect: { cause: high_errors }`;

describe("answers under prometheus: and audit:", () => {
  it("fail the case on a misspelt step id, naming file, line and the step meant", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: misspelt
    prometheus:
      errors: [{ value: 0.3 }]
      histroy: { range: [{ values: [0.3, 0.3] }] }
    expect: { cause: high_errors }
`;
    const result = only(await run(text), "misspelt");
    expect(result.passed).toBe(false);
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "histroy")}: cases.0.prometheus.histroy: playbook Example has no step histroy (did you mean history?)`,
    );
  });

  it("fail the case on an answer for a step of another kind", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: wrong kind
    prometheus:
      errors: [{ value: 0.3 }]
      pods: [{ value: 1 }]
    audit:
      errors: [{ userAgent: kubectl, count: 1 }]
    expect: { cause: high_errors }
`;
    const result = only(await run(text), "wrong kind");
    expect(result.passed).toBe(false);
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "pods: [")}: cases.0.prometheus.pods: step pods is a kubernetes step, not a prometheus one: what it reads goes under cluster.objects`,
    );
    expect(result.problems).toContain(
      `${rules?.file}:${lineOf(text, "errors: [{ userAgent")}: cases.0.audit.errors: step errors is a prometheus step, not a audit one: what it reads goes under prometheus:`,
    );
  });

  it("fail the case on an instant answer for a range query and a range answer for an instant one", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: wrong shape
    prometheus:
      errors: { range: [{ values: [0.3] }] }
      history: [{ value: 0.3 }]
    expect: { cause: no_correlation }
`;
    const problems = only(await run(text), "wrong shape").problems.join("\n");
    expect(problems).toContain("cases.0.prometheus.errors: step errors is an instant query: its answer is a list of { labels, value }");
    expect(problems).toContain("cases.0.prometheus.history: step history is a range query (range: 10m): its answer is { range:");
  });

  it("fail the case on a range answer reaching back further than the step reads, or at another step", async () => {
    const values = Array.from({ length: 12 }, () => 0.3).join(", ");
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: too long
    prometheus:
      errors: [{ value: 0.3 }]
      history: { step: 30s, range: [{ values: [${values}] }] }
    expect: { cause: high_errors }
`;
    const problems = only(await run(text), "too long").problems.join("\n");
    expect(problems).toContain("cases.0.prometheus.history.step: step history queries at a 1m step, not 30s");
    expect(problems).toContain(
      "cases.0.prometheus.history.range.0.values: 12 values at a 1m step reach back further than the 10m step history reads (at most 11)",
    );
  });

  it("fail the case on an audit row with a column the aggregate does not have", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: audit column
    prometheus: { errors: [{ value: 0.3 }] }
    audit:
      busiest: [{ userAgent: kubectl, user: alice, cout: 4 }]
    expect: { cause: high_errors }
`;
    const problems = only(await run(text), "audit column").problems.join("\n");
    expect(problems).toContain(
      `:${lineOf(text, "busiest:")}: cases.0.audit.busiest.0.cout: a topUserAgents row has no column cout (its columns: userAgent, user, count) (did you mean count?)`,
    );
  });

  it("refuse the file on a misspelt step id among the file's shared answers", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}prometheus:
  erors: [{ value: 0.3 }]
cases:${passing("one", "errors: [{ value: 0.3 }]")}
`;
    const message = await loadError(text);
    expect(message).toBe(
      `${rules?.file}:${lineOf(text, "erors:")}: prometheus.erors: playbook Example has no step erors (did you mean errors?)`,
    );
  });
});

describe("answers a case never used", () => {
  const skipped = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: deep is not read at 30%
    prometheus:
      errors: [{ value: 0.3 }]
      deep: [{ value: 99 }]
    expect: { cause: high_errors }
`;

  it("fail the case: the step's when was false, so the answer showed nothing", async () => {
    const result = only(await run(skipped), "deep is not read at 30%");
    expect(result.passed).toBe(false);
    expect(result.problems).toEqual([
      `${rules?.file}:${lineOf(skipped, "deep: [")}: cases.0.prometheus.deep: never used: step deep did not ask for it (skipped: not needed: its condition was false); if that is the point of the case, list it in expect.notRun`,
    ]);
  });

  it("pass when the case says the step must not run, and fail when it ran after all", async () => {
    const declared = skipped.replace("expect: { cause: high_errors }", "expect: { cause: high_errors, notRun: [deep] }");
    expect(only(await run(declared), "deep is not read at 30%")).toMatchObject({ passed: true, problems: [] });
    rules?.remove();
    const ran = declared.replace("errors: [{ value: 0.3 }]", "errors: [{ value: 0.6 }]");
    const result = only(await run(ran), "deep is not read at 30%");
    expect(result.passed).toBe(false);
    expect(result.problems.join("\n")).toContain("cases.0.expect.notRun.0: step deep was not left out by its own when (ok: 1 series)");
  });

  it("count a file-level answer as used when any case uses it, and fail the file when none does", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}prometheus:
  errors: [{ value: 0.3 }]
  deep: [{ value: 99 }]
cases:
  - name: uses errors
    expect: { cause: high_errors }
  - name: gives its own deep answer and runs it
    prometheus: { errors: [{ value: 0.7 }], deep: [{ value: 1 }] }
    expect: { cause: high_errors }
`;
    const results = await run(text);
    expect(results.filter((r) => r.name !== "the file's shared answers").every((r) => r.passed)).toBe(true);
    expect(only(results, "the file's shared answers")).toEqual({
      file: rules?.file,
      name: "the file's shared answers",
      passed: false,
      problems: [
        `${rules?.file}:${lineOf(text, "deep: [{ value: 99")}: prometheus.deep: no case uses this answer: every case either gives its own for step deep or does not run it`,
      ],
    });
  });
});

describe("the cluster a case describes", () => {
  it("fails the case on a log for a pod, or a container, that no object has", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: logs
    prometheus: { errors: [{ value: 0.3 }] }
    cluster:
      logs:
        shop/web-2/app: "failed\\n"
        shop/web-1/sidecar: "failed\\n"
        shop/web-1/app/previous: "old run\\n"
        shop: "?"
    expect: { cause: high_errors }
`;
    const problems = only(await run(text), "logs").problems;
    expect(problems).toEqual([
      `${rules?.file}:${lineOf(text, "shop/web-2/app")}: cases.0.cluster.logs.shop/web-2/app: no pod shop/web-2 in the case's cluster, so this log is never read (did you mean web-1?)`,
      `${rules?.file}:${lineOf(text, "shop/web-1/sidecar")}: cases.0.cluster.logs.shop/web-1/sidecar: pod shop/web-1 has no container sidecar (its containers: app), so this log is never read`,
      `${rules?.file}:${lineOf(text, 'shop: "?"')}: cases.0.cluster.logs.shop: a log is keyed namespace/pod, namespace/pod/container or namespace/pod/container/previous`,
    ]);
  });

  it("fails the case on a remove: that removes nothing, and on a top-level field its kind does not have", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: remove and fields
    prometheus: { errors: [{ value: 0.3 }] }
    cluster:
      remove: [{ kind: Pod, namespace: shop, name: web-l }]
      objects:
        - apiVersion: v1
          kind: Pod
          metadata: { name: api-1, namespace: shop }
          spec: { containers: [{ name: api, image: registry.example.com/api:1.0 }] }
          stauts: { phase: Running }
    expect: { cause: high_errors }
`;
    const problems = only(await run(text), "remove and fields").problems;
    expect(problems).toEqual([
      `${rules?.file}:${lineOf(text, "stauts")}: cases.0.cluster.objects.0.stauts: a Pod has no field stauts (did you mean status?)`,
      `${rules?.file}:${lineOf(text, "remove:")}: cases.0.cluster.remove.0: no Pod shop/web-l among the defaults, so this removes nothing (did you mean web-1?)`,
    ]);
  });

  it("fails the case on two objects with the same kind, namespace and name", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: twice
    prometheus: { errors: [{ value: 0.3 }] }
    cluster:
      objects:
        - { apiVersion: v1, kind: ConfigMap, metadata: { name: settings, namespace: shop } }
        - { apiVersion: v1, kind: ConfigMap, metadata: { name: settings, namespace: shop }, data: { a: b } }
    expect: { cause: high_errors }
`;
    expect(only(await run(text), "twice").problems).toEqual([
      `${rules?.file}:${lineOf(text, "data: { a: b }")}: cases.0.cluster.objects.1: ConfigMap shop/settings is already defined (item 0): the API server holds one`,
    ]);
  });

  it("refuses the file on a metadata field Kubernetes does not have, with its line", async () => {
    const text = `playbook: Example
cluster:
  objects:
    - apiVersion: v1
      kind: Pod
      metadata:
        name: web-1
        namespace: shop
        label: { app: web }
cases:${passing("one", "errors: [{ value: 0.3 }]")}
`;
    expect(await loadError(text)).toBe(`${rules?.file}:${lineOf(text, "label:")}: cluster.objects.0.metadata.label: unknown field "label"`);
  });

  it("refuses the file on an unknown key in a case, reporting every problem of every line", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: one
    prometheus: { errors: [{ value: 0.3 }] }
    promethues: { errors: [{ value: 0.3 }] }
    expect: { cause: high_errors, absnt: [failing_logs] }
`;
    expect((await loadError(text)).split("\n")).toEqual([
      `${rules?.file}:${lineOf(text, "promethues")}: cases.0.promethues: unknown field "promethues"`,
      `${rules?.file}:${lineOf(text, "absnt")}: cases.0.expect.absnt: unknown field "absnt"`,
    ]);
  });
});

describe("expectations", () => {
  it("fail the case when absent: names a cause the playbook does not have, which is always absent", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: absent typo
    prometheus: { errors: [{ value: 0.3 }] }
    expect:
      cause: high_errors
      absent: [failing_log]
`;
    expect(only(await run(text), "absent typo").problems).toEqual([
      `${rules?.file}:${lineOf(text, "absent:")}: cases.0.expect.absent.0: playbook Example has no cause failing_log, so it is always absent (did you mean failing_logs?)`,
    ]);
  });
});
