// The alert rules the service knows, so that the only PromQL it ever charts is a rule's own expression, never whatever
// an alert's generatorURL carries. Loaded at start from Prometheus rules files (the shipped
// docker/prometheus/alert-enricher-alerts.rules.yml, and ALERT_RULES_FILES), plain `groups:` files or PrometheusRule
// objects. A generatorURL carries the expression as Prometheus prints it (`sum by (job) (…)`, sorted label matchers,
// `1m30s`, double quotes), not as the rule file wrote it, so both are compared in a canonical form.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { PROMQL_KEYWORDS } from "../engine/promql-syntax.ts";

export interface AlertRule {
  alert: string;
  expr: string;
  /** The file it came from, for messages. */
  file?: string;
}

export type RuleMatch = { expr: string } | { reason: string };

export class KnownAlertRules {
  readonly #byName = new Map<string, Array<{ expr: string; canonical: string | undefined }>>();

  constructor(rules: Iterable<AlertRule>) {
    for (const rule of rules) {
      const known = this.#byName.get(rule.alert) ?? [];
      if (!known.some((k) => k.expr === rule.expr)) known.push({ expr: rule.expr, canonical: canonicalPromQL(rule.expr) });
      this.#byName.set(rule.alert, known);
    }
  }

  /** Alert names with at least one known rule. */
  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * The known expression of the alert's own rule (found by its alertname) that `expr` is, written as the rule file
   * wrote it; or why there is none. Only that known text is ever sent to Prometheus.
   */
  match(alertname: string | undefined, expr: string): RuleMatch {
    if (!alertname) return { reason: "the alert has no alertname" };
    const known = this.#byName.get(alertname);
    if (known === undefined) return { reason: `no known alert rule is named ${alertname}` };
    const canonical = canonicalPromQL(expr);
    const found = canonical === undefined ? undefined : known.find((k) => k.canonical === canonical);
    if (found === undefined) return { reason: `the expression in its generatorURL is not the one of the known ${alertname} rule` };
    return { expr: found.expr };
  }
}

export class AlertRulesFileError extends Error {}

/** The alerting rules of a Prometheus rules file: `groups:` at the top, or a PrometheusRule's `spec.groups`; several YAML documents may follow each other. */
export function readAlertRulesFile(path: string): AlertRule[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new AlertRulesFileError(`${path} could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const rules: AlertRule[] = [];
  let groupsSeen = false;
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new AlertRulesFileError(`${path} is not valid YAML: ${doc.errors[0]?.message ?? ""}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const holder = value as { groups?: unknown; kind?: unknown; spec?: { groups?: unknown } };
    const groups = holder.kind === "PrometheusRule" ? holder.spec?.groups : holder.groups;
    if (!Array.isArray(groups)) continue;
    groupsSeen = true;
    for (const group of groups as Array<{ rules?: unknown }>) {
      if (!Array.isArray(group?.rules)) continue;
      for (const rule of group.rules as Array<{ alert?: unknown; expr?: unknown }>) {
        if (typeof rule?.alert !== "string" || rule.alert === "") continue; // a recording rule
        if (typeof rule.expr !== "string" && typeof rule.expr !== "number") {
          throw new AlertRulesFileError(`${path}: the rule ${rule.alert} has no expr`);
        }
        rules.push({ alert: rule.alert, expr: String(rule.expr), file: path });
      }
    }
  }
  if (!groupsSeen) throw new AlertRulesFileError(`${path} is not a Prometheus rules file (no groups, nor a PrometheusRule's spec.groups)`);
  return rules;
}

// ---------------------------------------------------------------------------------------------------------------
// PromQL in a canonical form: the tokens Prometheus' own printer would give, joined by spaces. Two texts with the same
// form are the same expression; anything this small lexer cannot read has no form, and so matches nothing.

type TokenKind = "identifier" | "number" | "duration" | "string" | "operator";

interface Token {
  kind: TokenKind;
  text: string;
}

