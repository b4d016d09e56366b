// What the HTTP sinks share: one bounded POST with axios, Retry-After parsing, and error text that cannot carry a secret.
import axios, { type AxiosResponse } from "axios";

export type PostResult =
  | { response: AxiosResponse<string> }
  /** No HTTP response came back: a word on what went wrong, built from error codes only. */
  | { transportError: string; retryable: boolean };

/**
 * One attempt, no retries, no redirects (a redirect would send the body somewhere the operator did not configure).
 * The abort signal also covers a connect that never completes, which axios' own timeout does not always see.
 */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<PostResult> {
  const protocol = URL.canParse(url) ? new URL(url).protocol : "";
  if (protocol !== "https:" && protocol !== "http:") {
    // A configuration mistake: retrying cannot fix it.
    return { transportError: "the configured URL is not an http(s) URL", retryable: false };
  }
  try {
    const response = await axios.post<string>(url, JSON.stringify(body), {
      headers: { "Content-Type": "application/json; charset=utf-8", Accept: "application/json, text/plain" },
      timeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      validateStatus: () => true,
      maxRedirects: 0,
      maxContentLength: 64 * 1024,
      responseType: "text",
      transformResponse: (data: unknown) => data,
    });
    return { response };
  } catch (error) {
    return { transportError: describeTransportError(error, timeoutMs), retryable: true };
  }
}

/**
 * Axios and Node put the request URL (and so the Slack webhook token) into some error messages and into the error
 * object's config, so only the error code is kept.
 */
export function describeTransportError(error: unknown, timeoutMs: number): string {
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
  const name = error instanceof Error ? error.name : undefined;
  if (code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED" || name === "TimeoutError" || name === "CanceledError") {
    return `no response within ${timeoutMs} ms`;
  }
  if (code === "ERR_FR_MAX_BODY_LENGTH_EXCEEDED" || code === "ERR_BAD_RESPONSE") return "response too large or malformed";
  return code !== undefined ? `connection failed (${code})` : "connection failed";
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 10.2.3); anything else is ignored. */
export function retryAfterMs(header: unknown, now: number = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The scheme and host only: a webhook URL's path is its token. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

const SERVICE_TEXT_MAX = 500;

/**
 * Text a remote service sent back, made safe to store and log: secrets it might echo are masked,
 * control characters are flattened and the length is bounded.
 */
export function serviceText(text: string, secrets: string[]): string {
  let safe = text;
  for (const secret of secrets) {
    if (secret.length >= 4) safe = safe.split(secret).join("[redacted]");
  }
  // eslint-disable-next-line no-control-regex -- flattening control characters is the point here
  safe = safe.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return safe.length > SERVICE_TEXT_MAX ? `${safe.slice(0, SERVICE_TEXT_MAX)}…` : safe;
}
