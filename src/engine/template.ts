// `{{ expr }}` templates in rule files. Each placeholder is a CEL expression; its value is escaped for the place it
// lands in (a PromQL string or regex, a selector, a shell command), and the output is never evaluated again, so a label
// value can neither run as a template nor change the meaning of a query or a command.
//
// In a remediation command (context "shell") each placeholder also says what its value is: `{{ expr | namespace }}`.
// The value must pass Kubernetes' own rule for that kind of name, and may not start with a dash, before it is put in:
// so it can never become an option (`--server=https://evil.example`), a second argument or a command. A value that
// fails throws RejectedValue, whose note is shown instead of the command. Where the placeholder sits in the command
// (bare, inside '…', inside a heredoc) is read from the template's own text when the rule is loaded.
import { isIP } from "node:net";
import { type CompiledExpression, compileExpression, referencedSteps, type Scope } from "./expressions.ts";

export type TemplateContext = "text" | "promql" | "labelSelector" | "fieldSelector" | "objectName" | "shell";

/** Where a placeholder sits, read from the literal text around it when the template is compiled. */
type Slot =
  /** text, selectors and object names: escaped as the context says */
  | "plain"
  /** PromQL: inside a "…" string */
  | "promqlString"
  /** PromQL: inside the "…" operand of =~ or !~, or label_replace's regex: a literal, regex-quoted */
  | "promqlRegex"
  /** PromQL: label_replace's replacement, where $1 expands */
  | "promqlReplacement"
  /** shell: unquoted (or in a comment) */
  | "shellWord"
  /** shell: inside '…' */
  | "shellSingle"
  /** shell: a line of a heredoc whose delimiter is quoted (no expansion): a manifest for kubectl apply */
  | "heredoc"
  /** shell: inside "…" on such a heredoc line */
  | "heredocQuoted";

type Part = { literal: string } | { expression: CompiledExpression; kind?: ValueKind; slot: Slot };

export interface Template {
  source: string;
  context: TemplateContext;
  render(scope: Scope): string;
  /** Step ids this template reads. */
  steps: string[];
}

export class TemplateError extends Error {}

/**
 * A value a command cannot take: the command is not shown, and `note` (a shell comment naming the value, shell-quoted
 * and printable, and why) is shown in its place. Pasted, the note does nothing.
 */
export class RejectedValue extends TemplateError {
  readonly note: string;
  constructor(value: string, source: string, reason: string) {
    const message = `${printableQuoted(value)} from ${origin(source)} ${reason}`;
    super(message);
    this.note = `# command withheld: ${message}`;
  }
}

const PLACEHOLDER = /\{\{(.*?)\}\}/gs;
/** `expr | kind` in a command: a single `|` (CEL has only `||`) and a name at the end. */
const KIND_SUFFIX = /^(.*[^|])\|\s*([A-Za-z][A-Za-z0-9]*)\s*$/s;

export function compileTemplate(source: string, context: TemplateContext): Template {
  const pieces: Array<{ literal: string } | { source: string; kind?: ValueKind }> = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    if (match.index > last) pieces.push({ literal: source.slice(last, match.index) });
    const inner = (match[1] ?? "").trim();
    const kinded = context === "shell" ? KIND_SUFFIX.exec(inner) : null;
    if (context === "shell" && !kinded)
      throw new TemplateError(
        `placeholder {{ ${brief(inner)} }} in a command must say what its value is, as {{ … | name }}; kinds: ${KIND_NAMES}`,
      );
    if (kinded && !Object.hasOwn(VALUE_KINDS, kinded[2] as string))
      throw new TemplateError(`placeholder {{ ${brief(inner)} }}: unknown kind ${JSON.stringify(kinded[2])}; kinds: ${KIND_NAMES}`);
    pieces.push(kinded ? { source: (kinded[1] as string).trim(), kind: kinded[2] as ValueKind } : { source: inner });
    last = match.index + match[0].length;
  }
  if (last < source.length) pieces.push({ literal: source.slice(last) });
  const slots = context === "promql" ? promqlSlots(pieces, source) : context === "shell" ? shellSlots(pieces) : [];
  let n = 0;
  const parts: Part[] = pieces.map((piece) =>
    "literal" in piece
      ? piece
      : { expression: compileExpression(piece.source), slot: slots[n++] ?? "plain", ...(piece.kind ? { kind: piece.kind } : {}) },
  );
  return {
    source,
    context,
    steps: referencedSteps(source),
    render(scope) {
      return parts.map((part) => ("literal" in part ? part.literal : renderPart(part.expression.evaluate(scope), context, part))).join("");
    },
  };
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function renderPart(
  value: unknown,
  context: TemplateContext,
  part: { expression: CompiledExpression; kind?: ValueKind; slot: Slot },
): string {
  switch (part.slot) {
    case "promqlRegex": {
      // Each value is one literal alternative: a list gives several, so a rule never joins names with "|" itself.
      const alternatives = Array.isArray(value) ? value.map(stringify) : [stringify(value)];
      return escapeFor(alternatives.map(quoteRegex).join("|"), "promql");
    }
    case "promqlReplacement":
      return escapeFor(stringify(value).replace(/\$/g, "$$$$"), "promql");
    case "shellWord":
    case "shellSingle":
    case "heredoc":
    case "heredocQuoted":
      return shellValue(value, part.kind ?? "text", part.slot, part.expression.source);
    default:
      return renderValue(value, context);
  }
}

