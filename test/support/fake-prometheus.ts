// In-process stand-in for the Prometheus HTTP API: canned answers to /api/v1/query and /api/v1/query_range, with Prometheus' envelopes and its rejections,
// and the metric names it holds at /api/v1/label/__name__/values (match[] by __name__ only; start and end are ignored).
import type { IncomingMessage, ServerResponse } from "node:http";
import { listenOnLoopback } from "../../testkit/loopback-server.ts";

/** One element of an instant vector. */
export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

/** One series of a range result; timestamps in unix seconds. */
export interface PromSeries {
  labels: Record<string, string>;
  values: Array<[number, number]>;
}

export interface PromResponder {
  /** Matches the query text: a RegExp, or a string the query must contain after whitespace is collapsed. */
  match: RegExp | string;
  vector?: PromSample[];
  /** Returned as is by instant queries; range queries keep the points inside [start, end]. */
  matrix?: PromSeries[];
  scalar?: number;
}

export interface RecordedPromQuery {
  path: string;
  query: string;
  params: Record<string, string>;
  /** The request's Authorization and User-Agent headers, when sent. */
  authorization?: string;
  userAgent?: string;
}

export interface FakePrometheus {
  url: string;
  queries: RecordedPromQuery[];
  setResponders(responders: PromResponder[]): void;
  /** The metric names /api/v1/label/__name__/values answers (the responders hold query texts, not series). */
  setMetricNames(names: readonly string[]): void;
  close(): Promise<void>;
}

export interface FakePrometheusOptions {
  /** Added before every response. */
  latencyMs?: number;
  /** Never answer any request; sockets stay open until close(). */
  hang?: boolean;
  /** The metric names it holds, for /api/v1/label/__name__/values; none unless given. */
  metricNames?: readonly string[];
}

class PromApiError extends Error {}

const MAX_POINTS_PER_SERIES = 11_000;

// ---------------------------------------------------------------------------------------------------------------
// The gross parse errors Prometheus' parser reports, found with a small lexer.

type TokenKind = "identifier" | "number" | "string" | "operator" | "(" | ")" | "[" | "]" | "{" | "}" | ",";

interface Token {
  kind: TokenKind;
  text: string;
  /** The decoded value of a string literal. */
  value: string;
  offset: number;
}

class PromParseError extends Error {
  readonly offset: number;

  constructor(offset: number, message: string) {
    super(message);
    this.offset = offset;
  }
}

const OPERATORS = ["=~", "!~", "!=", "==", ">=", "<=", "=", ">", "<", "+", "-", "*", "/", "%", "^", "@", ":"];

/** Go's %#U: U+0064 'd'. */
function describeRune(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")} '${ch}'`;
}

