// The alert's own expression as a chart: what its rule compares, the threshold it compares with, and the last hour of it.
// Only a rule the service knows is charted (the shipped rules, ALERT_RULES_FILES), and only when the alert's
// generatorURL carries that very rule's expression: PromQL that arrives in an alert is never sent to Prometheus as such.
// The query is bounded like any other: a range of at most 6 h, at most 360 points a series, 200 series, 2 MiB.
import { evaluationTime } from "../engine/expressions.ts";
import type { Alert } from "../model/alertmanager.ts";
import type { PromQuery } from "../sources/prometheus.ts";
import type { AlertChart, ChartComparison } from "../model/diagnosis.ts";
import type { SourceOutput } from "../sources/source.ts";
import type { KnownAlertRules } from "./alert-rules.ts";

export interface AlertChartQuery {
  query: string;
  threshold?: number;
  comparison?: ChartComparison;
}

export interface FetchAlertChartOptions {
  /** The rules whose expressions may be charted; an alert whose generatorURL carries anything else gets no chart. */
  rules: KnownAlertRules;
  /** Cancels the query (the playbook's deadline, a shutdown). */
  signal?: AbortSignal;
  /** Gives up on Prometheus after this long; 5 s unless told. */
  timeoutMs?: number;
  /** The window, ending now; 1 h unless told. */
  rangeMs?: number;
  /** 1 m unless told. */
  stepMs?: number;
  /** Series kept; 10 unless told. */
  maxSeries?: number;
  /** Told why no chart came back, for a log line: a chart is a nicety and never fails a diagnosis. */
  onError?: (error: Error) => void;
  /** Told why no query was made at all (no known rule, an expression that is not the rule's). */
  onSkip?: (reason: string) => void;
}

/** The longest window a chart covers, whatever the caller asks. */
export const MAX_CHART_RANGE_MS = 6 * 60 * 60_000;
/** The most points a charted series has: the step grows with the window. */
export const MAX_CHART_POINTS = 360;
/** The most series read for a chart (of which `maxSeries` are kept); more and there is no chart. */
export const MAX_CHART_SERIES_READ = 200;
/** The most of Prometheus' answer read for a chart. */
export const MAX_CHART_BYTES = 2 * 1024 * 1024;

/** The part of PrometheusSource the chart needs. */
export interface ChartPrometheus {
  query(request: PromQuery, signal: AbortSignal): Promise<SourceOutput>;
}

const COMPARISONS: readonly ChartComparison[] = [">=", "<=", "==", "!=", ">", "<"];
const FLIPPED: Record<ChartComparison, ChartComparison> = { ">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!=" };
const SET_OPERATORS = new Set(["and", "or", "unless"]);
const WORD_START = /[A-Za-z_:]/;
const WORD_CHAR = /[A-Za-z0-9_:]/;

interface TopLevel {
  comparisons: Array<{ start: number; end: number; op: ChartComparison }>;
  sets: Array<{ start: number; end: number; op: string }>;
  /** False when a bracket or a string literal is left open. */
  balanced: boolean;
}

/** Index just past a string literal that opens at `start` ("…", '…' with backslash escapes; `…` raw). */
function skipString(expr: string, start: number): number {
  const quote = expr.charAt(start);
  let i = start + 1;
  while (i < expr.length) {
    const ch = expr.charAt(i);
    if (ch === "\\" && quote !== "`") i += 2;
    else if (ch === quote) return i + 1;
    else i++;
  }
  return -1;
}

