// A list's continue token as the API server's storage writes and reads it (storage.EncodeContinue/DecodeContinue).
import { KubeError } from "./api-errors.ts";
import { isRecord } from "./json-paths.ts";

export const CONTINUE_TOO_OLD =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

/** storage.EncodeContinue: JSON in unpadded URL-safe base64. */
export function encodeContinue(rv: number, lastKey: string): string {
  const token: ContinueToken = { v: "meta.k8s.io/v1", rv, start: `${lastKey}\u0000` };
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

/** The key the previous page ended on; like etcd, the token holds the key just after it (key + NUL). */
export function lastKeyOf(token: ContinueToken): string {
  return token.start.endsWith("\u0000") ? token.start.slice(0, -1) : token.start;
}

/** Where base64.RawURLEncoding stops reading `text`, if it does: the first byte outside its alphabet, or a lone last one. */
function base64Problem(text: string): number | undefined {
  let count = 0;
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === "\n" || ch === "\r") continue;
    if (!/[A-Za-z0-9_-]/.test(ch)) return i;
    count++;
    last = i;
  }
  return count % 4 === 1 ? last : undefined;
}

/** storage.DecodeContinue, with ValidateListOptions' 400 for a token it cannot read. */
export function decodeContinue(text: string): ContinueToken {
  const invalid = (why: string) => new KubeError(400, `invalid continue token: continue key is not valid${why}`);
  const badByte = base64Problem(text);
  if (badByte !== undefined) throw invalid(`: illegal base64 data at input byte ${badByte}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    // The real server quotes Go's JSON syntax error here; the fake says it in its own words.
    throw invalid(": the token is not JSON");
  }
  if (!isRecord(parsed) || typeof parsed.rv !== "number" || typeof parsed.start !== "string") throw invalid("");
  if (parsed.v !== "meta.k8s.io/v1") throw invalid(`: server does not recognize this encoded version ${String(parsed.v)}`);
  if (parsed.rv === 0) throw invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  if (parsed.start === "") throw invalid(": encoded start key empty (version meta.k8s.io/v1)");
  return { v: parsed.v, rv: parsed.rv, start: parsed.start };
}
