// Signed, expiring report links: a token is base64url(expiry + HMAC-SHA256(id + expiry)), checked in constant time.
import { createHmac, timingSafeEqual } from "node:crypto";

/** The notification id a list token is signed for: it opens /reports, not one report. */
export const LIST_TOKEN_ID = "*";

/**
 * What a storm page's token is signed for. Notification ids never start with "storm:", so a report's token cannot open
 * a storm page and a storm's cannot open a report.
 */
export function stormTokenId(stormId: string): string {
  return `storm:${stormId}`;
}

const EXPIRY_BYTES = 8;
const MAC_BYTES = 32;

function mac(notificationId: string, expirySeconds: number, secret: string): Buffer {
  return createHmac("sha256", secret).update(`${notificationId}\n${expirySeconds}`).digest();
}

export function signReportToken(notificationId: string, expiresAt: Date, secret: string): string {
  const expirySeconds = Math.floor(expiresAt.getTime() / 1000);
  const expiry = Buffer.alloc(EXPIRY_BYTES);
  expiry.writeBigUInt64BE(BigInt(expirySeconds));
  return Buffer.concat([expiry, mac(notificationId, expirySeconds, secret)]).toString("base64url");
}

export type TokenCheck = "valid" | "invalid" | "expired";

/** Whether `token` was signed with `secret` for `notificationId` and has not expired at `now`. */
export function verifyReportToken(token: string | undefined, notificationId: string, secret: string, now: Date = new Date()): TokenCheck {
  if (token === undefined || !/^[A-Za-z0-9_-]+$/.test(token)) return "invalid";
  const bytes = Buffer.from(token, "base64url");
  if (bytes.length !== EXPIRY_BYTES + MAC_BYTES) return "invalid";
  const expirySeconds = Number(bytes.readBigUInt64BE(0));
  if (!Number.isSafeInteger(expirySeconds)) return "invalid";
  const expected = mac(notificationId, expirySeconds, secret);
  if (!timingSafeEqual(bytes.subarray(EXPIRY_BYTES), expected)) return "invalid";
  return expirySeconds * 1000 > now.getTime() ? "valid" : "expired";
}

/** When a well-formed token says it expires (not checked: call verifyReportToken first). */
export function reportTokenExpiry(token: string): Date | undefined {
  const bytes = Buffer.from(token, "base64url");
  if (bytes.length !== EXPIRY_BYTES + MAC_BYTES) return undefined;
  return new Date(Number(bytes.readBigUInt64BE(0)) * 1000);
}

export interface ReportLinkOptions {
  publicUrl?: string;
  secret?: string;
  ttlHours: number;
  now?: () => Date;
}

/** `path` under the public URL with a token signed for `tokenId`, or undefined when reports are disabled. */
function signedLink(options: ReportLinkOptions, path: string, tokenId: string): string | undefined {
  if (!options.publicUrl || !options.secret) return undefined;
  const now = options.now?.() ?? new Date();
  const token = signReportToken(tokenId, new Date(now.getTime() + options.ttlHours * 3_600_000), options.secret);
  return `${options.publicUrl.replace(/\/+$/, "")}${path}?token=${token}`;
}

/** The report URL with its token, or undefined when reports are disabled (no secret or no public URL). */
export function reportLinkFor(options: ReportLinkOptions) {
  return (notificationId: string): string | undefined =>
    signedLink(options, `/reports/${encodeURIComponent(notificationId)}`, notificationId);
}

/** The storm page's URL with its token (signed like a report's, for `storm:<id>`), or undefined when reports are disabled. */
export function stormLinkFor(options: ReportLinkOptions) {
  return (stormId: string): string | undefined =>
    signedLink(options, `/reports/storms/${encodeURIComponent(stormId)}`, stormTokenId(stormId));
}