const AGGREGATORS = new Set([
  "sum",
  "avg",
  "count",
  "min",
  "max",
  "group",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "count_values",
  "quantile",
  "limitk",
  "limit_ratio",
]);
/** Words the lexer reads as keywords in any case (outside label lists and braces). */
const KEYWORDS = new Set([...AGGREGATORS, ...PROMQL_KEYWORDS]);
/** Keywords followed by a list of label names, whose words are names, not keywords. */
const LABEL_LIST_BEFORE = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const OPERATORS = [
  "==",
  "!=",
  ">=",
  "<=",
  "=~",
  "!~",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  ">",
  "<",
  "=",
  ",",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  "@",
  ":",
];
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};
const ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'" };

/** The decoded value of a string literal at `start`, and the index after it; undefined when it does not close or escapes oddly. */
function readString(expr: string, start: number): { value: string; end: number } | undefined {
  const quote = expr.charAt(start);
  let value = "";
  let i = start + 1;
  while (i < expr.length) {
    const ch = expr.charAt(i);
    if (ch === quote) return { value, end: i + 1 };
    if (ch === "\\" && quote !== "`") {
      const next = expr.charAt(i + 1);
      const simple = ESCAPES[next];
      if (simple !== undefined) {
        value += simple;
        i += 2;
        continue;
      }
      const hex = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
      const digits = hex ? expr.slice(i + 2, i + 2 + hex) : "";
      if (hex && new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) {
        value += String.fromCodePoint(Number.parseInt(digits, 16));
        i += 2 + hex;
        continue;
      }
      const octal = expr.slice(i + 1, i + 4);
      if (/^[0-7]{3}$/.test(octal)) {
        value += String.fromCharCode(Number.parseInt(octal, 8));
        i += 4;
        continue;
      }
      return undefined;
    }
    value += ch;
    i++;
  }
  return undefined;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function tokenize(expr: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const rest = expr.slice(i);
    const ch = expr.charAt(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "#") {
      const newline = expr.indexOf("\n", i);
      i = newline === -1 ? expr.length : newline;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === "`") {
      const string = readString(expr, i);
      if (string === undefined) return undefined;
      tokens.push({ kind: "string", text: JSON.stringify(string.value) });
      i = string.end;
      continue;
    }
    const duration = /^(?:[0-9]+(?:ms|[smhdwy]))+(?![A-Za-z0-9_.])/.exec(rest);
    if (duration) {
      let ms = 0;
      for (const part of duration[0].matchAll(/([0-9]+)(ms|[smhdwy])/g)) ms += Number(part[1]) * (DURATION_UNITS[part[2] ?? ""] ?? 0);
      tokens.push({ kind: "duration", text: `${ms}ms` });
      i += duration[0].length;
      continue;
    }
    const number = /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_:.])/.exec(rest);
    if (number) {
      tokens.push({ kind: "number", text: formatNumber(Number(number[0])) });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(rest);
    if (word) {
      const lower = word[0].toLowerCase();
      if (lower === "inf" || lower === "nan") tokens.push({ kind: "number", text: lower === "inf" ? "+Inf" : "NaN" });
      else tokens.push({ kind: "identifier", text: word[0] });
      i += word[0].length;
      continue;
    }
    const operator = OPERATORS.find((op) => rest.startsWith(op));
    if (operator === undefined) return undefined;
    tokens.push({ kind: "operator", text: operator });
    i += operator.length;
  }
  return tokens;
}

/** The index of the bracket closing the one at `open`, or -1. */
function closing(tokens: Token[], open: number): number {
  const opener = tokens[open]?.text;
  const closer = opener === "(" ? ")" : opener === "[" ? "]" : "}";
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const text = tokens[i]?.kind === "operator" ? tokens[i]?.text : undefined;
    if (text === opener) depth++;
    else if (text === closer && --depth === 0) return i;
  }
  return -1;
}

const isOperator = (token: Token | undefined, text: string): boolean => token?.kind === "operator" && token.text === text;