/** The operators outside any (), [], {} and string literal, in order. */
function scanTopLevel(expr: string): TopLevel {
  const result: TopLevel = { comparisons: [], sets: [], balanced: true };
  const stack: string[] = [];
  const closer: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
  let i = 0;
  while (i < expr.length) {
    const ch = expr.charAt(i);
    if (ch === '"' || ch === "'" || ch === "`") {
      const end = skipString(expr, i);
      if (end === -1) return { ...result, balanced: false };
      i = end;
    } else if (ch === "#") {
      const newline = expr.indexOf("\n", i);
      i = newline === -1 ? expr.length : newline;
    } else if (ch in closer) {
      stack.push(closer[ch] ?? "");
      i++;
    } else if (ch === ")" || ch === "]" || ch === "}") {
      if (stack.pop() !== ch) return { ...result, balanced: false };
      i++;
    } else if (WORD_START.test(ch)) {
      let end = i + 1;
      while (end < expr.length && WORD_CHAR.test(expr.charAt(end))) end++;
      const word = expr.slice(i, end).toLowerCase();
      if (stack.length === 0 && SET_OPERATORS.has(word)) result.sets.push({ start: i, end, op: word });
      i = end;
    } else if (/[0-9.]/.test(ch)) {
      // A number or a duration, exponent sign included, so `1e-3` is not read as a subtraction.
      let end = i + 1;
      while (
        end < expr.length &&
        (/[0-9A-Za-z_.]/.test(expr.charAt(end)) || (/[+-]/.test(expr.charAt(end)) && /[eE]/.test(expr.charAt(end - 1))))
      )
        end++;
      i = end;
    } else {
      const op = stack.length === 0 ? COMPARISONS.find((c) => expr.startsWith(c, i)) : undefined;
      if (op !== undefined) {
        result.comparisons.push({ start: i, end: i + op.length, op });
        i += op.length;
      } else {
        // `=~`, `!~` and `=` only occur inside label matchers; skip them whole so `!~` is not read as `!`.
        i += expr.startsWith("=~", i) || expr.startsWith("!~", i) ? 2 : 1;
      }
    }
  }
  return stack.length === 0 ? result : { ...result, balanced: false };
}

/** `(x)` → `x`, as often as the outer parentheses wrap the whole expression. */
function unwrap(expr: string): string {
  let text = expr.trim();
  for (;;) {
    if (!text.startsWith("(") || !text.endsWith(")")) return text;
    const inner = text.slice(1, -1);
    const scan = scanTopLevel(inner);
    // The first "(" closes at the end only if the inside is balanced on its own: `(a) / (b)` is not `a) / (b`.
    if (!scan.balanced) return text;
    text = inner.trim();
  }
}

