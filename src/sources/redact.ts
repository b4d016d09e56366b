// Removes credentials from text taken out of a cluster before it is stored or forwarded anywhere. The engine passes
// every source's output through redactOutput (src/engine/run-playbook.ts), so pod logs, Kubernetes objects and
// Events, audit rows and Prometheus label values are all redacted in one place, whichever source read them.
//
// Every pattern runs in time linear in the text, however hostile (issue #11: one quadratic pattern on a 120 KiB log
// line held the event loop for 10 s). Each pattern starts only at a literal or after a one-character lookbehind, so
// the regex engine cannot restart inside a run it has already scanned; every repeated part is one character class,
// and what follows it is a character that class excludes, so a failed attempt gives back at most its own run. No
// lazy prefix, no \b before a run that can hold the pattern's own start. test/sources/redact-linear.test.ts holds
// 1 MiB lines of each adversarial shape to milliseconds; bench/redact.ts measures them.
import type { SourceOutput } from "./source.ts";

/** What String.prototype.replace passes: the match, then each group (undefined when it did not take part), offset, text. */
type Replacer = (match: string, ...groups: Array<string | undefined>) => string;

/** Does a value after a generic word ("token: …", "Bearer …") look generated rather than like prose? */
function looksLikeSecret(value: string): boolean {
  return value.length >= 16 || /\d/.test(value) || /[a-z][A-Z]/.test(value);
}

/** A Kubernetes object name of several words (default-token-abcde, bootstrap-token-07401b), not a UUID. */
function looksLikeObjectName(value: string): boolean {
  return /^[a-z0-9]+(?:[-.][a-z0-9]+)+$/.test(value) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
}

const REDACTED = "[REDACTED]";

/**
 * A quoted value, to its closing quote (past escaped ones) or, cut off, to the end of the line: "two words" goes whole.
 * In JSON inside a JSON string (\"password\":\"…\") the value ends at the backslash of its escaped closing quote.
 */
const VALUE_IN_DOUBLE_QUOTES = String.raw`"((?:[^"\\\r\n]|\\[^\r\n])*)`;
const VALUE_IN_SINGLE_QUOTES = String.raw`'((?:[^'\\\r\n]|\\[^\r\n])*)`;
const VALUE_IN_ESCAPED_QUOTES = String.raw`\\"([^"\\\r\n]*)`;

