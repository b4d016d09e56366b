// Input series for playbook tests in promtool's notation (`promtool test rules` input_series): a series selector
// (`rest_client_requests_total{job="kube-state-metrics",code="401"}`) and its values (`0+42x30`, `1 _x3 5`), one sample
// per `interval`. The last value of every series falls on the case's clock, so a playbook's queries, evaluated at that
// clock, see the series as Prometheus would have scraped them. They become an OpenMetrics text file that
// `promtool tsdb create-blocks-from openmetrics` turns into a TSDB block (real-prometheus.ts).
//
// Also what a step reads: the metric names a PromQL query (template) selects, so a case's series can be matched to the
// steps they feed, and a series no step reads reported instead of ignored.
import { parser } from "@prometheus-io/lezer-promql";
import type { CompiledPlaybook, CompiledStep } from "../src/engine/load-playbooks.ts";
import { parseDuration } from "../src/engine/playbook.ts";
import { didYouMean, type FixtureProblem, type Segments } from "./fixture-checks.ts";
import type { InputSeries } from "./series-schema.ts";
import type { TestCase, TestFile } from "./test-file.ts";

export { type InputSeries, intervalSchema, seriesSchema } from "./series-schema.ts";

/** promtool's default interval between two samples of an input series. */
export const DEFAULT_SERIES_INTERVAL = "1m";

/** A sample value, or undefined for `_` (no sample at that step). */
export type SeriesValue = number | undefined;

// A number as PromQL's lexer reads one in a series description: decimal, with exponent, Inf or NaN (any case). Not
// hexadecimal: there `0x70` is 0 repeated 70 more times.
const NUMBER = String.raw`(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])`;
const SIGNED = String.raw`[+-]?${NUMBER}`;
const PLAIN = new RegExp(`^${SIGNED}$`);
const EXPANDING = new RegExp(`^(${SIGNED})(?:([+-])(${NUMBER}))?x(\\d+)$`);
const MISSING = /^_(?:x(\d+))?$/;

function toNumber(text: string): number {
  const sign = text.startsWith("-") ? -1 : 1;
  const body = text.replace(/^[+-]/, "");
  if (/^inf$/i.test(body)) return sign * Number.POSITIVE_INFINITY;
  if (/^nan$/i.test(body)) return Number.NaN;
  return sign * Number(body);
}

/** The most samples one series may expand to: enough for a week at 1m, small enough to stay a test fixture. */
const MAX_SAMPLES = 20_000;

/**
 * Expands promtool's notation: `a+bxn` is a, a+b, …, a+n·b (n+1 values); `a-bxn` counts down; `axn` is a repeated
 * n+1 times; `_` is a missing sample and `_xn` n of them. `stale` (a staleness marker) cannot be written to a TSDB
 * block through OpenMetrics, so it is refused with what to write instead.
 */
