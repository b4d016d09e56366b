// Tests for the pieces the HTTP sinks share: Retry-After parsing, origins and masking of echoed secrets.
import { describe, expect, it } from "vitest";
import { originOf, retryAfterMs, serviceText } from "../../src/sinks/http-delivery.ts";

describe("retryAfterMs", () => {
  it.each([
    ["7", 7000],
    ["0", 0],
    ["1.5", 1500],
    [["3"], 3000],
  ])("reads delay-seconds %j as %i ms", (header, expected) => {
    expect(retryAfterMs(header)).toBe(expected);
  });

  it("reads an HTTP date as the time left until then", () => {
    const now = Date.parse("2026-08-20T10:00:00Z");
    expect(retryAfterMs("Thu, 20 Aug 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Thu, 20 Aug 2026 09:00:00 GMT", now)).toBe(0);
  });

  it.each([[undefined], [""], ["soon"], [-1]])("ignores %j", (header) => {
    expect(retryAfterMs(header)).toBeUndefined();
  });
});

describe("originOf", () => {
  it("keeps scheme and host and drops the path, query and credentials", () => {
    expect(originOf("https://user:pw@hooks.slack.com/services/T1/B2/secret?x=1")).toBe("https://hooks.slack.com");
  });
});

describe("serviceText", () => {
  it("masks secrets, flattens control characters and bounds the length", () => {
    expect(serviceText("bad key abcd1234\nretry", ["abcd1234"])).toBe("bad key [redacted] retry");
    expect(serviceText("x".repeat(2000), []).length).toBeLessThanOrEqual(501);
  });
});
