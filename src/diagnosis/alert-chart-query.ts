// What an alert's chart shows: its rule's expression without the threshold, the threshold and the comparison, read
// with Prometheus' own grammar (@prometheus-io/lezer-promql). Only a rule the service knows is charted (the shipped
// rules, ALERT_RULES_FILES), and only when the alert's generatorURL carries that very rule's expression: PromQL that
// arrives in an alert is never sent to Prometheus as such.
import { children, expressionsIn, parsePromQL, type SyntaxNode } from "../engine/promql-syntax.ts";
import type { Alert } from "../model/alertmanager.ts";
import type { ChartComparison } from "../model/diagnosis.ts";
import type { KnownAlertRules } from "./alert-rules.ts";

export interface AlertChartQuery {
  query: string;
  threshold?: number;
  comparison?: ChartComparison;
}

/** The grammar's comparison operators. */
const COMPARISONS: Record<string, ChartComparison> = { Gtr: ">", Lss: "<", Gte: ">=", Lte: "<=", Eql: "==", Neq: "!=" };
const FLIPPED: Record<ChartComparison, ChartComparison> = { ">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!=" };
const SET_OPERATORS = new Set(["And", "Or", "Unless"]);
const ARITHMETIC: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Mod: (a, b) => a % b,
  Pow: (a, b) => a ** b,
};
/** A number literal without its sign; durations (`5m`) and `1_000` are not constants here. */
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|nan)$/i;

/** One expression of a query, with the query's text to read it from. */
interface Expression {
  source: string;
  node: SyntaxNode;
}

function textOf({ source, node }: Expression): string {
  return source.slice(node.from, node.to);
}

/** `((x))` → `x`. */
function unwrap(expression: Expression): Expression {
  let { node } = expression;
  while (node.name === "ParenExpr") {
    const inner = expressionsIn(node)[0];
    if (inner === undefined) break;
    node = inner;
  }
  return { source: expression.source, node };
}

interface Binary {
  left: Expression;
  right: Expression;
  /** The grammar's name for the operator: Gtr, And, Mul… */
  operator: string;
}

function binaryOf(expression: Expression): Binary | undefined {
  const { source, node } = expression;
  if (node.name !== "BinaryExpr") return undefined;
  const [left, right] = expressionsIn(node);
  // The operator comes right after the left operand, before any bool or on(…)/ignoring(…) modifier.
  const operator = children(node).find((child) => !child.type.is("Expr"));
  if (left === undefined || right === undefined || operator === undefined) return undefined;
  return { left: { source, node: left }, right: { source, node: right }, operator: operator.name };
}

/** The value of constant arithmetic (`24*60*60`, `-1e3`, `2^10`), or undefined when the expression is anything more. */
function constantOf(expression: Expression): number | undefined {
  const { node } = expression;
  switch (node.name) {
    case "NumberDurationLiteral": {
      const text = textOf(expression);
      const sign = /^[+-]/.test(text) ? text.charAt(0) : "";
      const digits = text.slice(sign.length);
      if (!NUMBER.test(digits)) return undefined;
      const value = /^inf$/i.test(digits) ? Number.POSITIVE_INFINITY : /^nan$/i.test(digits) ? Number.NaN : Number(digits);
      return sign === "-" ? -value : value;
    }
    case "ParenExpr":
      return constantOf(unwrap(expression));
    case "UnaryExpr": {
      const operand = expressionsIn(node)[0];
      const value = operand === undefined ? undefined : constantOf({ source: expression.source, node: operand });
      if (value === undefined) return undefined;
      return expression.source.slice(node.from, operand?.from).trim() === "-" ? -value : value;
    }
    case "BinaryExpr": {
      const binary = binaryOf(expression);
      const apply = binary === undefined ? undefined : ARITHMETIC[binary.operator];
      if (binary === undefined || apply === undefined) return undefined;
      const left = constantOf(binary.left);
      const right = constantOf(binary.right);
      if (left === undefined || right === undefined) return undefined;
      // The grammar may read `-2 ^ 2` as (-2)^2, but in PromQL the sign applies after the power: -(2^2).
      const signed = binary.operator === "Pow" && binary.left.node.name === "NumberDurationLiteral" && textOf(binary.left).startsWith("-");
      return signed ? -apply(-left, right) : apply(left, right);
    }
    default:
      return undefined;
  }
}

