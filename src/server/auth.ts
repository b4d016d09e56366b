// Checks the credentials Alertmanager sends (http_config.authorization or basic_auth), in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Comparing fixed-length digests keeps the time independent of where, or whether, the strings differ. */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export type AuthCheck = (authorizationHeader: string | undefined) => boolean;

export function createAuthCheck(auth: Config["auth"]): AuthCheck {
  switch (auth.kind) {
    case "none":
      return () => true;
    case "bearer": {
      const expected = `Bearer ${auth.token}`;
      return (header) => header !== undefined && sameSecret(header.replace(/^bearer /i, "Bearer "), expected);
    }
    case "basic": {
      const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`, "utf8").toString("base64")}`;
      return (header) => header !== undefined && sameSecret(header.replace(/^basic /i, "Basic "), expected);
    }
  }
}

export function challengeFor(auth: Config["auth"]): string | undefined {
  if (auth.kind === "bearer") return 'Bearer realm="alert-enricher"';
  if (auth.kind === "basic") return 'Basic realm="alert-enricher"';
  return undefined;
}