/** Words that name a credential whatever the value looks like. */
const STRICT_KEYS = String.raw`passw(?:or)?d|passphrase|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|(?:access|refresh|auth|id|session|bearer|api|bot)[_-]?token`;
/** Words that also occur in prose ("failed to fetch token: rpc error"): the value must look generated. */
const GENERIC_KEYS = String.raw`token|secret|credentials?|pwd`;
const GENERIC_KEY = new RegExp(`^(?:${GENERIC_KEYS})$`, "i");
const NOT_A_SECRET = /^(?:true|false|null|nil|none|undefined|\[REDACTED.*)$/i;

const keyValue: Replacer = (match, key, _keyQuote, ...values) => {
  const [escaped, doubleQuoted, singleQuoted, unquoted] = values;
  const value = escaped ?? doubleQuoted ?? singleQuoted ?? unquoted;
  if (!value || NOT_A_SECRET.test(value)) return match;
  if (GENERIC_KEY.test(key ?? "")) {
    // secret="default-token-abcde" (kube-state-metrics' kube_secret_info) names a Secret, it does not hold one.
    if (looksLikeObjectName(value)) return match;
    if (unquoted !== undefined && !looksLikeSecret(value)) return match;
  }
  // Everything up to the value stays, so the line still says which setting it was.
  return match.slice(0, match.length - value.length) + REDACTED;
};

const authorization: Replacer = (match, header, separator, digest, scheme, value) => {
  if (digest !== undefined) return `${header}${separator}${digest} ${REDACTED}`;
  if (value === undefined || (scheme === undefined && !looksLikeSecret(value))) return match;
  return `${header}${separator}${scheme ?? ""}${REDACTED}`;
};

const RULES: Array<[RegExp, string | Replacer]> = [
  // A PEM private key, up to its end line or, cut off by a log tail or an excerpt, to the end of the text.
  [
    /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----|$)/g,
    "[REDACTED private key]",
  ],
  // The Authorization header whatever its scheme (Bearer, Basic, Token, Digest with its quoted fields, …).
  [
    /(?<![\w-])((?:proxy-)?authorization)(\\?["']?[ \t]*[:=][ \t]*\\?["']?)(?:(digest)[ \t]+[^\r\n]*|((?:bearer|basic|token|negotiate|ntlm|apikey|key|sso-key|splunk)[ \t]+)?([^\s"'\\,;{[][^\s"'\\,;]*))/gi,
    authorization,
  ],
  // Cookie and Set-Cookie: every name=value pair after the header, to the end of the line or the closing quote.
  [/(?<![\w-])((?:set-)?cookie)(\\?["']?[ \t]*[:=][ \t]*\\?["']?)[^\s"'\\{[=;:]+=[^\r\n"'\\]*/gi, `$1$2${REDACTED}`],
  // user:password@ in a URL (redis://:password@ has no user).
  [/(:\/\/)[^/\s:@]*:[^/\s@]+@/g, `$1${REDACTED}@`],
  [/hooks\.slack\.com\/(services|workflows|triggers)\/[A-Za-z0-9/]+/g, `hooks.slack.com/$1/${REDACTED}`],
  [/(?<![\w-])eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g, "[REDACTED jwt]"],
  [/(?<![\w-])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}/g, "[REDACTED slack token]"],
  [/(?<![A-Za-z0-9_])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9_])/g, "[REDACTED aws key]"],
  [/(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})/g, "[REDACTED github token]"],
  [/(?<![\w-])gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-[\w-]{20,}/g, "[REDACTED gitlab token]"],
  [/(?<![\w-])AIza[\w-]{35,}/g, "[REDACTED google api key]"],
  // A bare "Bearer …" or "Basic …" outside a header, when what follows looks generated ("Bearer token" stays).
  [
    /(?<![\w-])(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})/gi,
    (match, scheme, space, value) => (value !== undefined && looksLikeSecret(value) ? `${scheme}${space}${REDACTED}` : match),
  ],
  // key=value, key: value, "key": "value with spaces", key="…": the key ends in a credential word, its prefix is
  // free (client_secret, DB_PASSWORD, spring.datasource.password). Not a Kubernetes type: client-go logs
  // "failed to list *v1.Secret: Unauthorized", where the error is no secret.
  [
    new RegExp(
      String.raw`(?<!(?<![\w-])v\d{1,3}(?:(?:alpha|beta)\d{1,3})?\.)(${STRICT_KEYS}|${GENERIC_KEYS})` +
        // A quoted key takes only a quoted value: "aws-iam-token" : failed to … is a Go message, not JSON.
        String.raw`(?:(\\?["'])\s*[:=]\s*(?=\\?["'])|\s*[:=]\s*)` +
        String.raw`(?:${VALUE_IN_ESCAPED_QUOTES}|${VALUE_IN_DOUBLE_QUOTES}|${VALUE_IN_SINGLE_QUOTES}|([^\s"',;&}{[\\][^\s"',;&}]*))`,
      "gi",
    ),
    keyValue,
  ],
];

/** Any text that holds a credential contains one of these; the others skip every rule. */
const MAY_HOLD_A_SECRET =
  /-----BEGIN|authoriz|cookie|:\/\/|hooks\.slack|eyJ|xox|xapp|AKIA|ASIA|gh[pousr]_|github_pat|gl(?:pat|dt|rt|ptt|cbt|oas|soat|ft|imt)-|AIza|bearer|basic|pass|pwd|secret|token|key|credential/i;

export function redact(text: string): string {
  if (!MAY_HOLD_A_SECRET.test(text)) return text;
  let result = text;
  for (const [pattern, replacement] of RULES) {
    result = typeof replacement === "string" ? result.replace(pattern, replacement) : result.replace(pattern, replacement);
  }
  return result;
}

/** An environment variable (or header) whose name says it holds a credential: `{ name: "DB_PASSWORD", value: … }`. */
const SECRET_NAME =
  /(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization|cookie)$/i;

/**
 * Every string in a JSON value redacted; object keys are kept. Returns the value itself when nothing changed, and
 * copies only the objects and arrays on the way to a change, so a 500-object list costs one walk and few copies.
 */
export function redactDeep<T>(value: T): T {
  return walk(value, new Map()) as T;
}

/** Lists repeat their strings (image names, mount paths, env names): each distinct short one is redacted once. */
const CACHED_UP_TO = 1024;

function walk(value: unknown, seen: Map<string, string>): unknown {
  if (typeof value === "string") {
    if (value.length > CACHED_UP_TO) return redact(value);
    let redacted = seen.get(value);
    if (redacted === undefined) seen.set(value, (redacted = redact(value)));
    return redacted;
  }
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const redacted = walk(item, seen);
      if (redacted !== item) (copy ??= value.slice())[i] = redacted;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const item = record[key];
    const redacted = walk(item, seen);
    if (redacted !== item) (copy ??= { ...record })[key] = redacted;
  }
  const out = copy ?? record;
  if (typeof out.name === "string" && typeof out.value === "string" && out.value !== "" && SECRET_NAME.test(out.name)) {
    if (!out.value.startsWith("[REDACTED")) return { ...out, value: REDACTED };
  }
  return out;
}

const redactedOutputs = new WeakMap<SourceOutput, SourceOutput>();

/**
 * A source's output with every string from the cluster redacted: its data and summary. Shared reads hand the same
 * output to every playbook that asked, so each output is redacted once and the result reused.
 */
export function redactOutput(output: SourceOutput): SourceOutput {
  const known = redactedOutputs.get(output);
  if (known) return known;
  const data = redactDeep(output.data);
  const summary = redact(output.summary);
  const result = data === output.data && summary === output.summary ? output : { ...output, data, summary };
  redactedOutputs.set(output, result);
  return result;
}
