// The playbook cases with input series (rules/tests, `series:`) on two Prometheus releases over the same data:
// Debian's 2.42 and the current 3.x that .ci/build-prometheus-stack builds (alerting-stacks.ts), each with its own
// promtool making the TSDB blocks. Prometheus 3 changed PromQL in ways that can change an answer without an error
// (range windows and lookback leave out a sample on their left edge; `.` matches a newline; `le` and `quantile` values
// are floats): each case is diagnosed on both, and what the diagnosis concludes (causes, evidence, remediation) must be
// the same; the cases must pass on 3.x as `rules test` runs them; and every query must select the same series on both.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { atTime } from "../../src/engine/expressions.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import {
  coveredSteps,
  type PrometheusBinaries,
  promqlSteps,
  type RealEvaluation,
  realEvaluations,
  useRealPrometheus,
  usePrometheusBinaries,
} from "../../testkit/real-prometheus.ts";
import {
  type CaseResult,
  caseTime,
  type LoadedTestFile,
  loadTestFiles,
  payloadFor,
  prepareCase,
  runPlaybookTests,
  TEST_LIMITS,
} from "../../testkit/run-playbook-tests.ts";
import { hasSeries } from "../../testkit/series.ts";
import type { TestFile } from "../../testkit/test-file.ts";
import type { AlertDiagnosis } from "../../src/model/diagnosis.ts";
import { type AlertingStack, builtStack, DEBIAN_STACK } from "../support/alerting-stacks.ts";

interface StackRun {
  stack: AlertingStack;
  binaries?: PrometheusBinaries;
  /** What each case's diagnosis concludes, as text, by "file: case". */
  diagnoses: Map<string, string>;
  evaluations: RealEvaluation[];
}

const playbooks = loadPlaybooks("rules");
const dir = mkdtempSync(join(tmpdir(), "prometheus-3-cases-"));
const runs: StackRun[] = [DEBIAN_STACK, builtStack()].map((stack) => ({ stack, diagnoses: new Map(), evaluations: [] }));
const [debian, built] = runs as [StackRun, StackRun];
/** The cases as `rules test` runs them, on 3.x. */
let builtResults: CaseResult[] = [];

/** One evaluation's place: the same case, step and query on both releases. */
function evaluationKey(e: RealEvaluation): string {
  return `${e.file} / ${e.testCase} / ${e.step}: ${e.query}`;
}

function labelSets(e: RealEvaluation): string[] {
  return e.answer.map((s) => JSON.stringify(Object.entries(s.labels).sort(([x], [y]) => x.localeCompare(y)))).sort();
}

/**
 * What the diagnosis tells a person, as lines to compare: the verdict, every holding cause with its summary, confidence,
 * evidence and remediation, what could not be checked or read, what was ruled out, and the log lines quoted. Not the
 * step table: its durations differ from run to run, and its raw values are compared query by query below.
 */
function conclusion(diagnosis: AlertDiagnosis | undefined): string {
  if (diagnosis === undefined) return "no diagnosis";
  const { verdict, partial, causes, notChecked, couldNotRead, ruledOut, stillKnown, logExcerpts } = diagnosis;
  return stringify({ verdict, partial, causes, notChecked, couldNotRead, ruledOut, stillKnown, logExcerpts }, { lineWidth: 0 });
}

/** Each case diagnosed as the service would, its PromQL steps answered by the Prometheus now in use. */
async function diagnoseCases(files: LoadedTestFile[]): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const loaded of files) {
    for (const [index, testCase] of loaded.spec.cases.entries()) {
      if (!hasSeries(loaded.spec, testCase)) continue;
      const at = caseTime(loaded.spec, testCase);
      const prepared = await prepareCase(loaded.playbook, loaded.spec, testCase, "alert-enricher/prometheus-3-test", { at });
      const real = await useRealPrometheus(loaded, index, prepared, at);
      try {
        const diagnosis = await atTime(at, () =>
          diagnose("prometheus-3-test", payloadFor(prepared.alert), {
            playbooks: [loaded.playbook],
            sources: prepared.sources,
            limits: TEST_LIMITS,
            maxPlaybookRuns: 1,
            charts: false,
          }),
        );
        texts.set(`${loaded.file}: ${testCase.name}`, conclusion(diagnosis.alerts[0]));
      } finally {
        await real.close();
        await prepared.close();
      }
    }
  }
  return texts;
}

