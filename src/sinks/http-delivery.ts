// One HTTP request for a sink, sent once, and what came of it: a response, or a transport failure named in one place.
// Whether that is delivered, worth a retry or a failure is for the outcome table (outcome-table.ts) to say.
import axios from "axios";

export interface HttpRequest {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  maxResponseBytes: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Why no HTTP response came back. `invalid_url`: the configured URL is not http(s); `timeout`: nothing within the
 * timeout; `tls`: the TLS handshake failed (a certificate, or not TLS at all); `network`: refused, reset, DNS;
 * `bad_response`: an answer came but could not be read (too large, cut off).
 */
export type TransportFailureKind = "invalid_url" | "timeout" | "tls" | "network" | "bad_response";

export interface TransportFailure {
  kind: TransportFailureKind;
  /** A word on what went wrong for a person, built from error codes only. */
  text: string;
}

export type HttpExchange = { response: HttpResponse } | { transportFailure: TransportFailure };

/**
 * One attempt, no retries, no redirects (a redirect would carry the body or the credentials somewhere the operator
 * did not configure). The abort signal also covers a connect that never completes, which axios' own timeout does not
 * always see.
 */
export async function sendHttp(request: HttpRequest): Promise<HttpExchange> {
  const protocol = URL.canParse(request.url) ? new URL(request.url).protocol : "";
  if (protocol !== "https:" && protocol !== "http:") {
    return { transportFailure: { kind: "invalid_url", text: "the configured URL is not an http(s) URL" } };
  }
  try {
    const response = await axios.request<string>({
      method: request.method,
      url: request.url,
      data: request.body,
      headers: request.headers,
      timeout: request.timeoutMs,
      signal: AbortSignal.timeout(request.timeoutMs),
      validateStatus: () => true,
      maxRedirects: 0,
      maxContentLength: request.maxResponseBytes,
      responseType: "text",
      transformResponse: (data: unknown) => data,
    });
    return {
      response: { status: response.status, headers: response.headers, body: typeof response.data === "string" ? response.data : "" },
    };
  } catch (error) {
    return { transportFailure: describeTransportFailure(error, request.timeoutMs) };
  }
}

/** OpenSSL's and Node's names for a handshake or certificate failure; EPROTO is what a non-TLS answer to TLS gives. */
const TLS_ERROR =
  /^(EPROTO|ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)/;

/**
 * Axios and Node put the request URL (and so a webhook token) into some error messages and into the error object's
 * config, so only the error code is kept.
 */
export function describeTransportFailure(error: unknown, timeoutMs: number): TransportFailure {
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
  const name = error instanceof Error ? error.name : undefined;
  if (code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED" || name === "TimeoutError" || name === "CanceledError") {
    return { kind: "timeout", text: `no response within ${timeoutMs} ms` };
  }
  if (code === "ERR_FR_MAX_BODY_LENGTH_EXCEEDED" || code === "ERR_BAD_RESPONSE") {
    return { kind: "bad_response", text: "response too large or malformed" };
  }
  if (code !== undefined && TLS_ERROR.test(code)) return { kind: "tls", text: `TLS handshake failed (${code})` };
  return { kind: "network", text: code !== undefined ? `connection failed (${code})` : "connection failed" };
}

/** The scheme and host only: a webhook URL's path is its token. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}

/** Replaces every secret of four characters or more; shorter strings would mask ordinary words. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let safe = text;
  for (const secret of secrets) {
    if (secret.length >= 4) safe = safe.split(secret).join("[redacted]");
  }
  return safe;
}

const SERVICE_TEXT_MAX = 500;

/**
 * Text a remote service sent back, made safe to store and log: secrets it might echo are masked,
 * control characters are flattened and the length is bounded.
 */
export function serviceText(text: string, secrets: readonly string[]): string {
  const masked = maskSecrets(text, secrets);
  // eslint-disable-next-line no-control-regex -- flattening control characters is the point here
  const safe = masked.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return safe.length > SERVICE_TEXT_MAX ? `${safe.slice(0, SERVICE_TEXT_MAX)}…` : safe;
}
