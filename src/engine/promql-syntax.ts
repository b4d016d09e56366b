// Checks the PromQL in rule files before anything runs: every `prometheus.query` of every playbook and fragment is parsed
// with Prometheus' own Lezer grammar (@prometheus-io/lezer-promql), then checked for what that lenient grammar lets
// through but Prometheus refuses: unbalanced brackets and unterminated strings, unknown or experimental functions,
// malformed or zero durations, ranges on anything but a selector, and argument and operand types. The rules target
// Prometheus 2.42 and later, 3.x included, so a function or syntax only some of those versions know is refused too.
// Problems are given with the line and column in the YAML file, also inside multi-line (folded) scalars.
// parsePromQL gives the same parse to code that reads a query's structure (the alert chart's threshold).
import { parser } from "@prometheus-io/lezer-promql";
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Scalar } from "yaml";

type Tree = ReturnType<typeof parser.parse>;
/** A node of the parsed query: `name` is the grammar's (BinaryExpr, Gtr, NumberDurationLiteral…), `from`/`to` its text. */
export type SyntaxNode = Tree["topNode"];

/** A problem in one query: `offset` is where it is, in the query's text. */
export interface PromQLProblem {
  offset: number;
  message: string;
}

/** A problem in a rule file, placed in the YAML source (1-based line and column). */
export interface PromQLRuleProblem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

type ValueType = "scalar" | "vector" | "matrix" | "string";

const TYPE_NAMES: Record<ValueType, string> = { scalar: "scalar", vector: "instant vector", matrix: "range vector", string: "string" };

interface FunctionSpec {
  args: ValueType[];
  /** As in Prometheus: 0 exactly `args`; n > 0 up to n more (the last of `args` is optional); -1 any number more. */
  variadic?: number;
  returns: ValueType;
  /** Behind --enable-feature=promql-experimental-functions. */
  experimental?: boolean;
  /** Not in Prometheus 2.42 (added later, stable in 3.x). */
  newerThan242?: boolean;
}

const S: ValueType = "scalar";
const V: ValueType = "vector";
const M: ValueType = "matrix";
const STR: ValueType = "string";
const ofVector: FunctionSpec = { args: [V], returns: V };
const ofRange: FunctionSpec = { args: [M], returns: V };
const dateOf: FunctionSpec = { args: [V], variadic: 1, returns: V };
const experimentalOfRange: FunctionSpec = { ...ofRange, experimental: true };
const experimentalScalar: FunctionSpec = { args: [], returns: S, experimental: true };

/** Prometheus' functions (promql/parser/functions.go, 3.x), with their argument types. */
const FUNCTIONS: Record<string, FunctionSpec> = {
  abs: ofVector,
  absent: ofVector,
  absent_over_time: ofRange,
  acos: ofVector,
  acosh: ofVector,
  asin: ofVector,
  asinh: ofVector,
  atan: ofVector,
  atanh: ofVector,
  avg_over_time: ofRange,
  ceil: ofVector,
  changes: ofRange,
  clamp: { args: [V, S, S], returns: V },
  clamp_max: { args: [V, S], returns: V },
  clamp_min: { args: [V, S], returns: V },
  cos: ofVector,
  cosh: ofVector,
  count_over_time: ofRange,
  days_in_month: dateOf,
  day_of_month: dateOf,
  day_of_week: dateOf,
  day_of_year: dateOf,
  deg: ofVector,
  delta: ofRange,
  deriv: ofRange,
  double_exponential_smoothing: { args: [M, S, S], returns: V, experimental: true },
  end: experimentalScalar,
  exp: ofVector,
  first_over_time: experimentalOfRange,
  floor: ofVector,
  histogram_avg: { ...ofVector, newerThan242: true },
  histogram_count: ofVector,
  histogram_fraction: { args: [S, S, V], returns: V },
  histogram_quantile: { args: [S, V], returns: V },
  histogram_quantiles: { args: [V, STR, S, S], variadic: 9, returns: V, experimental: true },
  histogram_stddev: { ...ofVector, newerThan242: true },
  histogram_stdvar: { ...ofVector, newerThan242: true },
  histogram_sum: ofVector,
  hour: dateOf,
  idelta: ofRange,
  increase: ofRange,
  info: { args: [V, V], variadic: 1, returns: V, experimental: true },
  integral: { args: [M, S], variadic: 1, returns: V, experimental: true },
  irate: ofRange,
  label_join: { args: [V, STR, STR, STR], variadic: -1, returns: V },
  label_replace: { args: [V, STR, STR, STR, STR], returns: V },
  last_over_time: ofRange,
  ln: ofVector,
  log10: ofVector,
  log2: ofVector,
  mad_over_time: experimentalOfRange,
  max_over_time: ofRange,
  min_over_time: ofRange,
  minute: dateOf,
  month: dateOf,
  pi: { args: [], returns: S },
  predict_linear: { args: [M, S], returns: V },
  present_over_time: ofRange,
  quantile_over_time: { args: [S, M], returns: V },
  rad: ofVector,
  range: experimentalScalar,
  rate: ofRange,
  resets: ofRange,
  round: { args: [V, S], variadic: 1, returns: V },
  scalar: { args: [V], returns: S },
  sgn: ofVector,
  sin: ofVector,
  sinh: ofVector,
  sort: ofVector,
  sort_by_label: { args: [V, STR], variadic: -1, returns: V, experimental: true },
  sort_by_label_desc: { args: [V, STR], variadic: -1, returns: V, experimental: true },
  sort_desc: ofVector,
  sqrt: ofVector,
  start: experimentalScalar,
  stddev_over_time: ofRange,
  stdvar_over_time: ofRange,
  step: experimentalScalar,
  sum_over_time: ofRange,
  tan: ofVector,
  tanh: ofVector,
  time: { args: [], returns: S },
  timestamp: ofVector,
  ts_of_first_over_time: experimentalOfRange,
  ts_of_last_over_time: experimentalOfRange,
  ts_of_max_over_time: experimentalOfRange,
  ts_of_min_over_time: experimentalOfRange,
  vector: { args: [S], returns: V },
  year: dateOf,
};

