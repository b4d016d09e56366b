// Playbook test cases with input series (issue #12): promtool's notation, turned into a TSDB block with
// `promtool tsdb create-blocks-from openmetrics`, served by a real Prometheus 2.42 on loopback at the case's clock, and
// the playbook's own PromQL evaluated over it. Strict like the rest of `rules test`: a series or answer that cannot take
// part fails the case or the file with its line. Needs Debian's prometheus package (promtool and prometheus on PATH):
// `npm test` installs it, and these tests fail rather than skip without it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { PlaybookTestFileError } from "../../testkit/run-playbook-tests.ts";
import { realEvaluations } from "../../testkit/real-prometheus.ts";
import { expandValues, metricNamesOf, parseSeriesSelector, toOpenMetrics } from "../../testkit/series.ts";
import { lineOf, rulesWith } from "./support.ts";

/**
 * An error ratio from two counters, its 10-minute history (one point a minute), a step run only above 50% errors, and a
 * step whose metric no series gives (answered from the case, canned).
 */
const PLAYBOOK = `alert: Example
title: Example
runbook: example.md
steps:
  - id: errors
    title: Error ratio
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m])) / sum(rate(requests_total{job="web"}[5m]))' }
  - id: history
    title: Errors per second over 10 minutes
    prometheus: { query: 'sum(rate(errors_total{job="web"}[1m]))', range: 10m }
  - id: deep
    title: Only above 50% errors
    when: steps.errors.value != null && steps.errors.value > 0.5
    prometheus: { query: 'sum(deep_total{job="web"})' }
  - id: other
    title: A step the series do not feed
    prometheus: { query: 'sum(other_total)' }
causes:
  - id: high_errors
    title: High errors
    symptom:
      when: steps.errors.value != null && steps.errors.value > 0.1
      text: "{{ percent(steps.errors.value) }} of requests fail"
      step: errors
    confidence: 0.8
    summary: >-
      {{ percent(steps.errors.value) }} errors{{ size(steps.history.series) > 0
        ? ", " + string(size(steps.history.series[0].points)) + " points, last " + fixed(steps.history.series[0].last, 2) : "" }}{{
        steps.other.value != null ? ", other " + fixed(steps.other.value, 0) : "" }}{{
        steps.deep.value != null ? ", deep " + fixed(steps.deep.value, 0) : "" }}
noCorrelation:
  title: No correlation
  summary: nothing matched
`;

/** 30 errors in every 100 requests, one sample a minute for 20 minutes: 30% now. */
const THIRTY_PERCENT = [
  { series: 'errors_total{job="web"}', values: "0+15x20" },
  { series: 'requests_total{job="web"}', values: "0+50x20" },
];

function testFile(body: Record<string, unknown>): string {
  return stringify({ playbook: "Example", baseCluster: false, ...body }, { lineWidth: 0 });
}

async function runFile(body: Record<string, unknown>) {
  const text = testFile(body);
  const rules = rulesWith(text, PLAYBOOK);
  try {
    return { results: await rules.run(), text, file: rules.file };
  } finally {
    rules.remove();
  }
}