/** The finite value of a constant PromQL expression, or undefined when the text is anything more (a selector, a function, a modifier). */
export function evaluateConstant(text: string): number | undefined {
  const node = parsePromQL(text);
  return node === undefined ? undefined : evaluateFinite({ source: text, node });
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

/** One condition (an operand of and/unless): the left side of its comparison, and the constant it is compared with. */
function conditionOf(operand: Expression): AlertChartQuery {
  const expression = unwrap(operand);
  const binary = binaryOf(expression);
  const comparison = binary === undefined ? undefined : COMPARISONS[binary.operator];
  if (binary === undefined || comparison === undefined) return { query: textOf(expression) };
  const threshold = evaluateFinite(binary.right);
  if (threshold !== undefined) return { query: textOf(binary.left), threshold, comparison };
  // `0.01 < expr`: the constant is on the left, so the expression is the right side and the comparison turns round.
  const leftConstant = evaluateFinite(binary.left);
  if (leftConstant !== undefined) return { query: textOf(unwrap(binary.right)), threshold: leftConstant, comparison: FLIPPED[comparison] };
  return { query: textOf(binary.left) };
}

function evaluateFinite(expression: Expression): number | undefined {
  const value = constantOf(expression);
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

/**
 * The operands of the expression's top-level and/unless chain, in order, each with the set operator before it (none
 * for the first); undefined when the chain has an `or`.
 */
function setOperands(expression: Expression): Array<{ operand: Expression; after?: string }> | undefined {
  const binary = binaryOf(expression);
  if (binary === undefined || !SET_OPERATORS.has(binary.operator)) return [{ operand: expression }];
  if (binary.operator === "Or") return undefined;
  // and/unless are left-associative: the chain runs down the left side.
  const before = setOperands(binary.left);
  return before === undefined ? undefined : [...before, { operand: binary.right, after: binary.operator }];
}

/** `> 0` or `!= 0`: a condition that only says the series exists or has traffic, as in `… > 1 and sum(rate(…)) > 0`. */
function isGuard(condition: AlertChartQuery): boolean {
  return condition.threshold === 0 && (condition.comparison === ">" || condition.comparison === "!=");
}

/**
 * What to chart for an alert rule's expression: the left side of its comparison, and the constant it is compared with.
 * Of `A and B` the first condition that is more than a guard like `> 0` is charted (A in `errors > 1 and traffic > 0`,
 * B in `count > 0 and quantile < 86400`); `unless B` only excludes, so B is never charted; an `or` has no single
 * condition, so there is no chart, and neither is there for an expression Prometheus' grammar does not read.
 */
export function chartQueryOf(expr: string): AlertChartQuery | undefined {
  const node = parsePromQL(expr);
  if (node === undefined) return undefined;
  const operands = setOperands(unwrap({ source: expr, node }));
  if (operands === undefined) return undefined;
  const conditions = operands.filter(({ after }) => after !== "Unless").map(({ operand }) => conditionOf(operand));
  return conditions.find((c) => !isGuard(c)) ?? conditions[0];
}

/** What to chart for an alert, read from the expression its generatorURL carries: see chartQueryOf. */
export function alertChartQuery(generatorURL: string): AlertChartQuery | undefined {
  const expr = generatorExpression(generatorURL);
  return expr === undefined ? undefined : chartQueryOf(expr);
}

/**
 * What to chart for an alert: the known rule's own expression (found by alertname, and only when the generatorURL
 * carries that very expression), read by chartQueryOf; or why there is nothing to chart.
 */
export function knownRuleChartQuery(alert: Alert, rules: KnownAlertRules): { chart: AlertChartQuery } | { skipped: string } {
  const expr = generatorExpression(alert.generatorURL);
  if (expr === undefined) return { skipped: "its generatorURL carries no expression" };
  const known = rules.match(alert.labels.alertname, expr);
  if ("reason" in known) return { skipped: known.reason };
  // The rule's own text goes to Prometheus, not the generatorURL's.
  const chart = chartQueryOf(known.expr);
  if (chart === undefined) return { skipped: `the ${alert.labels.alertname} rule's expression has no single condition to chart` };
  return { chart };
}