function renderValue(value: unknown, context: TemplateContext): string {
  // A map in a label selector is a Service's or workload's selector: every key and value is checked, then joined.
  if (context === "labelSelector" && isMap(value)) {
    return Object.entries(value)
      .map(([key, v]) => {
        if (key.length > 316 || !LABEL_KEY.test(key)) throw new TemplateError(`${JSON.stringify(key)} is not a valid label key`);
        return `${key}=${escapeFor(stringify(v), "labelSelector")}`;
      })
      .join(",");
  }
  return escapeFor(stringify(value), context);
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Date);
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(stringify).join(",");
  return JSON.stringify(value);
}

/** RE2's QuoteMeta: the value matches itself and nothing else. */
function quoteRegex(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

export function escapeFor(value: string, context: TemplateContext): string {
  switch (context) {
    case "text":
      return value;
    case "promql":
      return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r");
    case "fieldSelector":
      // k8s.io/apimachinery fields.EscapeValue
      return value.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/=/g, "\\=");
    case "labelSelector":
      if (value.length > 63 || !LABEL_VALUE.test(value)) throw new TemplateError(`${JSON.stringify(value)} is not a valid label value`);
      return value;
    case "objectName":
      if (value.length > 253 || !OBJECT_NAME.test(value))
        throw new TemplateError(`${JSON.stringify(value)} is not a valid Kubernetes object name`);
      return value;
    case "shell":
      checkShellValue(value, "text", "a value");
      return shellWord(value);
  }
}

// What a value in a command may be. Kubernetes' own rules (k8s.io/apimachinery/pkg/util/validation): no name, label
// value or quantity can start with a dash, contain a space, a quote or a shell metacharacter.
const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?";

function rule(pattern: string, maxLength: number): (value: string) => boolean {
  const regex = new RegExp(`^(?:${pattern})$`);
  return (value) => value.length <= maxLength && regex.test(value);
}
const isDns1123Label = rule(DNS1123_LABEL, 63);
const isDns1123Subdomain = rule(DNS1123_SUBDOMAIN, 253);
const isDns1035Label = rule(DNS1035_LABEL, 63);

/** An APIService is named <version>.<group> (kube-aggregator's validation); only v1 of the legacy group has none: "v1.". */
function isApiServiceName(value: string): boolean {
  const dot = value.indexOf(".");
  if (dot < 1 || value.length > 253) return false;
  const version = value.slice(0, dot);
  const group = value.slice(dot + 1);
  return isDns1035Label(version) && (group === "" ? version === "v1" : isDns1123Subdomain(group));
}

/** key=value pairs joined by commas, as `kubectl -l` takes them. */
function isEqualitySelector(value: string): boolean {
  return value.split(",").every((requirement) => {
    const match = /^([^=!]+)==?(.*)$/.exec(requirement);
    const key = match?.[1] ?? "";
    const labelValue = match?.[2] ?? "";
    return key.length <= 316 && LABEL_KEY.test(key) && labelValue.length <= 63 && LABEL_VALUE.test(labelValue);
  });
}