/** Reads a quoted literal starting at `start`, validating escapes as Prometheus' lexEscape does; returns the decoded value and the end offset. */
function readQuoted(query: string, start: number): { value: string; end: number } {
  const quote = query.charAt(start);
  let value = "";
  let i = start + 1;
  if (quote === "`") {
    const close = query.indexOf("`", i);
    if (close === -1) throw new PromParseError(start, "unterminated raw string");
    return { value: query.slice(i, close), end: close + 1 };
  }
  for (;;) {
    if (i >= query.length) throw new PromParseError(start, "unterminated quoted string");
    const ch = query.charAt(i);
    if (ch === "\n") throw new PromParseError(start, "unterminated quoted string");
    if (ch === quote) return { value, end: i + 1 };
    if (ch !== "\\") {
      value += ch;
      i++;
      continue;
    }
    const escaped = query.charAt(i + 1);
    if (escaped === "") throw new PromParseError(i, "escape sequence not terminated");
    const simple: Record<string, string> = { a: "\u0007", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" };
    if (escaped === quote) {
      value += quote;
      i += 2;
      continue;
    }
    const simpleValue = simple[escaped];
    if (simpleValue !== undefined) {
      value += simpleValue;
      i += 2;
      continue;
    }
    let digits: number;
    let base: number;
    let max: number;
    let first = i + 2;
    if (/[0-7]/.test(escaped)) {
      [digits, base, max, first] = [3, 8, 255, i + 1];
    } else if (escaped === "x") {
      [digits, base, max] = [2, 16, 255];
    } else if (escaped === "u") {
      [digits, base, max] = [4, 16, 0x10ffff];
    } else if (escaped === "U") {
      [digits, base, max] = [8, 16, 0x10ffff];
    } else {
      throw new PromParseError(i, `unknown escape sequence ${describeRune(escaped)}`);
    }
    const text = query.slice(first, first + digits);
    const digitPattern = base === 8 ? /^[0-7]+$/ : /^[0-9a-fA-F]+$/;
    if (text.length < digits || !digitPattern.test(text)) {
      const bad = [...text].find((c) => !digitPattern.test(c)) ?? quote;
      throw new PromParseError(i, `illegal character ${describeRune(bad)} in escape sequence`);
    }
    const code = Number.parseInt(text, base);
    if (code > max || (code >= 0xd800 && code <= 0xdfff)) throw new PromParseError(i, "escape sequence is an invalid Unicode code point");
    value += String.fromCodePoint(code);
    i = first + digits;
  }
}

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const ch = query.charAt(i);
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "#") {
      const newline = query.indexOf("\n", i);
      i = newline === -1 ? query.length : newline;
    } else if (ch === '"' || ch === "'" || ch === "`") {
      const { value, end } = readQuoted(query, i);
      tokens.push({ kind: "string", text: query.slice(i, end), value, offset: i });
      i = end;
    } else if ("()[]{},".includes(ch)) {
      tokens.push({ kind: ch as TokenKind, text: ch, value: ch, offset: i });
      i++;
    } else if (/[A-Za-z_]/.test(ch)) {
      const text = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(query.slice(i))?.[0] ?? ch;
      tokens.push({ kind: "identifier", text, value: text, offset: i });
      i += text.length;
    } else if (/[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(query.charAt(i + 1)))) {
      const text =
        /^(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[A-Za-z0-9]*)/.exec(query.slice(i))?.[0] ?? ch;
      tokens.push({ kind: "number", text, value: text, offset: i });
      i += text.length;
    } else {
      const op = OPERATORS.find((o) => query.startsWith(o, i));
      if (op === undefined) throw new PromParseError(i, `unexpected character: '${ch}'`);
      tokens.push({ kind: "operator", text: op, value: op, offset: i });
      i += op.length;
    }
  }
  return tokens;
}

function describeToken(t: Token | undefined): string {
  if (t === undefined) return "end of input";
  if (t.kind === "identifier") return `identifier "${t.text}"`;
  if (t.kind === "number") return `number "${t.text}"`;
  if (t.kind === "string") return `string ${t.text}`;
  return `"${t.text}"`;
}

const DURATION = /^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$/;
const FLOAT_SECONDS = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function isDurationText(text: string): boolean {
  return DURATION.test(text) || FLOAT_SECONDS.test(text);
}