/** Functions some supported Prometheus versions have and others do not. */
const REMOVED_FUNCTIONS: Record<string, string> = {
  holt_winters: "holt_winters was removed in Prometheus 3.0 (its successor double_exponential_smoothing is experimental)",
};

/** Aggregations taking a parameter before the vector, and its type. */
const AGGREGATION_PARAMETER: Record<string, ValueType> = {
  topk: S,
  bottomk: S,
  quantile: S,
  count_values: STR,
  limitk: S,
  limit_ratio: S,
};
const EXPERIMENTAL_AGGREGATIONS = new Set(["limitk", "limit_ratio"]);

const COMPARISONS = new Set(["Eql", "Neq", "Gtr", "Lss", "Gte", "Lte"]);
const SET_OPERATORS = new Set(["And", "Or", "Unless"]);
const BINARY_OPERATORS = new Set([...COMPARISONS, ...SET_OPERATORS, "Pow", "Mul", "Div", "Mod", "Atan2", "Add", "Sub"]);
/** PromQL's binary-operator and modifier keywords: words that are never a metric or a function. */
export const PROMQL_KEYWORDS: ReadonlySet<string> = new Set([
  "and",
  "or",
  "unless",
  "atan2",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
]);

/** Words after which "(" is part of the syntax, not a function call. */
const KEYWORDS = new Set([...PROMQL_KEYWORDS, "start", "end"]);

