// Every PromQL query the playbooks run is evaluated by a real Prometheus in some test case (issue #12): canned answers
// test a playbook's reasoning, but only a real evaluation shows that the query selects the series the exporters
// expose, aggregates them as the playbook expects, and returns what its conditions read. This runs the cases of
// rules/tests that give input series (`series:`, *.series.yaml) and checks that every PromQL step of every playbook and
// shared fragment was sent to a real Prometheus and answered with at least one series by one of them.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { coveredSteps, evaluationKey, promqlSteps, realEvaluations } from "../../testkit/real-prometheus.ts";
import { type CaseResult, runPlaybookTests } from "../../testkit/run-playbook-tests.ts";
import type { TestFile } from "../../testkit/test-file.ts";

const playbooks = loadPlaybooks("rules");
const dir = mkdtempSync(join(tmpdir(), "promql-coverage-"));
let results: CaseResult[] = [];

beforeAll(async () => {
  // The test files with series, as they are (their lines stay those of rules/tests).
  for (const name of readdirSync("rules/tests").filter((f) => f.endsWith(".yaml"))) {
    const text = readFileSync(join("rules/tests", name), "utf8");
    const spec = parse(text) as TestFile;
    if ((spec.series ?? []).length > 0 || spec.cases.some((c) => (c.series ?? []).length > 0)) writeFileSync(join(dir, name), text);
  }
  results = await runPlaybookTests(dir, playbooks);
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the playbooks' PromQL, evaluated by a real Prometheus", () => {
  it("every case with series passes", () => {
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => !r.passed).map((r) => `${r.file}: ${r.name}\n${r.problems.join("\n")}`)).toEqual([]);
  });

  it("every PromQL step of every playbook and fragment is answered with data by a case with series", () => {
    const steps = promqlSteps(playbooks);
    expect(steps.length).toBeGreaterThan(0);
    const covered = coveredSteps(steps);
    const missing = steps
      .filter((s) => !covered.has(s.key))
      .map((s) => {
        const evaluated = realEvaluations.some((e) => evaluationKey(e) === s.key);
        return `${s.key}: ${evaluated ? "evaluated, but no case's series gave it an answer" : "never evaluated by a real Prometheus"} (${s.query})`;
      });
    expect(missing, `${covered.size} of ${steps.length} PromQL steps covered`).toEqual([]);
  });
});
