// Tests for the parts of the outcome table no stand-in reaches: Retry-After in both its forms, and each API's
// rate-limit headers. The table itself is run against every sink in sink-outcomes.test.ts.
import { describe, expect, it } from "vitest";
import { judge, retryAfterMs, type ServiceApi } from "../../src/sinks/outcome-table.ts";

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

describe("judge", () => {
  const api: ServiceApi = {
    read: ({ status }) => ({ accepted: status === 202 }),
    rateLimitWaitMs: 60_000,
    rateLimitResetHeaders: ["ratelimit-reset"],
  };
  const call = { what: "Example API at https://api.example.com", secrets: ["s3cr3t-token"] };
  const answer = (status: number, headers: Record<string, string> = {}, body = "") => ({ response: { status, headers, body } });

  it("prefers Retry-After to the API's own rate-limit header, and that to the API's advice", () => {
    expect(judge(answer(429, { "retry-after": "2", "ratelimit-reset": "9" }), api, call)).toMatchObject({
      outcome: { retryAfterMs: 2000 },
    });
    expect(judge(answer(429, { "ratelimit-reset": "9" }), api, call)).toMatchObject({ outcome: { retryAfterMs: 9000 } });
    expect(judge(answer(429), api, call)).toMatchObject({ outcome: { retryAfterMs: 60_000 } });
  });

  it("reads the API's rate-limit header only on a rate limit, and Retry-After on any retry", () => {
    expect(judge(answer(500, { "ratelimit-reset": "9" }), api, call)).toEqual({
      delivered: false,
      outcome: { status: "retry", code: "http_500", error: "Example API at https://api.example.com failed: HTTP 500" },
    });
    expect(judge(answer(503, { "retry-after": "4" }), api, call)).toMatchObject({ outcome: { status: "retry", retryAfterMs: 4000 } });
  });

  it("does not follow a redirect and fails it, since the configured URL is wrong", () => {
    expect(judge(answer(301, { location: "https://elsewhere.example.com" }), api, call)).toMatchObject({
      outcome: { status: "failed", code: "http_301" },
    });
  });

  it("masks the call's secrets in what the service said", () => {
    const judged = judge(
      answer(400, {}, "unknown token s3cr3t-token"),
      { ...api, read: ({ body }) => ({ accepted: false, said: body }) },
      call,
    );
    expect(judged).toMatchObject({
      outcome: { error: "Example API at https://api.example.com refused the request: HTTP 400 unknown token [redacted]" },
    });
  });
});