beforeAll(async () => {
  // The test files with series, as they are (their lines stay those of rules/tests).
  for (const name of readdirSync("rules/tests").filter((f) => f.endsWith(".yaml"))) {
    const text = readFileSync(join("rules/tests", name), "utf8");
    const spec = parse(text) as TestFile;
    if ((spec.series ?? []).length > 0 || spec.cases.some((c) => (c.series ?? []).length > 0)) writeFileSync(join(dir, name), text);
  }
  const files = loadTestFiles(dir, playbooks);
  for (const run of runs) {
    const { prometheus, promtool } = run.stack.binaries();
    run.binaries = { prometheus, promtool };
    usePrometheusBinaries(run.binaries);
    const from = realEvaluations.length;
    run.diagnoses = await diagnoseCases(files);
    run.evaluations = realEvaluations.slice(from);
  }
  builtResults = await runPlaybookTests(dir, playbooks);
}, 480_000);

afterAll(() => {
  usePrometheusBinaries({ prometheus: "prometheus", promtool: "promtool" });
  rmSync(dir, { recursive: true, force: true });
});

describe("the playbook cases with series on Prometheus 2.42 and 3.x", () => {
  it("evaluates them with the releases it names", () => {
    for (const run of runs) {
      for (const binary of [run.binaries?.prometheus, run.binaries?.promtool]) {
        const version = spawnSync(binary ?? "", ["--version"], { encoding: "utf8", timeout: 10_000 });
        const reported = /version (\S+)/.exec(`${version.stdout}${version.stderr}`)?.[1];
        expect(reported, `${binary} --version`).toMatch(run.stack.prometheusVersion);
      }
      // Every query of the run went to this release.
      expect(new Set(run.evaluations.map((e) => e.binary))).toEqual(new Set([run.binaries?.prometheus]));
    }
  });

  it("every case reaches the same diagnosis on 3.x as on 2.42: causes, evidence and remediation word for word", () => {
    expect(debian.diagnoses.size).toBeGreaterThan(0);
    expect([...built.diagnoses.keys()]).toEqual([...debian.diagnoses.keys()]);
    const differing = [...debian.diagnoses].filter(([key, text]) => built.diagnoses.get(key) !== text);
    // Each difference as the two texts' differing lines.
    expect(
      differing.map(([key, text]) => {
        const other = (built.diagnoses.get(key) ?? "").split("\n");
        const lines = text.split("\n");
        return [
          key,
          ...lines.filter((l) => !other.includes(l)).map((l) => `  2.42: ${l}`),
          ...other.filter((l) => !lines.includes(l)).map((l) => `  3.x:  ${l}`),
        ].join("\n");
      }),
    ).toEqual([]);
  });

  it("every case with series passes on 3.x as `rules test` runs it", () => {
    expect(builtResults.length).toBeGreaterThan(0);
    expect(builtResults.filter((r) => !r.passed).map((r) => `${r.file}: ${r.name}\n${r.problems.join("\n")}`)).toEqual([]);
  });

  it("every query selects the same series on both; values differ only where a window's left edge holds a sample", () => {
    const answers = new Map(built.evaluations.map((e) => [evaluationKey(e), e]));
    // The same queries (steps run concurrently, so in any order): the playbooks took the same path on both.
    expect([...answers.keys()].sort()).toEqual(debian.evaluations.map(evaluationKey).sort());
    expect(debian.evaluations.filter((e) => labelSets(e).join() !== labelSets(answers.get(evaluationKey(e)) ?? e).join())).toEqual([]);
    // A value can only move with the left-open windows: a query over a range (or a subquery) may; an instant one not.
    const moved = debian.evaluations.filter((e) => JSON.stringify(e.answer) !== JSON.stringify(answers.get(evaluationKey(e))?.answer));
    expect(moved.filter((e) => !/\[\d+[smhdwy]/.test(e.query)).map(evaluationKey)).toEqual([]);
    if (moved.length > 0) {
      console.log(
        `${moved.length} of ${debian.evaluations.length} answers differ between 2.42 and 3.x (a sample on a window's edge):\n  ${moved.map(evaluationKey).join("\n  ")}`,
      );
    }
  });

  it("every PromQL step of the playbooks and fragments is answered with data by Prometheus 3.x", () => {
    const steps = promqlSteps(playbooks);
    expect(steps.length).toBeGreaterThan(0);
    const covered = coveredSteps(steps, built.evaluations);
    expect(
      steps.filter((s) => !covered.has(s.key)).map((s) => `${s.key} (${s.query})`),
      `${covered.size} of ${steps.length} PromQL steps answered`,
    ).toEqual([]);
  });
});
