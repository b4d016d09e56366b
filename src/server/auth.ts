// Checks the credentials Alertmanager sends (http_config.authorization or basic_auth), in constant time.
import { hash, timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";

function digest(value: string): Buffer {
  return hash("sha256", value, "buffer");
}

/**
 * Comparing fixed-length digests keeps the time independent of where, or whether, the strings differ. The expected
 * secret's digest is taken once, not on every request.
 */
function sameSecretAs(expected: string): (given: string) => boolean {
  const expectedDigest = digest(expected);
  return (given) => timingSafeEqual(digest(given), expectedDigest);
}

export type AuthCheck = (authorizationHeader: string | undefined) => boolean;

export function createAuthCheck(auth: Config["auth"]): AuthCheck {
  switch (auth.kind) {
    case "none":
      return () => true;
    case "bearer": {
      const matches = sameSecretAs(`Bearer ${auth.token}`);
      return (header) => header !== undefined && matches(header.replace(/^bearer /i, "Bearer "));
    }
    case "basic": {
      const matches = sameSecretAs(`Basic ${Buffer.from(`${auth.user}:${auth.password}`, "utf8").toString("base64")}`);
      return (header) => header !== undefined && matches(header.replace(/^basic /i, "Basic "));
    }
  }
}

export function challengeFor(auth: Config["auth"]): string | undefined {
  if (auth.kind === "bearer") return 'Bearer realm="alert-enricher"';
  if (auth.kind === "basic") return 'Basic realm="alert-enricher"';
  return undefined;
}