const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];
const PLACEHOLDER = /\{\{(.*?)\}\}/gs;
/** What may follow a backslash in a "…" or '…' PromQL string (Go's escapes). */
const STRING_ESCAPE = /^(?:[abfnrtv\\'"]|[0-7]{3}|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})/;
const POSIX_CLASSES = new Set([
  "alnum",
  "alpha",
  "ascii",
  "blank",
  "cntrl",
  "digit",
  "graph",
  "lower",
  "print",
  "punct",
  "space",
  "upper",
  "word",
  "xdigit",
]);
const OPEN: Record<string, string> = { "(": ")", "[": "]", "{": "}" };
const CLOSE: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
const FEATURE_FLAG_HINT = "it needs a Prometheus feature flag, which the servers these rules run against may not have";

// ---------------------------------------------------------------------------------------------------------------
// One query

/**
 * Checks a PromQL query template: its `{{ }}` placeholders (which must sit inside "…" string literals) are replaced by
 * neutral text of the same length, so offsets stay those of the template. When a placeholder is outside a string the
 * template compiler refuses it already, and there is nothing sound to parse: no problem is reported here.
 */
export function checkPromQLTemplate(source: string): PromQLProblem[] {
  const placeholders = [...source.matchAll(PLACEHOLDER)].map((m) => ({ from: m.index, to: m.index + m[0].length }));
  if (placeholders.length === 0) return checkPromQL(source);
  // Inside a string as template.ts decides it (a `"` not escaped toggles), so exactly the templates it accepts are checked.
  let insideString = false;
  let next = 0;
  for (const { from, to } of placeholders) {
    for (let i = next; i < from; i++) {
      const ch = source.charAt(i);
      if (ch === "\\" && insideString) i++;
      else if (ch === '"') insideString = !insideString;
    }
    if (!insideString) return [];
    next = to;
  }
  let neutral = source;
  for (const { from, to } of placeholders) neutral = neutral.slice(0, from) + "x".repeat(to - from) + neutral.slice(to);
  return checkPromQL(neutral, source);
}

/** A problem found: where, and why (the message adds the text around it). */
interface Finding {
  offset: number;
  reason?: string;
}

/**
 * Checks one PromQL query; no problem means Prometheus 2.42+ and 3.x (without feature flags) would parse it. `shown` is
 * the text to quote in messages, when the query parsed is a template with its placeholders neutralised.
 */
export function checkPromQL(query: string, shown = query): PromQLProblem[] {
  const message = ({ offset, reason }: Finding) => ({
    offset,
    message: `PromQL syntax error near ${JSON.stringify(near(query, offset, shown))}${reason ? `: ${reason}` : ""}`,
  });
  if (query.trim() === "") return [{ offset: 0, message: "PromQL query is empty" }];
  const scan = lexicalScan(query);
  if (scan.problem) return [message(scan.problem)];
  const tree = parser.parse(query);
  const error = firstError(tree);
  if (error) return [message(grammarProblem(query, error))];
  const checker = new TypeChecker(query, shown);
  const top = expressionsIn(tree.topNode)[0];
  if (top) checker.typeOf(top);
  return checker.findings.map(message);
}

const TOKEN =
  /\s+|#[^\n]*|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`[^`]*`?|[A-Za-z_:][A-Za-z0-9_:]*|[0-9.][0-9A-Za-z_.]*|=~|!~|!=|==|<=|>=|./gs;

/** The query around `offset`: the two tokens before it, the one at it and the next one, whitespace collapsed. */
function near(query: string, offset: number, shown = query): string {
  const tokens = [...query.matchAll(TOKEN)]
    .filter((t) => !/^\s|^#/.test(t[0]))
    .map((t) => ({ from: t.index, to: t.index + t[0].length, text: t[0] }));
  let at = tokens.findIndex((t) => t.to > offset);
  if (at === -1) at = tokens.length;
  const first = tokens[Math.max(0, at - 2)];
  const last = tokens[Math.min(tokens.length - 1, at + 1)];
  if (!first || !last) return shown.trim().slice(0, 60);
  const text = shown.slice(first.from, last.to).replace(/\s+/g, " ");
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

interface LexicalScan {
  problem?: { offset: number; reason: string };
}

/** String literals, comments and brackets, which the grammar is lenient about (it accepts an unterminated string). */
function lexicalScan(query: string): LexicalScan {
  const open: Array<{ char: string; offset: number }> = [];
  for (let i = 0; i < query.length; i++) {
    const ch = query.charAt(i);
    if (ch === "#") {
      while (i < query.length && query.charAt(i) !== "\n") i++;
    } else if (ch === '"' || ch === "'" || ch === "`") {
      const start = i;
      for (i++; i < query.length && query.charAt(i) !== ch; i++) {
        if (ch !== "`" && query.charAt(i) === "\\") {
          const sequence = STRING_ESCAPE.exec(query.slice(i + 1, i + 10))?.[0] ?? "";
          if (!sequence || (sequence.length === 1 && /['"]/.test(sequence) && sequence !== ch)) {
            const escape = `\\${query.charAt(i + 1)}`;
            const hint = /['"]/.test(query.charAt(i + 1))
              ? `not needed in a ${ch}…${ch} string`
              : `a regular expression's ${escape} is written \\${escape}`;
            return { problem: { offset: i, reason: `unknown escape ${escape} in a string (${hint})` } };
          }
          i += sequence.length;
        } else if (ch !== "`" && query.charAt(i) === "\n") break;
      }
      if (query.charAt(i) !== ch) return { problem: { offset: start, reason: `the string opened with ${ch} is never closed` } };
    } else if (OPEN[ch]) {
      open.push({ char: ch, offset: i });
    } else if (CLOSE[ch]) {
      const last = open.pop();
      if (!last) return { problem: { offset: i, reason: `"${ch}" closes nothing` } };
      if (last.char !== CLOSE[ch]) {
        return { problem: { offset: last.offset, reason: `"${last.char}" is closed by "${ch}" instead of "${OPEN[last.char]}"` } };
      }
    }
  }
  const unclosed = open.pop();
  if (unclosed) return { problem: { offset: unclosed.offset, reason: `"${unclosed.char}" is never closed` } };
  return {};
}

/**
 * The query's expression as Prometheus' grammar reads it, or undefined when it does not parse (the grammar's errors,
 * and the unbalanced brackets and unterminated strings it lets through). Nothing else is checked: see checkPromQL.
 */
export function parsePromQL(query: string): SyntaxNode | undefined {
  if (query.trim() === "" || lexicalScan(query).problem) return undefined;
  const tree = parser.parse(query);
  return firstError(tree) ? undefined : expressionsIn(tree.topNode)[0];
}

function firstError(tree: Tree): SyntaxNode | undefined {
  let found: SyntaxNode | undefined;
  tree.iterate({
    enter(ref) {
      if (found) return false;
      if (ref.type.isError) {
        found = ref.node;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** Explains the grammar's first error: an unknown function, a malformed duration, a dangling operator, or the token. */
function grammarProblem(query: string, error: SyntaxNode): Finding {
  const found = (offset: number, reason: string): Finding => ({ offset, reason });
  let at = error.from;
  while (at < query.length && /\s/.test(query.charAt(at))) at++;
  const before = query.slice(0, at);
  // An identifier the grammar does not know as a function, followed by "(".
  const call = /([A-Za-z_:][A-Za-z0-9_:]*)\s*$/.exec(before);
  if (query.charAt(at) === "(" && call?.[1] && !KEYWORDS.has(call[1].toLowerCase())) {
    const name = call[1];
    const known = FUNCTIONS[name.toLowerCase()] ? ` (function names are lower case: ${name.toLowerCase()})` : "";
    const removed = REMOVED_FUNCTIONS[name];
    return found(call.index, removed ?? `unknown function ${JSON.stringify(name)}${known}`);
  }
  // A duration the tokenizer split ("5mm", "1.5m", "5M", "5m1h"): letters or digits glued to a number.
  const word = /(?<![A-Za-z0-9_:.])[0-9.][0-9A-Za-z_.]*$/.exec(before);
  if (word && /^[0-9A-Za-z_.]/.test(query.charAt(at))) {
    const rest = /^[0-9A-Za-z_.]*/.exec(query.slice(at))?.[0] ?? "";
    return found(word.index, durationMistake(word[0] + rest));
  }
  if (at >= query.length || /^\s*(#[^\n]*)?$/.test(query.slice(at))) {
    const operator = /(\+|-|\*|\/|%|\^|==|!=|<=|>=|<|>|\b(?:and|or|unless|atan2|bool))\s*$/i.exec(before);
    if (operator?.[1]) return found(operator.index, `operator "${operator[1]}" has nothing on its right`);
    return found(Math.max(0, before.trimEnd().length - 1), "the query ends too early");
  }
  const token = new RegExp(TOKEN.source, "sy");
  token.lastIndex = at;
  return found(at, `unexpected ${JSON.stringify(token.exec(query)?.[0] ?? query.charAt(at))}`);
}

function durationMistake(text: string): string {
  return `${JSON.stringify(text)} is not a duration: write whole numbers with units ms, s, m, h, d, w or y, largest first (1h30m)`;
}

/** Milliseconds of a duration literal; undefined when it is not one (a bare number is not, before Prometheus 3.0). */
function durationMs(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match || text === "") return undefined;
  return match.slice(1).reduce((sum, part, i) => sum + (part ? Number(part) * (DURATION_UNIT_MS[i] ?? 0) : 0), 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Types, as Prometheus' parser checks them (checkAST)

/** The node's children, comments left out. */
export function children(node: SyntaxNode): SyntaxNode[] {
  const list: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) if (child.name !== "LineComment") list.push(child);
  return list;
}

/** The node's children that are expressions (not operators, modifiers or labels). */
export function expressionsIn(node: SyntaxNode): SyntaxNode[] {
  return children(node).filter((c) => c.type.is("Expr"));
}

class TypeChecker {
  readonly findings: Finding[] = [];
  private readonly query: string;
  private readonly shown: string;

  constructor(query: string, shown: string) {
    this.query = query;
    this.shown = shown;
  }

  private text(node: SyntaxNode): string {
    return this.query.slice(node.from, node.to);
  }

  private fail(node: SyntaxNode | number, reason: string): void {
    const offset = typeof node === "number" ? node : node.from;
    if (!this.findings.some((p) => p.offset === offset)) this.findings.push({ offset, reason });
  }

  private expect(node: SyntaxNode, want: ValueType, where: string): void {
    const got = this.typeOf(node);
    if (got !== undefined && got !== want) this.fail(node, `expected ${TYPE_NAMES[want]} ${where}, got ${TYPE_NAMES[got]}`);
  }

  typeOf(node: SyntaxNode): ValueType | undefined {
    const parts = children(node);
    const inner = expressionsIn(node);
    switch (node.name) {
      case "ParenExpr":
        return inner[0] ? this.typeOf(inner[0]) : undefined;
      case "StringLiteral":
        return "string";
      case "NumberDurationLiteral":
        if (this.text(node).includes("_")) this.fail(node, "Prometheus 2.x refuses _ in numbers");
        if (/[a-zA-Z]/.test(this.text(node)) && durationMs(this.text(node).replace(/^[-+]/, "")) !== undefined)
          this.fail(node, `a duration used as a number needs Prometheus 3.x; write it in seconds`);
        return "scalar";
      case "VectorSelector":
        this.selector(node);
        return "vector";
      case "MatrixSelector": {
        const [selector] = inner;
        if (selector && selector.name !== "VectorSelector")
          this.fail(selector.to, "ranges only apply to a metric selector (use a subquery, [5m:1m])");
        else if (selector) this.typeOf(selector);
        this.duration(
          parts.find((p) => p.name === "DurationExpr"),
          "range",
        );
        return "matrix";
      }
      case "SubqueryExpr": {
        const [expression] = inner;
        if (expression) this.expect(expression, "vector", "in a subquery");
        const [range, step] = parts.filter((p) => p.name === "DurationExpr");
        this.duration(range, "subquery range");
        if (step) this.duration(step, "subquery step");
        return "matrix";
      }
      case "OffsetExpr":
      case "StepInvariantExpr": {
        const [expression] = inner;
        const modifier = node.name === "OffsetExpr" ? "offset" : "@";
        if (node.name === "OffsetExpr")
          this.duration(
            parts.find((p) => p.name === "OffsetDurationExpr"),
            "offset",
          );
        if (!expression) return undefined;
        if (expression.name === node.name) this.fail(node, `${modifier} is set twice`);
        const target = ["OffsetExpr", "StepInvariantExpr"].includes(expression.name) ? expressionsIn(expression)[0] : expression;
        if (!target || !["VectorSelector", "MatrixSelector", "SubqueryExpr"].includes(target.name))
          this.fail(node, `${modifier} applies only to a selector or a subquery`);
        return this.typeOf(expression);
      }
      case "UnaryExpr": {
        const type = inner[0] ? this.typeOf(inner[0]) : undefined;
        if (type === "matrix" || type === "string")
          this.fail(node, `a sign applies to a scalar or an instant vector, not a ${TYPE_NAMES[type]}`);
        return type;
      }
      case "AnchoredExpr":
      case "SmoothedExpr":
        this.fail(parts.at(-1) ?? node, `"${this.text(parts.at(-1) ?? node)}" is experimental: ${FEATURE_FLAG_HINT}`);
        return inner[0] ? this.typeOf(inner[0]) : undefined;
      case "BinaryExpr":
        return this.binary(node, parts);
      case "AggregateExpr":
        return this.aggregation(node, parts);
      case "FunctionCall":
        return this.call(node, parts);
      default:
        return undefined;
    }
  }

  private duration(node: SyntaxNode | undefined, what: string): void {
    if (!node) return;
    const [first, second, ...more] = children(node);
    if (first?.name === "UnaryOp" && second?.name === node.name && more.length === 0) {
      // offset -5m looks back less far; a negative range means nothing.
      if (what === "offset" && this.text(first) === "+") this.fail(node, "offset takes no + sign");
      else if (what === "offset") this.duration(second, what);
      else this.fail(node, `${what} cannot be negative`);
      return;
    }
    if (first?.name !== "NumberDurationLiteralInDurationContext" || second) {
      this.fail(node, `arithmetic in a duration is experimental: ${FEATURE_FLAG_HINT}`);
      return;
    }
    const text = this.text(node);
    const ms = durationMs(text);
    if (ms === undefined) {
      if (/^[0-9.]+$/.test(text)) this.fail(node, `${what} ${text} has no unit (Prometheus 2.x refuses a bare number): write ${text}s`);
      else this.fail(node, durationMistake(text));
    } else if (ms === 0) this.fail(node, `${what} must be greater than 0`);
  }

  private selector(node: SyntaxNode): void {
    const parts = children(node);
    const matchers = parts.find((p) => p.name === "LabelMatchers");
    const list = matchers ? children(matchers) : [];
    for (const quoted of list.filter((m) => m.name !== "UnquotedLabelMatcher")) {
      this.fail(quoted, "quoted metric and label names need Prometheus 3.x");
    }
    for (const matcher of list) {
      const op = children(matcher).find((c) => c.name === "MatchOp");
      const value = children(matcher).find((c) => c.name === "StringLiteral");
      const pattern = value && op && /~/.test(this.text(op)) ? unquote(this.text(value)) : undefined;
      const regex = pattern === undefined ? undefined : translateRegex(pattern);
      if (value && regex && "problem" in regex) {
        const written = this.shown.slice(value.from, value.to);
        this.fail(value, `invalid regular expression ${written}: ${regex.problem}`);
      }
    }
    if (parts.some((p) => p.name === "Identifier")) {
      const name = list.find((m) => children(m)[0] && this.text(children(m)[0] as SyntaxNode) === "__name__");
      if (name) this.fail(name, "the metric name is set twice (before the braces and as __name__)");
      return;
    }
    const nonEmpty = list.some((m) => {
      const op = children(m).find((c) => c.name === "MatchOp");
      const value = children(m).find((c) => c.name === "StringLiteral");
      return op && value && !matchesEmpty(this.text(op), unquote(this.text(value)));
    });
    if (!nonEmpty) this.fail(node, "a selector needs a metric name or a matcher that does not match the empty string");
  }

  private binary(node: SyntaxNode, parts: SyntaxNode[]): ValueType | undefined {
    const operands = parts.filter((p) => p.type.is("Expr"));
    const operator = parts.find((p) => BINARY_OPERATORS.has(p.name));
    const [left, right] = operands;
    if (!left || !right || !operator) return undefined;
    const lt = this.typeOf(left);
    const rt = this.typeOf(right);
    const op = this.text(operator);
    const hasBool = parts.some((p) => p.name === "BoolModifier");
    const matching = parts.find((p) => p.name === "MatchingModifierClause");
    const fill = parts.find((p) => p.name === "FillModifier");
    if (fill) this.fail(fill, `fill modifiers are experimental: ${FEATURE_FLAG_HINT}`);
    if (hasBool && !COMPARISONS.has(operator.name)) this.fail(operator, `bool applies only to comparison operators, not "${op}"`);
    for (const [side, type] of [[left, lt] as const, [right, rt] as const]) {
      if (type === "matrix" || type === "string")
        this.fail(side, `operator "${op}" takes scalars and instant vectors, not a ${TYPE_NAMES[type]}`);
    }
    if (COMPARISONS.has(operator.name) && !hasBool && lt === "scalar" && rt === "scalar")
      this.fail(operator, `comparing two scalars needs bool ("${op} bool")`);
    if (SET_OPERATORS.has(operator.name)) {
      if (lt === "scalar" || rt === "scalar") this.fail(operator, `set operator "${op}" needs instant vectors on both sides`);
      if (matching && children(matching).some((c) => c.name === "GroupLeft" || c.name === "GroupRight"))
        this.fail(matching, `no group_left or group_right with "${op}"`);
    }
    if (matching && (lt === "scalar" || rt === "scalar")) {
      const labels = children(matching).find((c) => c.name === "GroupingLabels");
      if (labels && children(labels).length > 0) this.fail(matching, "vector matching (on, ignoring) needs instant vectors on both sides");
    }
    if (matching) this.groupingLabels(matching);
    return lt === "scalar" && rt === "scalar" ? "scalar" : "vector";
  }

  private groupingLabels(node: SyntaxNode): void {
    for (const labels of children(node).filter((c) => c.name === "GroupingLabels")) {
      for (const label of children(labels))
        if (label.name === "QuotedLabelName") this.fail(label, "quoted label names need Prometheus 3.x");
    }
  }

  private aggregation(node: SyntaxNode, parts: SyntaxNode[]): ValueType {
    const name = this.text(parts.find((p) => p.name === "AggregateOp") ?? node).toLowerCase();
    if (EXPERIMENTAL_AGGREGATIONS.has(name)) this.fail(node, `${name} is experimental: ${FEATURE_FLAG_HINT}`);
    const modifier = parts.find((p) => p.name === "AggregateModifier");
    if (modifier) this.groupingLabels(modifier);
    const body = parts.find((p) => p.name === "FunctionCallBody");
    const args = body ? expressionsIn(body) : [];
    const parameter = AGGREGATION_PARAMETER[name];
    const wanted = parameter ? 2 : 1;
    if (args.length !== wanted) {
      this.fail(node, `${name} takes ${wanted} argument${wanted > 1 ? "s" : ""}, got ${args.length}`);
      return "vector";
    }
    if (parameter && args[0]) this.expect(args[0], parameter, `as the parameter of ${name}`);
    const vector = args.at(-1);
    if (vector) this.expect(vector, "vector", `in ${name}`);
    return "vector";
  }

  private call(node: SyntaxNode, parts: SyntaxNode[]): ValueType | undefined {
    const name = this.text(parts.find((p) => p.name === "FunctionIdentifier") ?? node);
    const spec = FUNCTIONS[name];
    const body = parts.find((p) => p.name === "FunctionCallBody");
    const args = body ? expressionsIn(body) : [];
    if (!spec) {
      this.fail(node, `function ${JSON.stringify(name)} is not one Prometheus 2.42 and later all have`);
      for (const arg of args) this.typeOf(arg);
      return undefined;
    }
    if (spec.experimental) this.fail(node, `${name} is an experimental function: ${FEATURE_FLAG_HINT}`);
    if (spec.newerThan242) this.fail(node, `${name} is newer than Prometheus 2.42, which these rules still support`);
    const variadic = spec.variadic ?? 0;
    const min = variadic === 0 ? spec.args.length : spec.args.length - 1;
    const max = variadic === 0 ? spec.args.length : variadic < 0 ? Infinity : spec.args.length - 1 + variadic;
    if (args.length < min || args.length > max) {
      const count = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      this.fail(node, `${name}() takes ${count} argument${max === 1 && min === 1 ? "" : "s"}, got ${args.length}`);
      for (const arg of args) this.typeOf(arg);
      return spec.returns;
    }
    args.forEach((arg, i) => {
      const want = spec.args[Math.min(i, spec.args.length - 1)];
      if (want) this.expect(arg, want, `as argument ${i + 1} of ${name}()${want === "matrix" ? " (a selector with a range, x[5m])" : ""}`);
    });
    return spec.returns;
  }
}

const UNESCAPED: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

/** The value of a PromQL string literal (its escapes were checked by lexicalScan). */
function unquote(literal: string): string {
  if (literal.startsWith("`")) return literal.slice(1, -1);
  return literal.slice(1, -1).replace(/\\([0-7]{3}|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)/g, (_, e: string) => {
    if (/^[0-7]{3}$/.test(e)) return String.fromCodePoint(parseInt(e, 8));
    if (e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
    return UNESCAPED[e] ?? e;
  });
}

/**
 * A regular expression as JavaScript can compile it, when Prometheus' (Go's RE2) would accept it; or the reason RE2
 * refuses it. RE2's own syntax ((?i), (?P<name>…), \A, \z, \pL, [[:alpha:]]) is translated, what RE2 lacks
 * (lookaround, backreferences) is refused, then JavaScript finds unbalanced groups, bad repeats and classes.
 */
export function translateRegex(pattern: string): { source: string } | { problem: string } {
  const refuse = (problem: string) => ({ problem });
  let js = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    const rest = pattern.slice(i);
    if (ch === "\\") {
      const next = pattern.charAt(i + 1);
      if (next === "") return refuse("it ends with a lone \\");
      if (/[1-9]/.test(next)) return refuse(`backreferences (\\${next}) are not supported`);
      if (/[A-Za-z]/.test(next) && !"afnrtvxdDsSwWbBAzpPQEC".includes(next)) return refuse(`unknown escape \\${next}`);
      if (next === "A") js += "^";
      else if (next === "z") js += "$";
      else if (next === "C") js += ".";
      else if (next === "p" || next === "P") {
        const name = /^\\[pP](\{[A-Za-z_]+\}|[A-Za-z])/.exec(rest);
        if (!name) return refuse("a \\p class needs a name (\\pL, \\p{Greek})");
        js += "a";
        i += name[0].length - 2;
      } else if (next === "Q") {
        const end = pattern.indexOf("\\E", i + 2);
        const literal = pattern.slice(i + 2, end === -1 ? undefined : end);
        js += literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        i = end === -1 ? pattern.length : end + 1;
        continue;
      } else js += ch + next;
      i++;
    } else if (inClass) {
      const posix = /^\[:\^?([a-z]+):\]/.exec(rest);
      if (posix && !POSIX_CLASSES.has(posix[1] ?? "")) return refuse(`unknown character class [:${posix[1]}:]`);
      if (posix) {
        js += "a";
        i += posix[0].length - 1;
      } else {
        if (ch === "]") inClass = false;
        js += ch;
      }
    } else if (ch === "[") {
      inClass = true;
      js += ch;
      if (pattern.charAt(i + 1) === "^") js += pattern.charAt(++i);
      if (pattern.charAt(i + 1) === "]") js += `\\${pattern.charAt(++i)}`;
    } else if (/^\(\?<?[=!]/.test(rest)) {
      return refuse("lookaround ((?=, (?!, (?<=, (?<!) is not supported");
    } else if (rest.startsWith("(?<")) {
      return refuse("a named group is written (?P<name>…) before Prometheus 3.x");
    } else if (/^\(\?[imsU-]+\)/.test(rest)) {
      i += (/^\(\?[imsU-]+\)/.exec(rest)?.[0].length ?? 1) - 1; // flags: no effect on validity
    } else if (/^\(\?[imsU-]+:/.test(rest)) {
      js += "(?:";
      i += (/^\(\?[imsU-]+:/.exec(rest)?.[0].length ?? 1) - 1;
    } else if (rest.startsWith("(?P<")) {
      js += "(?<";
      i += 3;
    } else if (/^\{\d+(,\d*)?\}/.test(rest) && /\d{4,}/.test(/^\{[^}]*\}/.exec(rest)?.[0] ?? "")) {
      const counts = (/^\{([^}]*)\}/.exec(rest)?.[1] ?? "").split(",").map(Number);
      if (counts.some((n) => n > 1000)) return refuse("a repeat count is above 1000");
      js += ch;
    } else js += ch;
  }
  try {
    return { source: new RegExp(`^(?:${js})$`).source };
  } catch (error) {
    return refuse((error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "").toLowerCase());
  }
}

function matchesEmpty(op: string, value: string): boolean {
  if (op === "=") return value === "";
  if (op === "!=") return value !== "";
  const regex = translateRegex(value);
  if ("problem" in regex) return false; // refused on its own
  const empty = new RegExp(regex.source).test("");
  return op === "=~" ? empty : !empty;
}

// ---------------------------------------------------------------------------------------------------------------
// Rule files

type Segments = (string | number)[];

/** The PromQL queries of a rule file: every `query` of a `prometheus` mapping, wherever it is. */
function promqlScalars(document: Document): Array<{ segments: Segments; node: Scalar }> {
  const found: Array<{ segments: Segments; node: Scalar }> = [];
  const walk = (node: unknown, segments: Segments): void => {
    if (isAlias(node) && segments.at(-1) === "prometheus") walk(node.resolve(document), segments);
    else if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const value = isAlias(pair.value) && key === "query" ? pair.value.resolve(document) : pair.value;
        if (key === "query" && segments.at(-1) === "prometheus" && isScalar(value) && typeof value.value === "string") {
          found.push({ segments: [...segments, key], node: value as Scalar });
        } else walk(pair.value, [...segments, key]);
      }
    } else if (isSeq(node)) node.items.forEach((item, index) => walk(item, [...segments, index]));
  };
  walk(document.contents, []);
  return found;
}

/**
 * Where `offset` in a scalar's value is in the file. The value is matched character by character against the scalar's
 * source, skipping what YAML removes (a block scalar's header and indentation, quotes, escapes, folded line breaks),
 * so a problem on the third line of a `>-` query is reported on that line.
 */
export function sourceOffset(source: string, node: Scalar, offset: number): number {
  const [start, end] = node.range ?? [0, 0];
  const value = String(node.value);
  let at = start;
  if (node.type === "BLOCK_FOLDED" || node.type === "BLOCK_LITERAL") at = source.indexOf("\n", start) + 1 || start;
  else if (node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE") at = start + 1;
  const first = at;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charAt(i);
    if (node.type === "QUOTE_DOUBLE" && source.charAt(at) === "\\" && source.charAt(at + 1) !== "\n") {
      // One escape sequence (\n, \", \x41, \u00e9…) is one character of the value.
      if (i === offset) return at;
      at += 2 + ({ x: 2, u: 4, U: 8 }[source.charAt(at + 1)] ?? 0);
      continue;
    }
    let k = at;
    while (k < end && source.charAt(k) !== ch && !(ch === " " && source.charAt(k) === "\n")) k++;
    if (k >= end) return Math.min(first + offset, Math.max(first, end - 1)); // cannot follow it: count from the start
    if (i === offset) return k;
    at = k + 1;
  }
  return at;
}

/** Checks every PromQL query in a parsed rule file, each problem placed at its line and column in `source`. */
export function promqlProblems(file: string, source: string, document: Document, lineCounter: LineCounter): PromQLRuleProblem[] {
  const problems: PromQLRuleProblem[] = [];
  for (const { segments, node } of promqlScalars(document)) {
    for (const problem of checkPromQLTemplate(String(node.value))) {
      const { line, col } = lineCounter.linePos(sourceOffset(source, node, problem.offset));
      problems.push({ file, line, column: col, path: segments.join("."), message: problem.message });
    }
  }
  return problems;
}