const WORKLOAD = /^(deployment|statefulset|daemonset|replicaset|job|cronjob|pod)\/(.*)$/;

export const VALUE_KINDS = {
  namespace: { what: "a namespace name, a DNS-1123 label such as kube-system", test: isDns1123Label },
  name: { what: "an object name, a DNS-1123 subdomain such as metrics-server-6d94bc8694-7xq2k", test: isDns1123Subdomain },
  // Existing Services' names are DNS-1035 labels (a letter first), which DNS-1123 accepts; DNS-1123 also takes the names
  // that RelaxedServiceNameValidation (KEP 5311) allows, so the looser rule is checked here.
  service: { what: "a Service name, a DNS-1123 label such as metrics-server", test: isDns1123Label },
  container: { what: "a container name, a DNS-1123 label such as kube-state-metrics", test: isDns1123Label },
  // Kubernetes does not restrict CertificateSigningRequest names beyond what a path segment can hold.
  csr: {
    what: "a CertificateSigningRequest name, without / or %",
    test: (value: string) => value.length <= 253 && !/[/%]/.test(value) && value !== "." && value !== "..",
  },
  apiservice: { what: "an APIService name, version.group such as v1beta1.metrics.k8s.io", test: isApiServiceName },
  group: { what: "an API group, a DNS-1123 subdomain such as metrics.k8s.io", test: isDns1123Subdomain },
  version: { what: "an API version, a DNS-1035 label such as v1beta1", test: isDns1035Label },
  resource: { what: "a resource, with its group or without, such as jobs.batch", test: isDns1123Subdomain },
  verb: { what: "an API verb such as list", test: rule("[a-z]+", 63) },
  workload: {
    what: "a workload, kind/name such as deployment/web",
    test: (value: string) => isDns1123Subdomain(WORKLOAD.exec(value)?.[2] ?? ""),
  },
  labelSelector: { what: "a label selector, key=value pairs such as app=web,tier=api", test: isEqualitySelector },
  labelValue: { what: "a label value such as v1.2.3", test: (value: string) => value.length <= 63 && LABEL_VALUE.test(value) },
  quantity: { what: "a resource quantity such as 512Mi or 250m", test: rule("[0-9]+(\\.[0-9]+)?([numkMGTPE]|[KMGTPE]i)?", 64) },
  number: { what: "a number such as 2", test: rule("[0-9]+(\\.[0-9]+)?", 32) },
  host: { what: "a node name or an IP address", test: (value: string) => isDns1123Subdomain(value) || isIP(value) !== 0 },
  azureResourceId: {
    what: "an Azure resource ID such as /subscriptions/ID/resourceGroups/GROUP/providers/Microsoft.Compute/...",
    test: rule("/subscriptions/[-A-Za-z0-9]+/resourceGroups/[-\\w.()]+/providers(/[-\\w.]+)+", 1024),
  },
  text: { what: "printable text of at most 1024 characters", test: (value: string) => value.length <= 1024 },
} satisfies Record<string, { what: string; test: (value: string) => boolean }>;

export type ValueKind = keyof typeof VALUE_KINDS;
const KIND_NAMES = Object.keys(VALUE_KINDS).join(", ");