export function expandValues(notation: string): { values: SeriesValue[] } | { problem: string } {
  const values: SeriesValue[] = [];
  const items = notation
    .trim()
    .split(/\s+/)
    .filter((s) => s !== "");
  if (items.length === 0) return { problem: "no values: write them as promtool does, e.g. '0+42x30' or '1 2 3 _ 5'" };
  for (const item of items) {
    const missing = MISSING.exec(item);
    if (missing) {
      const count = missing[1] === undefined ? 1 : Number(missing[1]);
      for (let i = 0; i < count; i++) values.push(undefined);
    } else if (item === "stale") {
      return {
        problem:
          "'stale' cannot be imported: a staleness marker has no OpenMetrics form; leave the series' last values out with _ instead (a series is seen for 5 minutes after its last sample)",
      };
    } else if (PLAIN.test(item)) {
      values.push(toNumber(item));
    } else {
      const expanding = EXPANDING.exec(item);
      if (!expanding) {
        return { problem: `${JSON.stringify(item)} is not promtool's notation (a number, a+bxn, a-bxn, axn, _ or _xn)` };
      }
      const start = toNumber(expanding[1] as string);
      const step = expanding[2] === undefined ? 0 : (expanding[2] === "-" ? -1 : 1) * toNumber(expanding[3] as string);
      const times = Number(expanding[4]);
      if (times > MAX_SAMPLES) return { problem: `${item}: more than ${MAX_SAMPLES} samples` };
      for (let i = 0; i <= times; i++) values.push(start + i * step);
    }
    if (values.length > MAX_SAMPLES) return { problem: `more than ${MAX_SAMPLES} samples in one series` };
  }
  return { values };
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", a: "\x07", b: "\b", f: "\f", v: "\v" };

/**
 * Parses a series selector as promtool reads input_series: a metric name and/or `{label="value", …}` with `=` only
 * (label values in "…" or '…' with Go's escapes). Returns the series' labels, `__name__` included.
 */
export function parseSeriesSelector(text: string): { labels: Record<string, string> } | { problem: string } {
  let rest = text.trim();
  const labels: Record<string, string> = {};
  const name = METRIC_NAME.exec(rest);
  if (name) {
    labels.__name__ = name[0];
    rest = rest.slice(name[0].length).trimStart();
  }
  const fail = (why: string) => ({ problem: `series ${JSON.stringify(text)}: ${why}` });
  if (rest.startsWith("{")) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith("}")) {
      if (rest === "") return fail("missing }");
      const label = LABEL_NAME.exec(rest);
      if (!label) return fail(`expected a label name at ${JSON.stringify(rest.slice(0, 20))}`);
      rest = rest.slice(label[0].length).trimStart();
      if (!rest.startsWith("=") || rest.startsWith("=~")) return fail(`label ${label[0]}: an input series has exact values (=) only`);
      rest = rest.slice(1).trimStart();
      const quote = rest[0];
      if (quote !== '"' && quote !== "'") return fail(`label ${label[0]}: its value must be quoted`);
      let value = "";
      let i = 1;
      for (; i < rest.length && rest[i] !== quote; i++) {
        const ch = rest[i] as string;
        if (ch === "\\") {
          const next = rest[i + 1] ?? "";
          if (next === "u" && /^[0-9a-fA-F]{4}$/.test(rest.slice(i + 2, i + 6))) {
            value += String.fromCharCode(Number.parseInt(rest.slice(i + 2, i + 6), 16));
            i += 5;
          } else if (ESCAPES[next] !== undefined) {
            value += ESCAPES[next];
            i += 1;
          } else return fail(`label ${label[0]}: unknown escape \\${next}`);
        } else value += ch;
      }
      if (i >= rest.length) return fail(`label ${label[0]}: unterminated string`);
      if (label[0] in labels) return fail(`label ${label[0]} given twice`);
      labels[label[0]] = value;
      rest = rest.slice(i + 1).trimStart();
      if (rest.startsWith(",")) rest = rest.slice(1).trimStart();
      else if (rest === "") return fail("missing }");
      else if (!rest.startsWith("}")) return fail(`expected , or } at ${JSON.stringify(rest.slice(0, 20))}`);
    }
    rest = rest.slice(1).trimStart();
  }
  if (rest !== "") return fail(`unexpected ${JSON.stringify(rest.slice(0, 20))}`);
  if (labels.__name__ === undefined || METRIC_NAME.exec(labels.__name__)?.[0] !== labels.__name__) return fail("needs a metric name");
  for (const [key, value] of Object.entries(labels)) if (value === "" && key !== "__name__") delete labels[key];
  return { labels };
}

/** The series' identity: its labels, sorted. */
export function seriesKey(labels: Record<string, string>): string {
  const { __name__: name, ...rest } = labels;
  const pairs = Object.keys(rest)
    .sort()
    .map((k) => `${k}=${JSON.stringify(rest[k])}`);
  return `${name ?? ""}{${pairs.join(",")}}`;
}

/** A series ready to write: its labels and one value per interval, the last at the case's clock. */
export interface ExpandedSeries {
  labels: Record<string, string>;
  values: SeriesValue[];
  /** Where it is written in the test file. */
  path: Segments;
}

/** The series a case runs with: the file's, then its own (one with the same labels replaces the file's). */
export interface CaseSeries {
  series: ExpandedSeries[];
  intervalMs: number;
  problems: FixtureProblem[];
}