/** RE2 is what Prometheus compiles matchers with; JavaScript's engine stands in, minus the syntax RE2 refuses. */
function regexProblem(pattern: string): string | undefined {
  const unsupported = /\(\?(?:=|!|<=|<!)|\\[1-9]/.exec(pattern);
  if (unsupported) return `error parsing regexp: invalid or unsupported Perl syntax: \`${unsupported[0]}\``;
  const portable = pattern
    .replace(/\(\?[imsU]+\)/g, "")
    .replace(/\(\?[imsU]*-?[imsU]*:/g, "(?:")
    .replace(/\(\?P</g, "(?<");
  try {
    new RegExp(`^(?:${portable})$`);
    return undefined;
  } catch (error) {
    return `error parsing regexp: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function matchesEmpty(op: string, value: string): boolean {
  if (op === "=") return value === "";
  if (op === "!=") return value !== "";
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${value.replace(/\(\?[imsU]+\)/g, "")})$`);
  } catch {
    return true;
  }
  return op === "=~" ? re.test("") : !re.test("");
}

/** Checks one `{...}` label-matcher list starting at tokens[open]; returns the index of its closing brace. */
function checkMatchers(tokens: Token[], open: number): number {
  const hasMetricName = tokens[open - 1]?.kind === "identifier";
  let nonEmptyMatcher = hasMetricName;
  let i = open + 1;
  for (;;) {
    const name = tokens[i];
    if (name?.kind === "}") break;
    if (name?.kind !== "identifier" && name?.kind !== "string") {
      if (name === undefined) throw new PromParseError(tokens[open]?.offset ?? 0, "unexpected end of input inside braces");
      throw new PromParseError(name.offset, `unexpected ${describeToken(name)} in label matching, expected identifier or "}"`);
    }
    const op = tokens[i + 1];
    if (name.kind === "string" && (op?.kind === "," || op?.kind === "}")) {
      // A quoted metric name on its own: {"http.requests"}.
      nonEmptyMatcher = true;
      i += op.kind === "," ? 2 : 1;
      continue;
    }
    if (op?.kind !== "operator" || !["=", "!=", "=~", "!~"].includes(op.text)) {
      if (op === undefined) throw new PromParseError(tokens[open]?.offset ?? 0, "unexpected end of input inside braces");
      throw new PromParseError(op.offset, `unexpected ${describeToken(op)} in label matching, expected label matching operator`);
    }
    const value = tokens[i + 2];
    if (value?.kind !== "string") {
      if (value === undefined) throw new PromParseError(tokens[open]?.offset ?? 0, "unexpected end of input inside braces");
      throw new PromParseError(value.offset, `unexpected ${describeToken(value)} in label matching, expected string`);
    }
    if (op.text === "=~" || op.text === "!~") {
      const problem = regexProblem(value.value);
      if (problem) throw new PromParseError(value.offset, problem);
    }
    if (!matchesEmpty(op.text, value.value)) nonEmptyMatcher = true;
    const after = tokens[i + 3];
    if (after?.kind === "}") {
      i += 3;
      break;
    }
    if (after?.kind !== ",") {
      if (after === undefined) throw new PromParseError(tokens[open]?.offset ?? 0, "unexpected end of input inside braces");
      throw new PromParseError(after.offset, `unexpected ${describeToken(after)} in label matching, expected "," or "}"`);
    }
    i += 4;
  }
  if (!nonEmptyMatcher) throw new PromParseError(tokens[open]?.offset ?? 0, "vector selector must contain at least one non-empty matcher");
  return i;
}

/** Checks one `[...]` range or subquery selector starting at tokens[open]; returns the index of its closing bracket. */
function checkRange(tokens: Token[], open: number): number {
  let i = open + 1;
  const expectDuration = (optional: boolean): void => {
    const t = tokens[i];
    if (t?.kind === "number") {
      if (!isDurationText(t.text)) throw new PromParseError(t.offset, `bad number or duration syntax: "${t.text}"`);
      i++;
      return;
    }
    if (optional) return;
    if (t === undefined) throw new PromParseError(tokens[open]?.offset ?? 0, "unclosed left bracket");
    throw new PromParseError(t.offset, `unexpected ${describeToken(t)} in subquery selector, expected duration`);
  };
  expectDuration(false);
  if (tokens[i]?.kind === "operator" && tokens[i]?.text === ":") {
    i++;
    expectDuration(true);
  }
  const close = tokens[i];
  if (close?.kind !== "]") {
    if (close === undefined) throw new PromParseError(tokens[open]?.offset ?? 0, "unclosed left bracket");
    throw new PromParseError(close.offset, `unexpected ${describeToken(close)} in subquery selector, expected "]"`);
  }
  return i;
}

function checkTokens(tokens: Token[], end: number): void {
  if (tokens.length === 0) throw new PromParseError(0, "no expression found in input");
  const parens: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === undefined) break;
    switch (t.kind) {
      case "(":
        parens.push(t);
        break;
      case ")":
        if (parens.pop() === undefined) throw new PromParseError(t.offset, "unexpected right parenthesis ')'");
        break;
      case "{":
        i = checkMatchers(tokens, i);
        break;
      case "}":
        throw new PromParseError(t.offset, "unexpected right brace '}'");
      case "[":
        i = checkRange(tokens, i);
        break;
      case "]":
        throw new PromParseError(t.offset, "unexpected right bracket ']'");
      default:
        break;
    }
  }
  if (parens.length > 0) throw new PromParseError(end, "unclosed left parenthesis");
}

function position(query: string, offset: number): string {
  const before = query.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  return `${line}:${column}`;
}