/** Control characters (newlines among them), invisible formatting (bidi overrides, zero-width), lone surrogates. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}]/u;
/** A hyphen-minus, or a dash a person would read as one ("–server"). */
const LEADING_DASH = /^[-\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/;

function checkShellValue(value: string, kind: ValueKind, source: string): void {
  if (LEADING_DASH.test(value)) throw new RejectedValue(value, source, "begins with a dash, so the command would read it as an option");
  if (INVISIBLE.test(value)) throw new RejectedValue(value, source, "contains a control or invisible character");
  if (!VALUE_KINDS[kind].test(value)) throw new RejectedValue(value, source, `is not ${VALUE_KINDS[kind].what}`);
}

function shellValue(value: unknown, kind: ValueKind, slot: Slot, source: string): string {
  const values = Array.isArray(value)
    ? value.map(stringify)
    : [
        kind === "labelSelector" && isMap(value)
          ? Object.entries(value)
              .map(([k, v]) => `${k}=${stringify(v)}`)
              .join(",")
          : stringify(value),
      ];
  // Nothing to put in (a missing label read with orValue("")): the command does not apply, and is left out.
  if (values.length === 0 || values.includes("")) throw new TemplateError(`{{ ${source} }} has no value`);
  for (const v of values) checkShellValue(v, kind, source);
  const joined = values.join(",");
  switch (slot) {
    case "shellSingle":
      return joined.replace(/'/g, `'\\''`);
    case "heredoc":
      // A manifest: free text, or anything YAML could read as more than a plain string, goes in double quotes.
      return kind === "text" || !YAML_PLAIN.test(joined) ? yamlQuoted(joined) : joined;
    case "heredocQuoted":
      return yamlQuoted(joined).slice(1, -1);
    default:
      return shellWord(joined);
  }
}

/** A YAML plain scalar that is a string and nothing else (a name; no "key: ", "#", flow or block indicators). */
const YAML_PLAIN = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

/** One shell word: bare when plainly safe, else single-quoted. */
function shellWord(value: string): string {
  return SHELL_SAFE.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A YAML double-quoted scalar in ASCII: JSON's escapes, and \u / \U for everything beyond. */
function yamlQuoted(value: string): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code > 0xffff ? `\\U${code.toString(16).padStart(8, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** A value for a note: printable ASCII, at most 80 characters, single-quoted so that pasting it expands nothing. */
function printableQuoted(value: string): string {
  const chars = [...value];
  const shown = chars
    .slice(0, 80)
    .map((c) => (/^[\x20-\x7e]$/.test(c) ? c : `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`))
    .join("");
  return `'${`${shown}${chars.length > 80 ? "..." : ""}`.replace(/'/g, `'\\''`)}'`;
}

/** Where a value came from, in a note: "label name", "step backend_pods", "steps a, b". */
function origin(source: string): string {
  const label = /^alert\.labels\.\??([A-Za-z_][A-Za-z0-9_]*)/.exec(source)?.[1];
  if (label) return `label ${label}`;
  const steps = [...new Set(referencedSteps(source))];
  if (steps.length === 0) return "the rule";
  return `${steps.length === 1 ? "step" : "steps"} ${steps.join(", ")}`;
}

/** A long expression or template, shortened for an error message. */
function brief(text: string): string {
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

type Piece = { literal: string } | { source: string };

/**
 * Reads a PromQL template and says for each placeholder what it lands in. It must sit inside a double-quoted string,
 * where escaping makes any value inert; the string is a regex after =~ / !~ and as label_replace's fifth argument.
 */
function promqlSlots(pieces: Piece[], source: string): Slot[] {
  const slots: Slot[] = [];
  let quote: string | null = null;
  let stringSlot: Slot = "promqlString";
  let code = "";
  const calls: Array<{ name: string; argument: number }> = [];
  for (const piece of pieces) {
    if (!("literal" in piece)) {
      if (quote !== '"')
        throw new TemplateError(`placeholder {{ ${piece.source} }} in PromQL must be inside a "…" string literal: ${source}`);
      slots.push(stringSlot);
      continue;
    }
    const text = piece.literal;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (quote !== null) {
        if (ch === "\\" && quote !== "`") i++;
        else if (ch === quote) quote = null;
        continue;
      }
      if (ch === "#") {
        const end = text.indexOf("\n", i);
        i = end === -1 ? text.length : end;
      } else if (ch === '"' || ch === "'" || ch === "`") {
        quote = ch;
        const call = calls.at(-1);
        const before = code.trimEnd();
        if (before.endsWith("=~") || before.endsWith("!~")) stringSlot = "promqlRegex";
        else if (call?.name === "label_replace" && call.argument === 4) stringSlot = "promqlRegex";
        else if (call?.name === "label_replace" && call.argument === 2) stringSlot = "promqlReplacement";
        else stringSlot = "promqlString";
        code += " ";
      } else {
        if (ch === "(") calls.push({ name: /([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(code)?.[1] ?? "", argument: 0 });
        else if (ch === "{" || ch === "[") calls.push({ name: "", argument: 0 });
        else if (ch === ")" || ch === "}" || ch === "]") calls.pop();
        else if (ch === ",") {
          const call = calls.at(-1);
          if (call) call.argument++;
        }
        code += ch;
      }
    }
  }
  return slots;
}

interface Heredoc {
  delimiter: string;
  quoted: boolean;
  stripTabs: boolean;
}

/**
 * Reads a command template as the shell will read the command, and says for each placeholder where it lands: bare,
 * inside '…', or in a heredoc. A place where no escaping can make a value safe is refused when the rule is loaded:
 * inside "…" (where $ and ` expand), in a heredoc whose delimiter is not quoted, in a heredoc's delimiter, or where
 * the value could make a heredoc line equal to its delimiter.
 */
function shellSlots(pieces: Piece[]): Slot[] {
  const slots: Slot[] = [];
  type State = "word" | "single" | "double" | "comment" | "delimiter" | "heredoc";
  let state: State = "word";
  let wordStart = true;
  const pending: Heredoc[] = [];
  let heredoc: Heredoc | undefined;
  let line = "";
  let delimiter = { text: "", quoted: false, stripTabs: false, quote: "" };
  const refuse = (placeholder: string, where: string) => new TemplateError(`placeholder {{ ${brief(placeholder)} }} ${where}`);
  /** A new line: the next pending heredoc's body starts, if there is one. */
  const newline = (): State => {
    wordStart = true;
    heredoc = pending.shift();
    line = "";
    return heredoc ? "heredoc" : "word";
  };
  for (const piece of pieces) {
    if (!("literal" in piece)) {
      if (state === "double")
        throw refuse(piece.source, 'is inside "…" in a command, where $ and ` still expand: put it outside the quotes');
      if (state === "delimiter") throw refuse(piece.source, "is in a heredoc delimiter");
      if (state === "heredoc" && heredoc) {
        if (!heredoc.quoted) throw refuse(piece.source, "is in a heredoc whose delimiter is not quoted (write <<'EOF')");
        const sofar = heredoc.stripTabs ? line.replace(/^\t+/, "") : line;
        if (heredoc.delimiter.startsWith(sofar))
          throw refuse(piece.source, "could complete a heredoc line equal to its delimiter: put text before it on the line");
        slots.push((line.replace(/\\"/g, "").match(/"/g) ?? []).length % 2 === 1 ? "heredocQuoted" : "heredoc");
        line += "\u0000";
      } else slots.push(state === "single" ? "shellSingle" : "shellWord");
      wordStart = false;
      continue;
    }
    const text = piece.literal;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      switch (state) {
        case "single":
          if (ch === "'") state = "word";
          break;
        case "double":
          if (ch === "\\") i++;
          else if (ch === '"') state = "word";
          break;
        case "comment":
          if (ch === "\n") state = newline();
          break;
        case "heredoc":
          if (ch !== "\n") line += ch;
          else if (heredoc && (heredoc.stripTabs ? line.replace(/^\t+/, "") : line) === heredoc.delimiter) state = newline();
          else line = "";
          break;
        case "delimiter":
          if (delimiter.quote !== "") {
            if (ch === delimiter.quote) delimiter.quote = "";
            else delimiter.text += ch;
          } else if (ch === "'" || ch === '"') {
            delimiter.quote = ch;
            delimiter.quoted = true;
          } else if (ch === "\\") {
            delimiter.quoted = true;
            delimiter.text += text[++i] ?? "";
          } else if (/[ \t]/.test(ch) && delimiter.text === "" && !delimiter.quoted) {
            // blanks between << and the delimiter
          } else if (/[\s;&|()<>]/.test(ch)) {
            pending.push({ delimiter: delimiter.text, quoted: delimiter.quoted, stripTabs: delimiter.stripTabs });
            state = "word";
            i--;
          } else delimiter.text += ch;
          break;
        case "word":
          if (ch === "\\") {
            i++;
            wordStart = false;
          } else if (ch === "'") {
            state = "single";
            wordStart = false;
          } else if (ch === '"') {
            state = "double";
            wordStart = false;
          } else if (ch === "#" && wordStart) state = "comment";
          else if (ch === "\n") state = newline();
          else if (ch === "<" && text[i + 1] === "<" && text[i + 2] !== "<") {
            const stripTabs = text[i + 2] === "-";
            i += stripTabs ? 2 : 1;
            delimiter = { text: "", quoted: false, stripTabs, quote: "" };
            state = "delimiter";
          } else wordStart = /[ \t;&|()<>]/.test(ch);
          break;
      }
    }
  }
  return slots;
}
