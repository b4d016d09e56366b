// Label selectors as a v1.36 kube-apiserver parses and matches them (k8s.io/apimachinery pkg/labels/selector.go, and
// the label key and value rules of pkg/api/validate/content), with its own error messages: a lexer of identifiers,
// the keywords `in`/`notin` and the operators, then a recursive-descent parser that names the literal it found where
// it expected something else ('' at the end of the string).

/** A selector the API server answers with 400 BadRequest and this message. */
export class LabelSelectorError extends Error {}

type Operator = "in" | "notin" | "=" | "==" | "!=" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  op: Operator;
  values: string[];
}

type TokenKind = "end" | ")" | "," | "!" | "==" | "=" | ">" | "identifier" | "in" | "<" | "!=" | "notin" | "(";

interface Token {
  kind: TokenKind;
  literal: string;
}

const SYMBOLS: Record<string, TokenKind> = { ")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": ">", "<": "<", "!=": "!=", "(": "(" };

const isWhitespace = (ch: string) => ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
const isSymbol = (ch: string) => "=!(),><".includes(ch) && ch !== "";

function lex(selector: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  for (;;) {
    while (pos < selector.length && isWhitespace(selector.charAt(pos))) pos++;
    if (pos >= selector.length) {
      tokens.push({ kind: "end", literal: "" });
      return tokens;
    }
    if (isSymbol(selector.charAt(pos))) {
      // The longest run of symbols that is still one operator: "!=" and "==", else one character.
      let literal = selector.charAt(pos);
      const two = selector.slice(pos, pos + 2);
      if (two === "!=" || two === "==") literal = two;
      pos += literal.length;
      tokens.push({ kind: SYMBOLS[literal] as TokenKind, literal });
      continue;
    }
    const start = pos;
    while (pos < selector.length && !isSymbol(selector.charAt(pos)) && !isWhitespace(selector.charAt(pos))) pos++;
    const literal = selector.slice(start, pos);
    tokens.push({ kind: literal === "in" || literal === "notin" ? literal : "identifier", literal });
  }
}

const LABEL_KEY_PATTERN = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY = new RegExp(`^${LABEL_KEY_PATTERN}$`);
const LABEL_KEY_MESSAGE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_PATTERN = `(${LABEL_KEY_PATTERN})?`;
const LABEL_VALUE = new RegExp(`^${LABEL_VALUE_PATTERN}$`);
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS_LABEL_PATTERN = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS_SUBDOMAIN_PATTERN = `${DNS_LABEL_PATTERN}(\\.${DNS_LABEL_PATTERN})*`;
const DNS_SUBDOMAIN = new RegExp(`^${DNS_SUBDOMAIN_PATTERN}$`);
const DNS_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/** content.RegexError's wording ("'a',  or 'b', ": its own double space). */
function regexMessage(message: string, pattern: string, ...examples: string[]): string {
  return `${message} (e.g. ${examples.map((e) => `'${e}', `).join(" or ")}regex used for validation is '${pattern}')`;
}