function leadingWord(text: string, word: string): string | undefined {
  const match = new RegExp(`^${word}(?![A-Za-z0-9_:])`, "i").exec(text);
  return match ? text.slice(match[0].length).trim() : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Constant arithmetic (`24*60*60`, `0.01`, `-1e3`, `2^10`) with a tiny recursive-descent parser; anything else is not a constant.

type ArithmeticToken = { kind: "number"; value: number } | { kind: "op"; text: string };

function arithmeticTokens(text: string): ArithmeticToken[] | undefined {
  const tokens: ArithmeticToken[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const number = /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_.])/.exec(rest);
    if (number) {
      tokens.push({ kind: "number", value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const special = /^(?:inf|nan)(?![A-Za-z0-9_:])/i.exec(rest);
    if (special) {
      tokens.push({ kind: "number", value: special[0].toLowerCase() === "inf" ? Number.POSITIVE_INFINITY : Number.NaN });
      i += special[0].length;
      continue;
    }
    const ch = text.charAt(i);
    if (!"+-*/%^()".includes(ch)) return undefined;
    tokens.push({ kind: "op", text: ch });
    i++;
  }
  return tokens;
}

/** The value of constant arithmetic, or undefined when the text is anything more (a selector, a function, a modifier). */
export function evaluateConstant(text: string): number | undefined {
  const tokens = arithmeticTokens(text);
  if (tokens === undefined || tokens.length === 0) return undefined;
  let position = 0;
  const isOp = (op: string): boolean => {
    const token = tokens[position];
    return token?.kind === "op" && token.text === op;
  };
  // PromQL precedence: ^ (right-associative) over unary minus over * / % over + -.
  const primary = (): number | undefined => {
    const token = tokens[position];
    if (token === undefined) return undefined;
    if (token.kind === "number") {
      position++;
      return token.value;
    }
    if (token.text !== "(") return undefined;
    position++;
    const value = sum();
    if (value === undefined || !isOp(")")) return undefined;
    position++;
    return value;
  };
  const power = (): number | undefined => {
    const base = primary();
    if (base === undefined || !isOp("^")) return base;
    position++;
    const exponent = unary();
    return exponent === undefined ? undefined : base ** exponent;
  };
  const unary = (): number | undefined => {
    if (isOp("-") || isOp("+")) {
      const negative = isOp("-");
      position++;
      const value = unary();
      return value === undefined ? undefined : negative ? -value : value;
    }
    return power();
  };
  const product = (): number | undefined => {
    let value = unary();
    while (value !== undefined && (isOp("*") || isOp("/") || isOp("%"))) {
      const op = (tokens[position] as { text: string }).text;
      position++;
      const right = unary();
      if (right === undefined) return undefined;
      value = op === "*" ? value * right : op === "/" ? value / right : value % right;
    }
    return value;
  };
  const sum = (): number | undefined => {
    let value = product();
    while (value !== undefined && (isOp("+") || isOp("-"))) {
      const op = (tokens[position] as { text: string }).text;
      position++;
      const right = product();
      if (right === undefined) return undefined;
      value = op === "+" ? value + right : value - right;
    }
    return value;
  };
  const value = sum();
  return value !== undefined && position === tokens.length && Number.isFinite(value) ? value : undefined;
}

/** The alert expression in a Prometheus generatorURL (`…/graph?g0.expr=…&g0.tab=1`), decoded. */
export function generatorExpression(generatorURL: string): string | undefined {
  const queryStart = generatorURL.indexOf("?");
  if (queryStart === -1) return undefined;
  const hash = generatorURL.indexOf("#", queryStart);
  const params = new URLSearchParams(generatorURL.slice(queryStart + 1, hash === -1 ? undefined : hash));
  const expr = params.get("g0.expr");
  return expr === null || expr.trim() === "" ? undefined : expr;
}

/** Splits one operand (no top-level and/or/unless) at its last top-level comparison. */
function comparisonOf(operand: string): AlertChartQuery | undefined {
  const text = unwrap(operand);
  const scan = scanTopLevel(text);
  if (!scan.balanced || text === "") return undefined;
  const last = scan.comparisons.at(-1);
  if (last === undefined) return { query: text };
  const left = text.slice(0, last.start).trim();
  let right = text.slice(last.end).trim();
  right = leadingWord(right, "bool") ?? right;
  if (left === "" || right === "") return undefined;
  const threshold = evaluateConstant(right);
  if (threshold !== undefined) return { query: left, threshold, comparison: last.op };
  // `0.01 < expr`: the constant is on the left, so the expression is the right side and the comparison turns round.
  const leftConstant = evaluateConstant(left);
  if (leftConstant !== undefined) return { query: unwrap(right), threshold: leftConstant, comparison: FLIPPED[last.op] };
  return { query: left };
}

/** `> 0` or `!= 0`: a condition that only says the series exists or has traffic, as in `… > 1 and sum(rate(…)) > 0`. */
function isGuard(condition: AlertChartQuery): boolean {
  return condition.threshold === 0 && (condition.comparison === ">" || condition.comparison === "!=");
}

/** The operand's text without a leading `on(…)` or `ignoring(…)` vector-matching modifier. */
function withoutMatching(operand: string): string {
  const rest = leadingWord(operand, "on") ?? leadingWord(operand, "ignoring");
  if (rest === undefined || !rest.startsWith("(")) return operand;
  const close = rest.indexOf(")");
  return close === -1 ? operand : rest.slice(close + 1).trim();
}

/**
 * What to chart for an alert: the left side of its expression's last top-level comparison, and the constant it is
 * compared with. Of `A and B` the first condition that is more than a guard like `> 0` is charted (A in
 * `errors > 1 and traffic > 0`, B in `count > 0 and quantile < 86400`); `unless B` only excludes, so B is never
 * charted; an `or` has no single condition, so there is no chart.
 */
export function alertChartQuery(generatorURL: string): AlertChartQuery | undefined {
  const expr = generatorExpression(generatorURL);
  return expr === undefined ? undefined : chartQueryOf(expr);
}

/** What to chart for an alert rule's expression: see alertChartQuery. */
export function chartQueryOf(expr: string): AlertChartQuery | undefined {
  const text = unwrap(expr);
  const scan = scanTopLevel(text);
  if (!scan.balanced) return undefined;
  if (scan.sets.some((s) => s.op === "or")) return undefined;
  const conditions: AlertChartQuery[] = [];
  let start = 0;
  let keep = true;
  for (const set of [...scan.sets, { start: text.length, end: text.length, op: "" }]) {
    const operand = withoutMatching(text.slice(start, set.start).trim());
    if (keep) {
      const condition = comparisonOf(operand);
      if (condition === undefined) return undefined;
      conditions.push(condition);
    }
    keep = set.op === "and";
    start = set.end;
  }
  return conditions.find((c) => !isGuard(c)) ?? conditions[0];
}

// ---------------------------------------------------------------------------------------------------------------

interface RawSeries {
  labels: Record<string, string>;
  points: Array<{ t: string; v: number }>;
}

function readSeries(output: SourceOutput): RawSeries[] {
  const raw = output.data.series;
  if (!Array.isArray(raw)) return [];
  const series: RawSeries[] = [];
  for (const item of raw as unknown[]) {
    if (typeof item !== "object" || item === null) continue;
    const { labels, points } = item as { labels?: unknown; points?: unknown };
    if (!Array.isArray(points)) continue;
    const clean = (points as unknown[])
      .map((p) => p as { t?: unknown; v?: unknown })
      .filter((p): p is { t: string; v: number } => typeof p.t === "string" && typeof p.v === "number" && Number.isFinite(p.v))
      .map((p) => ({ t: p.t, v: p.v }));
    if (clean.length === 0) continue;
    const labelMap: Record<string, string> = {};
    if (typeof labels === "object" && labels !== null) {
      for (const [name, value] of Object.entries(labels)) if (typeof value === "string") labelMap[name] = value;
    }
    series.push({ labels: labelMap, points: clean });
  }
  return series;
}

/** True when every label the series and the alert share has the same value: the series the alert fired for. */
function isAlertsOwn(series: RawSeries, alert: Alert): boolean {
  const shared = Object.keys(series.labels).filter((name) => alert.labels[name] !== undefined);
  return shared.length > 0 && shared.every((name) => series.labels[name] === alert.labels[name]);
}

/**
 * The series worth showing: the alert's own first, then the ones furthest into alerting territory (the highest, or the
 * lowest for `<` and `<=`).
 */
function boundSeries(series: RawSeries[], alert: Alert, comparison: ChartComparison | undefined, max: number): RawSeries[] {
  const lowIsBad = comparison === "<" || comparison === "<=";
  const score = (s: RawSeries): number => {
    const values = s.points.map((p) => p.v);
    return lowIsBad ? -Math.min(...values) : Math.max(...values);
  };
  return series
    .map((s) => ({ s, own: isAlertsOwn(s, alert), score: score(s) }))
    .sort((a, b) => Number(b.own) - Number(a.own) || b.score - a.score)
    .slice(0, max)
    .map(({ s }) => s);
}

/**
 * Runs the left side of the alert's own rule as a range query (1 h, 1 m step) and keeps at most 10 series. No chart
 * (and no query) when the generatorURL's expression is not a known rule's, or cannot be charted; no chart when
 * Prometheus fails, answers too much or nothing: the diagnosis goes out without one.
 */
export async function fetchAlertChart(
  alert: Alert,
  prometheus: ChartPrometheus,
  options: FetchAlertChartOptions,
): Promise<AlertChart | undefined> {
  const expr = generatorExpression(alert.generatorURL);
  if (expr === undefined) {
    options.onSkip?.("its generatorURL carries no expression");
    return undefined;
  }
  const known = options.rules.match(alert.labels.alertname, expr);
  if ("reason" in known) {
    options.onSkip?.(known.reason);
    return undefined;
  }
  // The rule's own text goes to Prometheus, not the generatorURL's.
  const parsed = chartQueryOf(known.expr);
  if (parsed === undefined) {
    options.onSkip?.(`the ${alert.labels.alertname} rule's expression has no single condition to chart`);
    return undefined;
  }
  const rangeMs = Math.min(Math.max(60_000, options.rangeMs ?? 60 * 60_000), MAX_CHART_RANGE_MS);
  const stepMs = Math.max(options.stepMs ?? 60_000, 15_000, Math.ceil(rangeMs / MAX_CHART_POINTS));
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 5000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  // The run's evaluation time: now, or the moment `enricher diagnose --at` replays.
  const to = new Date(evaluationTime());
  let output: SourceOutput;
  try {
    output = await prometheus.query(
      { query: parsed.query, rangeMs, stepMs, maxSeries: MAX_CHART_SERIES_READ, maxBytes: MAX_CHART_BYTES },
      signal,
    );
  } catch (error) {
    options.onError?.(error instanceof Error ? error : new Error(String(error)));
    return undefined;
  }
  const series = boundSeries(readSeries(output), alert, parsed.comparison, options.maxSeries ?? 10);
  if (series.length === 0) return undefined;
  return {
    ...parsed,
    startsAt: alert.startsAt,
    from: new Date(to.getTime() - rangeMs).toISOString(),
    to: to.toISOString(),
    series,
  };
}