/** True when a token ends an operand, so a following + or - is binary. */
function endsOperand(token: Token | undefined): boolean {
  if (token === undefined) return false;
  if (token.kind === "operator") return token.text === ")" || token.text === "]" || token.text === "}";
  return !(token.kind === "identifier" && KEYWORDS.has(token.text.toLowerCase()));
}

/** PromQL as Prometheus would print it, as a string to compare; undefined when the text cannot be read. */
export function canonicalPromQL(expr: string): string | undefined {
  const lexed = tokenize(expr);
  if (lexed === undefined || lexed.length === 0) return undefined;
  let tokens: Token[] = [];

  // Keywords in lower case (they are keywords in any case), except where they are label names; `+1` is `1`.
  let braceDepth = 0;
  let labelListEnd = -1;
  for (let i = 0; i < lexed.length; i++) {
    const token = lexed[i] as Token;
    if (isOperator(token, "{")) braceDepth++;
    if (isOperator(token, "}")) braceDepth--;
    if (token.kind === "identifier" && braceDepth === 0 && i > labelListEnd && KEYWORDS.has(token.text.toLowerCase())) {
      const keyword = token.text.toLowerCase();
      // An empty `ignoring()` matches like none at all, and Prometheus prints none.
      if (keyword === "ignoring" && isOperator(lexed[i + 1], "(") && isOperator(lexed[i + 2], ")")) {
        i += 2;
        continue;
      }
      tokens.push({ kind: "identifier", text: keyword });
      if (LABEL_LIST_BEFORE.has(keyword) && isOperator(lexed[i + 1], "(")) labelListEnd = closing(lexed, i + 1);
      // `group_left` alone is printed `group_left ()`.
      else if (keyword === "group_left" || keyword === "group_right")
        tokens.push({ kind: "operator", text: "(" }, { kind: "operator", text: ")" });
      continue;
    }
    if (isOperator(token, "+") && lexed[i + 1]?.kind === "number" && !endsOperand(tokens.at(-1))) continue;
    tokens.push(token);
  }

  // Label matchers sorted, a trailing comma dropped, `x{}` as `x`.
  const sorted: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (!isOperator(token, "{")) {
      sorted.push(token);
      continue;
    }
    const end = closing(tokens, i);
    if (end === -1) return undefined;
    const matchers: string[] = [];
    let current: string[] = [];
    for (const inner of tokens.slice(i + 1, end)) {
      if (isOperator(inner, ",")) {
        if (current.length > 0) matchers.push(current.join(""));
        current = [];
      } else current.push(inner.text);
    }
    if (current.length > 0) matchers.push(current.join(""));
    matchers.sort();
    if (matchers.length > 0 || sorted.at(-1)?.kind !== "identifier") {
      sorted.push({ kind: "operator", text: "{" }, { kind: "operator", text: matchers.join(",") }, { kind: "operator", text: "}" });
    }
    i = end;
  }
  tokens = sorted;

  // `sum(x) by (a)` as `sum by (a) (x)`; an empty `by ()` dropped.
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind !== "identifier" || !AGGREGATORS.has(token.text) || !isOperator(tokens[i + 1], "(")) continue;
    const argsEnd = closing(tokens, i + 1);
    const clause = tokens[argsEnd + 1];
    if (argsEnd === -1 || clause?.kind !== "identifier" || (clause.text !== "by" && clause.text !== "without")) continue;
    if (!isOperator(tokens[argsEnd + 2], "(")) continue;
    const clauseEnd = closing(tokens, argsEnd + 2);
    if (clauseEnd === -1) return undefined;
    const grouping = tokens.slice(argsEnd + 1, clauseEnd + 1);
    tokens.splice(argsEnd + 1, grouping.length);
    tokens.splice(i + 1, 0, ...grouping);
  }
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind === "identifier" && AGGREGATORS.has(token.text) && tokens[i + 1]?.text === "by") {
      if (isOperator(tokens[i + 2], "(") && isOperator(tokens[i + 3], ")")) tokens.splice(i + 1, 3);
    }
  }
  return tokens.map((t) => t.text).join(" ");
}