function expandList(list: InputSeries[] | undefined, at: Segments): { series: ExpandedSeries[]; problems: FixtureProblem[] } {
  const series: ExpandedSeries[] = [];
  const problems: FixtureProblem[] = [];
  const seen = new Map<string, number>();
  (list ?? []).forEach((entry, i) => {
    const selector = parseSeriesSelector(entry.series);
    if ("problem" in selector) {
      problems.push({ path: [...at, i, "series"], message: selector.problem });
      return;
    }
    const key = seriesKey(selector.labels);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      problems.push({ path: [...at, i, "series"], message: `the same series as ${[...at, earlier].join(".")}: give its values once` });
      return;
    }
    seen.set(key, i);
    const expanded = expandValues(entry.values);
    if ("problem" in expanded) {
      problems.push({ path: [...at, i, "values"], message: expanded.problem });
      return;
    }
    series.push({ labels: selector.labels, values: expanded.values, path: [...at, i] });
  });
  return { series, problems };
}

function intervalOf(text: string | undefined, at: Segments): { ms: number } | { problem: FixtureProblem } {
  if (text === undefined) return { ms: parseDuration(DEFAULT_SERIES_INTERVAL) };
  try {
    const ms = parseDuration(text);
    if (ms <= 0) throw new Error("zero");
    return { ms };
  } catch {
    return { problem: { path: at, message: `${JSON.stringify(text)} is not an interval: a number and ms, s, m or h, such as 30s or 1m` } };
  }
}

/** The file's own series and interval, with their problems (for every case). */
export function fileSeries(spec: TestFile): CaseSeries {
  const expanded = expandList(spec.series, ["series"]);
  const interval = intervalOf(spec.interval, ["interval"]);
  const problems = [...expanded.problems];
  if ("problem" in interval) problems.push(interval.problem);
  if (spec.interval !== undefined && (spec.series ?? []).length === 0 && !spec.cases.some((c) => (c.series ?? []).length > 0)) {
    problems.push({ path: ["interval"], message: "no series: in this file, so this interval is never used" });
  }
  return { series: expanded.series, intervalMs: "ms" in interval ? interval.ms : 60_000, problems };
}

/** The series case `index` runs with; only its own problems (the file's are reported once, by fileSeries). */
export function caseSeries(spec: TestFile, index: number): CaseSeries {
  const testCase = spec.cases[index] as TestCase;
  const where: Segments = ["cases", index];
  const own = expandList(testCase.series, [...where, "series"]);
  const problems = [...own.problems];
  const interval = intervalOf(testCase.interval ?? spec.interval, testCase.interval !== undefined ? [...where, "interval"] : ["interval"]);
  if ("problem" in interval && testCase.interval !== undefined) problems.push(interval.problem);
  const file = expandList(spec.series, ["series"]);
  const ownKeys = new Set(own.series.map((s) => seriesKey(s.labels)));
  const series = [...file.series.filter((s) => !ownKeys.has(seriesKey(s.labels))), ...own.series];
  if (testCase.interval !== undefined && series.length === 0) {
    problems.push({ path: [...where, "interval"], message: "no series: for this case, so this interval is never used" });
  }
  return { series, intervalMs: "ms" in interval ? interval.ms : 60_000, problems };
}