/** content.IsLabelKey: what is wrong with a label key, each problem one string. */
function labelKeyProblems(key: string): string[] {
  const problems: string[] = [];
  const parts = key.split("/");
  if (parts.length > 2) {
    return [
      `a valid label key ${regexMessage(LABEL_KEY_MESSAGE, LABEL_KEY_PATTERN, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const name = parts.at(-1) ?? "";
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (prefix === "") problems.push("prefix part must be non-empty");
    else {
      if (prefix.length > 253) problems.push("prefix part must be no more than 253 bytes");
      if (!DNS_SUBDOMAIN.test(prefix))
        problems.push(`prefix part ${regexMessage(DNS_SUBDOMAIN_MESSAGE, DNS_SUBDOMAIN_PATTERN, "example.com")}`);
    }
  }
  if (name === "") problems.push("name part must be non-empty");
  else if (name.length > 63) problems.push("name part must be no more than 63 bytes");
  if (!LABEL_KEY.test(name))
    problems.push(`name part ${regexMessage(LABEL_KEY_MESSAGE, LABEL_KEY_PATTERN, "MyName", "my.name", "123-abc")}`);
  return problems;
}

/** content.IsLabelValue. */
function labelValueProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > 63) problems.push("must be no more than 63 bytes");
  if (!LABEL_VALUE.test(value)) problems.push(regexMessage(LABEL_VALUE_MESSAGE, LABEL_VALUE_PATTERN, "MyValue", "my_value", "12345"));
  return problems;
}

/** field.Invalid(path, value, detail).Error(). */
function invalid(path: string, value: string, detail: string): string {
  return `${path}: Invalid value: ${JSON.stringify(value)}: ${detail}`;
}

/** utilerrors.NewAggregate(...).Error(): one message as it is, several in brackets. */
function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? (unique[0] ?? "") : `[${unique.join(", ")}]`;
}

const BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt";

class Parser {
  private position = 0;
  private readonly tokens: Token[];

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  /** In a list of values the keywords are plain identifiers. */
  private asValue(token: Token): Token {
    return token.kind === "in" || token.kind === "notin" ? { kind: "identifier", literal: token.literal } : token;
  }

  lookahead(values = true): Token {
    const token = this.tokens[this.position] ?? { kind: "end", literal: "" };
    return values ? this.asValue(token) : token;
  }

  consume(values = true): Token {
    const token = this.lookahead(values);
    this.position = Math.min(this.position + 1, this.tokens.length - 1);
    return token;
  }

  parse(): LabelRequirement[] {
    const requirements: LabelRequirement[] = [];
    for (;;) {
      const next = this.lookahead();
      if (next.kind === "end") return requirements;
      if (next.kind !== "identifier" && next.kind !== "!") {
        throw new LabelSelectorError(`found '${next.literal}', expected: !, identifier, or 'end of string'`);
      }
      try {
        requirements.push(this.requirement());
      } catch (error) {
        if (error instanceof LabelSelectorError) throw new LabelSelectorError(`unable to parse requirement: ${error.message}`);
        throw error;
      }
      const separator = this.consume();
      if (separator.kind === "end") return requirements;
      if (separator.kind !== ",") throw new LabelSelectorError(`found '${separator.literal}', expected: ',' or 'end of string'`);
      const following = this.lookahead();
      if (following.kind !== "identifier" && following.kind !== "!") {
        throw new LabelSelectorError(`found '${following.literal}', expected: identifier after ','`);
      }
    }
  }

  private requirement(): LabelRequirement {
    let op: Operator | undefined;
    let token = this.consume();
    if (token.kind === "!") {
      op = "!";
      token = this.consume();
    }
    if (token.kind !== "identifier") throw new LabelSelectorError(`found '${token.literal}', expected: identifier`);
    const key = token.literal;
    const keyProblems = labelKeyProblems(key);
    // The parser's own path is nil, printed "<nil>".
    if (keyProblems.length > 0) throw new LabelSelectorError(invalid("<nil>", key, keyProblems.join("; ")));
    const after = this.lookahead();
    if (op === "!" || after.kind === "end" || after.kind === ",") return { key, op: op ?? "exists", values: [] };

    const operator = this.consume(false);
    const operators: Partial<Record<TokenKind, Operator>> = {
      in: "in",
      notin: "notin",
      "=": "=",
      "==": "==",
      "!=": "!=",
      ">": "gt",
      "<": "lt",
    };
    const binary = operators[operator.kind];
    if (binary === undefined) throw new LabelSelectorError(`found '${operator.literal}', expected: ${BINARY_OPERATORS}`);
    const values = [...new Set(binary === "in" || binary === "notin" ? this.valueSet() : this.exactValue())].sort();

    const problems: string[] = [];
    if (binary === "gt" || binary === "lt") {
      values.forEach((v, i) => {
        if (!/^[-+]?\d+$/.test(v)) problems.push(invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
    }
    values.forEach((v, i) => {
      const valueProblems = labelValueProblems(v);
      if (valueProblems.length > 0) problems.push(invalid(`values[${i}][${key}]`, v, valueProblems.join("; ")));
    });
    if (problems.length > 0) throw new LabelSelectorError(aggregate(problems));
    return { key, op: binary, values };
  }

  private valueSet(): string[] {
    const open = this.consume();
    if (open.kind !== "(") throw new LabelSelectorError(`found '${open.literal}' expected: '('`);
    const first = this.lookahead();
    if (first.kind === ")") {
      this.consume();
      return [""];
    }
    if (first.kind !== "identifier" && first.kind !== ",") {
      throw new LabelSelectorError(`found '${first.literal}', expected: ',', ')' or identifier`);
    }
    const values = new Set<string>();
    for (;;) {
      const token = this.consume();
      if (token.kind === "identifier") {
        values.add(token.literal);
        const next = this.lookahead();
        if (next.kind === ",") continue;
        if (next.kind === ")") break;
        throw new LabelSelectorError(`found '${next.literal}', expected: ',' or ')'`);
      }
      if (token.kind === ",") {
        if (values.size === 0) values.add("");
        const next = this.lookahead();
        if (next.kind === ")") {
          values.add("");
          break;
        }
        if (next.kind === ",") values.add("");
        continue;
      }
      throw new LabelSelectorError(`found '${token.literal}', expected: ',', or identifier`);
    }
    this.consume();
    return [...values];
  }

  private exactValue(): string[] {
    const next = this.lookahead();
    if (next.kind === "end" || next.kind === ",") return [""];
    const token = this.consume();
    if (token.kind === "identifier") return [token.literal];
    throw new LabelSelectorError(`found '${token.literal}', expected: identifier`);
  }
}

/** The requirements of a `labelSelector` query parameter; throws LabelSelectorError with the API server's message. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  return new Parser(lex(selector)).parse();
}

/** Requirement.Matches for every requirement. */
export function matchesLabels(labels: Record<string, string>, requirements: LabelRequirement[]): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.op) {
      case "in":
      case "=":
      case "==":
        return has && r.values.includes(value ?? "");
      case "notin":
      case "!=":
        return !has || !r.values.includes(value ?? "");
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (!has || !/^[-+]?\d+$/.test(value ?? "")) return false;
        const actual = BigInt(value ?? "0");
        const limit = BigInt(r.values[0] ?? "0");
        return r.op === "gt" ? actual > limit : actual < limit;
      }
    }
    return false;
  });
}