describe("promtool's series notation", () => {
  it("expands a+bxn, a-bxn, axn, _ and _xn as promtool does", () => {
    expect(expandValues("0+42x3")).toEqual({ values: [0, 42, 84, 126] });
    expect(expandValues("1-2x4")).toEqual({ values: [1, -1, -3, -5, -7] });
    expect(expandValues("-2+4x3")).toEqual({ values: [-2, 2, 6, 10] });
    expect(expandValues("1x4")).toEqual({ values: [1, 1, 1, 1, 1] });
    // 0x70 is 0 repeated, never hexadecimal: series descriptions have no hex numbers.
    expect(expandValues("0x2")).toEqual({ values: [0, 0, 0] });
    expect(expandValues("1 _x3 5")).toEqual({ values: [1, undefined, undefined, undefined, 5] });
    expect(expandValues("1.5e2 _ -Inf NaN")).toEqual({ values: [150, undefined, Number.NEGATIVE_INFINITY, Number.NaN] });
  });

  it("refuses what it cannot import, saying what to write instead", () => {
    expect(expandValues("1 stale")).toEqual({ problem: expect.stringContaining("leave the series' last values out with _") });
    expect(expandValues("0+1x")).toEqual({ problem: expect.stringContaining('"0+1x" is not promtool\'s notation') });
    expect(expandValues("")).toEqual({ problem: expect.stringContaining("no values") });
  });

  it("gives the values promtool test rules gives for the same notation", () => {
    const notations = ["0+42x3", "1-2x4", "-2+4x3", "1x4", "0x2 7", "1 _x3 5 0x2", "1.5e2x1 _ 3"];
    // One sample every 10 minutes: a missing one is not hidden by the 5-minute lookback of the one before.
    const tests = notations.map((values, n) => {
      const expanded = expandValues(values);
      if ("problem" in expanded) throw new Error(expanded.problem);
      return expanded.values.map((value, i) => ({
        expr: `m{n="${n}"}`,
        eval_time: `${i * 10}m`,
        exp_samples: value === undefined ? [] : [{ labels: `m{n="${n}"}`, value }],
      }));
    });
    const dir = mkdtempSync(join(tmpdir(), "series-notation-"));
    try {
      const file = join(dir, "notation.test.yml");
      writeFileSync(
        file,
        stringify({
          rule_files: [],
          evaluation_interval: "1m",
          tests: [
            {
              interval: "10m",
              input_series: notations.map((values, n) => ({ series: `m{n="${n}"}`, values })),
              promql_expr_test: tests.flat(),
            },
          ],
        }),
      );
      const run = spawnSync("promtool", ["test", "rules", file], { encoding: "utf8", timeout: 30_000 });
      expect(run.error).toBeUndefined();
      expect(`${run.stdout}${run.stderr}`).toContain("SUCCESS");
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads a series selector with its labels, as promtool's input_series does", () => {
    expect(parseSeriesSelector('rest_client_requests_total{job="kube-state-metrics", code="<error>",}')).toEqual({
      labels: { __name__: "rest_client_requests_total", job: "kube-state-metrics", code: "<error>" },
    });
    expect(parseSeriesSelector(`{__name__="up", job='a\\"b'}`)).toEqual({ labels: { __name__: "up", job: 'a"b' } });
    expect(parseSeriesSelector('up{job=~"a.*"}')).toEqual({ problem: expect.stringContaining("exact values (=) only") });
    expect(parseSeriesSelector('{job="a"}')).toEqual({ problem: expect.stringContaining("needs a metric name") });
    expect(parseSeriesSelector('up{job="a"')).toEqual({ problem: expect.stringContaining("missing }") });
    expect(parseSeriesSelector('up{job="a" code="1"}')).toEqual({ problem: expect.stringContaining("expected , or }") });
  });

  it("writes OpenMetrics with each series' last sample at the case's clock", () => {
    const end = Date.parse("2026-11-23T10:00:00Z");
    const text = toOpenMetrics(
      [
        { labels: { __name__: "b_total", job: 'we"b' }, values: [1, undefined, 3], path: [] },
        { labels: { __name__: "a" }, values: [Number.POSITIVE_INFINITY], path: [] },
      ],
      end,
      30_000,
    );
    expect(text).toBe(
      ["a +Inf 1795428000.000", 'b_total{job="we\\"b"} 1 1795427940.000', 'b_total{job="we\\"b"} 3 1795428000.000', "# EOF", ""].join("\n"),
    );
  });

  it("finds the metrics a query template reads", () => {
    expect(metricNamesOf('sum(rate(a_total{job="{{ alert.labels.job }}"}[5m])) / on() group_left max(b or {__name__="c"})')).toEqual({
      names: ["a_total", "b", "c"],
      anyMetric: false,
    });
    expect(metricNamesOf('count({__name__=~"kube_.*"})').anyMetric).toBe(true);
  });
});

describe("a case with series: its PromQL steps run on a real Prometheus", () => {
  it("evaluates the steps the series feed, range queries included, and answers the others from the case", async () => {
    const { results } = await runFile({
      interval: "1m",
      cases: [
        {
          name: "thirty percent",
          series: THIRTY_PERCENT,
          prometheus: { other: [{ value: 7 }] },
          expect: { cause: "high_errors", summary: "30% errors, 11 points, last 0.25, other 7" },
        },
      ],
    });
    expect(results.map((r) => r.problems)).toEqual([[]]);
    const recorded = realEvaluations.filter((e) => e.testCase === "thirty percent").map((e) => [e.step, e.series]);
    expect(recorded).toEqual(
      expect.arrayContaining([
        ["errors", 1],
        ["history", 1],
      ]),
    );
    expect(recorded.map(([step]) => step)).not.toContain("other");
  });

  it("evaluates at the case's own clock, where its series end", async () => {
    const { results } = await runFile({
      at: "2026-11-23T10:00:00Z",
      series: THIRTY_PERCENT,
      cases: [
        { name: "at the file's clock", expect: { cause: "high_errors", summary: "30% errors" } },
        { name: "six hours later", at: "2026-11-23T16:00:00Z", expect: { cause: "high_errors", summary: "30% errors" } },
        {
          name: "a file's series replaced by the case's: no errors now",
          series: [{ series: 'errors_total{job="web"}', values: "0+15x10 150x10" }],
          expect: { cause: "no_correlation" },
        },
      ],
    });
    expect(results.map((r) => [r.name, r.problems])).toEqual([
      ["at the file's clock", []],
      ["six hours later", []],
      ["a file's series replaced by the case's: no errors now", []],
    ]);
  });

  it("runs a step that only some data reach when the series make it run, with its own answer from Prometheus", async () => {
    const { results } = await runFile({
      cases: [
        {
          name: "sixty percent",
          series: [
            { series: 'errors_total{job="web"}', values: "0+30x20" },
            { series: 'requests_total{job="web"}', values: "0+50x20" },
            { series: 'deep_total{job="web",shard="1"}', values: "1+1x20" },
            { series: 'deep_total{job="web",shard="2"}', values: "2x20" },
          ],
          expect: { cause: "high_errors", summary: "60% errors, 11 points, last 0.5, deep 23" },
        },
      ],
    });
    expect(results.map((r) => r.problems)).toEqual([[]]);
  });

  it("fails a canned answer for a step the series feed, and a series no step reads, with their lines", async () => {
    const { results, text, file } = await runFile({
      cases: [
        {
          name: "both",
          series: [...THIRTY_PERCENT, { series: 'error_total{job="web"}', values: "1x20" }],
          prometheus: { errors: [{ value: 0.9 }] },
          expect: { cause: "high_errors" },
        },
      ],
    });
    const problems = results[0]?.problems ?? [];
    expect(problems).toContain(
      `${file}:${lineOf(text, "errors:", "prometheus:")}: cases.0.prometheus.errors: step errors reads errors_total, requests_total, which series: gives: it is evaluated by the real Prometheus, so a canned answer cannot also be given (drop one of them)`,
    );
    expect(problems).toContain(
      `${file}:${lineOf(text, "error_total{")}: cases.0.series.2.series: no PromQL step of Example reads error_total, so this series takes no part (did you mean errors_total?)`,
    );
    // The answer over the series is reported once, not also as unused.
    expect(problems.filter((p) => p.includes("never used"))).toEqual([]);
  });

  it("fails a case's series whose step did not run, unless the case says it must not", async () => {
    const deep = { series: 'deep_total{job="web"}', values: "5x20" };
    const { results, text, file } = await runFile({
      cases: [
        { name: "deep unused", series: [...THIRTY_PERCENT, deep], expect: { cause: "high_errors" } },
        { name: "deep not run", series: [...THIRTY_PERCENT, deep], expect: { cause: "high_errors", notRun: ["deep"] } },
      ],
    });
    expect(results.map((r) => [r.name, r.problems])).toEqual([
      [
        "deep unused",
        [
          `${file}:${lineOf(text, "deep_total")}: cases.0.series.2.series: never used: no step that reads deep_total ran (deep); if that is the point of the case, list them in expect.notRun`,
        ],
      ],
      ["deep not run", []],
    ]);
  });

  it("fails bad notation, a staleness marker and a series given twice, with their lines", async () => {
    const { results, text, file } = await runFile({
      cases: [
        {
          name: "bad",
          series: [
            { series: 'errors_total{job="web"}', values: "0+15x" },
            { series: 'requests_total{job="web"}', values: "0+50x20 stale" },
            { series: 'errors_total{ job="web" }', values: "1x20" },
          ],
          expect: { cause: "no_correlation" },
        },
      ],
    });
    const problems = results[0]?.problems ?? [];
    expect(problems).toEqual(
      expect.arrayContaining([
        `${file}:${lineOf(text, "0+15x")}: cases.0.series.0.values: "0+15x" is not promtool's notation (a number, a+bxn, a-bxn, axn, _ or _xn)`,
        expect.stringMatching(new RegExp(`^${file}:${lineOf(text, "stale")}: cases.0.series.1.values: 'stale' cannot be imported`)),
        `${file}:${lineOf(text, 'errors_total{ job="web" }')}: cases.0.series.2.series: the same series as cases.0.series.0: give its values once`,
      ]),
    );
  });

  it("refuses a file whose own series no step reads, or an interval with no series to space", async () => {
    const text = testFile({
      interval: "30s",
      series: [{ series: 'requets_total{job="web"}', values: "1x20" }],
      cases: [{ name: "x", expect: { cause: "no_correlation" } }],
    });
    const rules = rulesWith(text, PLAYBOOK);
    try {
      await expect(rules.run()).rejects.toThrow(PlaybookTestFileError);
      await expect(rules.run()).rejects.toThrow(
        `${rules.file}:${lineOf(text, "requets_total")}: series.0.series: no PromQL step of Example reads requets_total, so this series takes no part (did you mean requests_total?)`,
      );
    } finally {
      rules.remove();
    }
    const idleText = testFile({ interval: "30s", cases: [{ name: "x", expect: { cause: "no_correlation" } }] });
    const idle = rulesWith(idleText, PLAYBOOK);
    try {
      await expect(idle.run()).rejects.toThrow(
        `${idle.file}:${lineOf(idleText, "interval:")}: interval: no series: in this file, so this interval is never used`,
      );
    } finally {
      idle.remove();
    }
  });
});

describe("enricher rules test without promtool and prometheus on PATH", () => {
  it("fails the cases with series, saying what they need, and still runs the others", () => {
    const rules = rulesWith(
      testFile({
        cases: [
          { name: "canned", prometheus: { errors: [{ value: 0.3 }] }, expect: { cause: "high_errors" } },
          { name: "with series", series: THIRTY_PERCENT, expect: { cause: "high_errors" } },
        ],
      }),
      PLAYBOOK,
    );
    try {
      const run = spawnSync("node_modules/.bin/node", ["bin/enricher.ts", "rules", "test", rules.dir], {
        encoding: "utf8",
        timeout: 60_000,
        env: { PATH: "/nonexistent", HOME: process.env.HOME ?? "/tmp" },
      });
      expect(run.status).toBe(1);
      expect(run.stdout).toContain("✓ canned");
      expect(run.stdout).toContain("✗ with series");
      expect(run.stdout).toContain(
        "this case needs promtool and prometheus (2.42 or later) on PATH to evaluate its series: for real (Debian and Ubuntu: apt-get install prometheus",
      );
    } finally {
      rules.remove();
    }
  });
});