/** Whether a case runs against a real Prometheus: it (or its file) gives series. */
export function hasSeries(spec: TestFile, testCase: TestCase): boolean {
  return (spec.series ?? []).length > 0 || (testCase.series ?? []).length > 0;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * The series as an OpenMetrics text file: each series' samples in time order, the last at `endMs`, one every
 * `intervalMs`; a missing value (`_`) writes no sample. Series of one metric are written together, as OpenMetrics
 * requires; no TYPE is given, so every metric is imported as it is named (counters, histograms' _bucket and _count).
 */
export function toOpenMetrics(series: ExpandedSeries[], endMs: number, intervalMs: number): string {
  const lines: string[] = [];
  const byName = new Map<string, ExpandedSeries[]>();
  for (const s of series) {
    const name = s.labels.__name__ as string;
    byName.set(name, [...(byName.get(name) ?? []), s]);
  }
  for (const name of [...byName.keys()].sort()) {
    for (const s of byName.get(name) ?? []) {
      const pairs = Object.entries(s.labels)
        .filter(([k]) => k !== "__name__")
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
      const head = `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""}`;
      s.values.forEach((value, i) => {
        if (value === undefined) return;
        const t = endMs - (s.values.length - 1 - i) * intervalMs;
        lines.push(`${head} ${formatValue(value)} ${(t / 1000).toFixed(3)}`);
      });
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// What a PromQL step reads

/** Every metric name selected in a PromQL query template (`{{ }}` placeholders sit inside strings; they are blanked). */
export function metricNamesOf(query: string): { names: string[]; anyMetric: boolean } {
  const text = query.replace(/\{\{[\s\S]*?\}\}/g, (m) => "x".repeat(m.length));
  const names = new Set<string>();
  let anyMetric = false;
  const tree = parser.parse(text);
  const cursor = tree.cursor();
  do {
    if (cursor.name !== "VectorSelector") continue;
    const node = cursor.node;
    const identifier = node.getChild("Identifier");
    if (identifier) {
      names.add(text.slice(identifier.from, identifier.to));
      continue;
    }
    // {__name__="x"}: a name given as a matcher; any other matcher on __name__ (a regex) may select anything.
    const matchers = node.getChild("LabelMatchers");
    let named = false;
    for (const matcher of matchers?.getChildren("UnquotedLabelMatcher") ?? []) {
      const label = matcher.getChild("LabelName");
      if (!label || text.slice(label.from, label.to) !== "__name__") continue;
      const op = matcher.getChild("MatchOp");
      const value = matcher.getChild("StringLiteral");
      if (op?.firstChild?.name === "EqlSingle" && value) {
        names.add(text.slice(value.from + 1, value.to - 1));
        named = true;
      }
    }
    if (!named) anyMetric = true;
  } while (cursor.next());
  return { names: [...names], anyMetric };
}

/** The metric names a step's query reads. */
export function stepMetrics(step: CompiledStep): { names: string[]; anyMetric: boolean } {
  return metricNamesOf(step.spec.prometheus?.query ?? "");
}

/** Whether `step` reads any of the metrics in `series` (those steps are what the series are there for). */
export function readsSeries(step: CompiledStep, series: ExpandedSeries[]): boolean {
  if (step.kind !== "prometheus") return false;
  const { names, anyMetric } = stepMetrics(step);
  return series.some((s) => anyMetric || names.includes(s.labels.__name__ as string));
}

/** Series whose metric no PromQL step of the playbook (with its fragments) reads: a misspelt name, or a leftover. */
export function unreadSeries(playbook: CompiledPlaybook, series: ExpandedSeries[]): FixtureProblem[] {
  const steps = playbook.steps.filter((s) => s.kind === "prometheus").map(stepMetrics);
  if (steps.some((s) => s.anyMetric)) return [];
  const read = [...new Set(steps.flatMap((s) => s.names))].sort();
  return series
    .filter((s) => !read.includes(s.labels.__name__ as string))
    .map((s) => ({
      path: [...s.path, "series"],
      message: `no PromQL step of ${playbook.name} reads ${s.labels.__name__}, so this series takes no part${didYouMean(s.labels.__name__ as string, read)}`,
    }));
}

/**
 * A canned answer for a step that reads the series given: the step is evaluated by the real Prometheus over them, so
 * the answer could only hide what the query really returns.
 */
export function answersOverSeries(
  playbook: CompiledPlaybook,
  answers: Record<string, unknown> | undefined,
  series: ExpandedSeries[],
  at: Segments,
): FixtureProblem[] {
  return Object.keys(answers ?? {}).flatMap((id) => {
    const step = playbook.steps.find((s) => s.id === id);
    if (!step || !readsSeries(step, series)) return [];
    const metrics = stepMetrics(step).names.filter((n) => series.some((s) => s.labels.__name__ === n));
    return [
      {
        path: [...at, id],
        message: `step ${id} reads ${metrics.join(", ") || "the series"}, which series: gives: it is evaluated by the real Prometheus, so a canned answer cannot also be given (drop one of them)`,
      },
    ];
  });
}