/** The parse error Prometheus would report for this query ("1:5: parse error: …"), or undefined when it gets past the parser. */
export function promqlParseError(query: string): string | undefined {
  try {
    checkTokens(tokenize(query), query.length);
    return undefined;
  } catch (error) {
    if (error instanceof PromParseError) return `${position(query, error.offset)}: parse error: ${error.message}`;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters and formatting.

/** Prometheus' parseTime: float unix seconds or RFC3339; returns milliseconds. */
function parseTime(text: string | undefined, name: string): number {
  const value = text ?? "";
  if (FLOAT_SECONDS.test(value) || /^-[0-9.]/.test(value)) {
    const seconds = Number(value);
    if (Number.isFinite(seconds)) return Math.round(seconds * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new PromApiError(`invalid parameter "${name}": cannot parse "${value}" to a valid timestamp`);
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Prometheus' parseDuration: float seconds or a duration like 1h30m; returns milliseconds. */
function parseDuration(text: string | undefined, name: string): number {
  const value = text ?? "";
  // A negative float parses here and is refused later as a non-positive step, as in Prometheus.
  if (FLOAT_SECONDS.test(value.replace(/^[+-]/, ""))) return Number(value) * 1000;
  if (DURATION.test(value)) {
    let total = 0;
    for (const [, amount, unit] of value.matchAll(/([0-9]+)(ms|s|m|h|d|w|y)/g))
      total += Number(amount) * (DURATION_UNITS_MS[unit ?? "s"] ?? 0);
    return total;
  }
  throw new PromApiError(`invalid parameter "${name}": cannot parse "${value}" to a valid duration`);
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64), which Prometheus uses for sample values. */
export function formatPromValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  const text = String(value);
  const exponent = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!exponent) return text;
  const [, sign = "", lead = "", fraction = "", power = "0"] = exponent;
  const digits = lead + fraction;
  const point = 1 + Number(power);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function matches(responder: PromResponder, query: string): boolean {
  if (typeof responder.match === "string") return collapse(query).includes(collapse(responder.match));
  responder.match.lastIndex = 0;
  if (responder.match.test(query)) return true;
  responder.match.lastIndex = 0;
  return responder.match.test(collapse(query));
}

// ---------------------------------------------------------------------------------------------------------------
// The server.

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

function success(data: unknown): Reply {
  return { status: 200, contentType: "application/json", body: JSON.stringify({ status: "success", data }) };
}

function badData(message: string): Reply {
  return { status: 400, contentType: "application/json", body: JSON.stringify({ status: "error", errorType: "bad_data", error: message }) };
}

function text(status: number, body: string): Reply {
  return { status, contentType: "text/plain; charset=utf-8", body };
}

/**
 * A match[] selector narrowed by metric name only: `name`, `{__name__="name"}` or `{__name__=~"regex"}` (anchored, as
 * Prometheus anchors it). Anything else is refused, so a test cannot rely on a matcher this fake ignores.
 */
function nameMatcher(selector: string): (name: string) => boolean {
  const bare = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(selector.trim());
  if (bare) return (name) => name === bare[0];
  const matcher = /^\{\s*__name__\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"\s*\}$/.exec(selector.trim());
  if (!matcher)
    throw new PromApiError(`invalid parameter "match[]": the fake Prometheus takes only a metric name matcher, not ${selector}`);
  const value = JSON.parse(`"${matcher[2] ?? ""}"`) as string;
  if (matcher[1] === "=") return (name) => name === value;
  const pattern = new RegExp(`^(?:${value})$`);
  return (name) => pattern.test(name);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFakePrometheus(
  initialResponders: PromResponder[],
  options: FakePrometheusOptions = {},
): Promise<FakePrometheus> {
  let responders = initialResponders;
  let metricNames = [...(options.metricNames ?? [])];
  const queries: RecordedPromQuery[] = [];
  let closed = false;

  function responderFor(query: string): PromResponder | undefined {
    return responders.find((r) => matches(r, query));
  }

  function checkQuery(query: string): void {
    const problem = promqlParseError(query);
    if (problem) throw new PromApiError(`invalid parameter "query": ${problem}`);
  }

  function instantQuery(params: Record<string, string>): Reply {
    const evalMs = params.time === undefined || params.time === "" ? Date.now() : parseTime(params.time, "time");
    if (params.timeout !== undefined && params.timeout !== "") parseDuration(params.timeout, "timeout");
    const query = params.query ?? "";
    checkQuery(query);
    const responder = responderFor(query);
    const t = seconds(evalMs);
    if (responder?.vector) {
      return success({
        resultType: "vector",
        result: responder.vector.map((s) => ({ metric: s.labels, value: [t, formatPromValue(s.value)] })),
      });
    }
    if (responder?.scalar !== undefined) return success({ resultType: "scalar", result: [t, formatPromValue(responder.scalar)] });
    if (responder?.matrix) {
      return success({
        resultType: "matrix",
        result: responder.matrix.map((s) => ({ metric: s.labels, values: s.values.map(([ts, v]) => [ts, formatPromValue(v)]) })),
      });
    }
    return success({ resultType: "vector", result: [] });
  }

  function rangeQuery(params: Record<string, string>): Reply {
    const startMs = parseTime(params.start, "start");
    const endMs = parseTime(params.end, "end");
    if (endMs < startMs) throw new PromApiError("end timestamp must not be before start time");
    const stepMs = parseDuration(params.step, "step");
    if (stepMs <= 0) throw new PromApiError("zero or negative query resolution step widths are not accepted. Try a positive integer");
    if (Math.floor((endMs - startMs) / stepMs) > MAX_POINTS_PER_SERIES) {
      throw new PromApiError("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)");
    }
    if (params.timeout !== undefined && params.timeout !== "") parseDuration(params.timeout, "timeout");
    const query = params.query ?? "";
    checkQuery(query);
    const responder = responderFor(query);
    const steps: number[] = [];
    for (let t = startMs; t <= endMs; t += stepMs) steps.push(seconds(t));
    const flat = (labels: Record<string, string>, value: number) => ({
      metric: labels,
      values: steps.map((t) => [t, formatPromValue(value)]),
    });
    let result: Array<{ metric: Record<string, string>; values: Array<Array<number | string>> }> = [];
    if (responder?.matrix) {
      result = responder.matrix
        .map((s) => ({
          metric: s.labels,
          values: s.values.filter(([ts]) => ts * 1000 >= startMs && ts * 1000 <= endMs).map(([ts, v]) => [ts, formatPromValue(v)]),
        }))
        .filter((s) => s.values.length > 0);
    } else if (responder?.vector) {
      result = responder.vector.map((s) => flat(s.labels, s.value));
    } else if (responder?.scalar !== undefined) {
      result = [flat({}, responder.scalar)];
    }
    return success({ resultType: "matrix", result });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const method = req.method ?? "GET";
    let body = "";
    if (method === "POST") body = await readBody(req);
    else req.resume();
    if (options.hang) {
      server.hold(res);
      return;
    }
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    if (closed || res.destroyed) return;

    let reply: Reply;
    const path = url.pathname;
    if (path === "/api/v1/query" || path === "/api/v1/query_range") {
      // Like Go's FormValue: the first value of a name, and a form body's parameters win over the URL's.
      const params: Record<string, string> = {};
      for (const [key, value] of url.searchParams) params[key] ??= value;
      const contentType = String(req.headers["content-type"] ?? "");
      if (method === "POST" && contentType.startsWith("application/x-www-form-urlencoded")) {
        const form: Record<string, string> = {};
        for (const [key, value] of new URLSearchParams(body)) form[key] ??= value;
        Object.assign(params, form);
      }
      const recorded: RecordedPromQuery = { path, query: params.query ?? "", params };
      if (req.headers.authorization !== undefined) recorded.authorization = req.headers.authorization;
      if (req.headers["user-agent"] !== undefined) recorded.userAgent = req.headers["user-agent"];
      queries.push(recorded);
      if (method !== "GET" && method !== "POST") {
        reply = text(405, "Method Not Allowed\n");
      } else {
        try {
          reply = path === "/api/v1/query" ? instantQuery(params) : rangeQuery(params);
        } catch (error) {
          if (!(error instanceof PromApiError)) throw error;
          reply = badData(error.message);
        }
      }
    } else if (path === "/api/v1/label/__name__/values" && method === "GET") {
      try {
        const matchers = url.searchParams.getAll("match[]").map(nameMatcher);
        const names = metricNames.filter((name) => matchers.length === 0 || matchers.some((matches) => matches(name)));
        reply = success([...new Set(names)].sort());
      } catch (error) {
        if (!(error instanceof PromApiError)) throw error;
        reply = badData(error.message);
      }
    } else if (path === "/api/v1/status/buildinfo" && method === "GET") {
      reply = success({
        version: "2.54.1",
        revision: "e6cfa720fbe6280153fab13090a483dbd40bece3",
        branch: "HEAD",
        buildUser: "root@812ffd741951",
        buildDate: "20240827-10:56:41",
        goVersion: "go1.22.6",
      });
    } else if (path === "/-/ready" && (method === "GET" || method === "HEAD")) {
      reply = text(200, "Prometheus Server is Ready.\n");
    } else if (path === "/-/healthy" && (method === "GET" || method === "HEAD")) {
      reply = text(200, "Prometheus Server is Healthy.\n");
    } else {
      reply = text(404, "404 page not found\n");
    }
    res.writeHead(reply.status, { "Content-Type": reply.contentType });
    res.end(reply.body);
  }

  const server = await listenOnLoopback(handle);

  return {
    url: server.url,
    queries,
    setResponders(next: PromResponder[]): void {
      responders = next;
    },
    setMetricNames(names: readonly string[]): void {
      metricNames = [...names];
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
}
