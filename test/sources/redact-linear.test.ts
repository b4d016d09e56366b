// Issue #11 item 2: one hostile pod-log line used to hold the event loop for seconds (the redaction regexes were
// quadratic: 1.1 s for a 40 KB line, /healthz unanswered for 10.6 s with a 120 KiB one). Every shape here must now
// take milliseconds at 1 MiB, the largest line a log read allows; each is tried at 64 KiB first, so a quadratic
// pattern fails in seconds rather than hanging the run. Bounds are generous: CI machines are shared.
import { describe, expect, it } from "vitest";
import { EXCERPT_CHARS, excerptOf, MATCH_CHARS, scanLog } from "../../src/sources/logs.ts";
import { redact, redactOutput } from "../../src/sources/redact.ts";
import { adversarialLines, eventList, podList, shippedLogPatterns } from "../support/redaction-inputs.ts";

const KIB = 1024;
const MIB = 1024 * KIB;
const BOUND_MS = 200;

function elapsed(work: () => unknown): number {
  const started = performance.now();
  work();
  return performance.now() - started;
}

const SHAPES = adversarialLines(64 * KIB).map((small, i) => ({ name: small.name, small: small.line, i }));
const large = adversarialLines(MIB);

describe("redaction and log scanning on hostile lines", () => {
  it.each(SHAPES.map((s) => [s.name, s]))("redacts a 1 MiB line of %s in milliseconds", (_name, shape) => {
    expect(
      elapsed(() => redact(shape.small)),
      "at 64 KiB",
    ).toBeLessThan(BOUND_MS);
    const line = large[shape.i]?.line ?? "";
    expect(line.length).toBeGreaterThan(MIB - 64);
    expect(
      elapsed(() => redact(line)),
      "at 1 MiB",
    ).toBeLessThan(BOUND_MS);
  });

  it.each(SHAPES.map((s) => [s.name, s]))(
    "scans a log of 1 MiB lines of %s with every shipped pattern, and excerpts them, in milliseconds",
    (_name, shape) => {
      const patterns = { ...shippedLogPatterns(), unauthorized: "Unauthorized", any: "." };
      const scanOf = (line: string) => () => scanLog(`${line}\nE1123 Unauthorized ${line}\n${line}\n`, patterns, 3);
      expect(elapsed(scanOf(shape.small)), "at 64 KiB").toBeLessThan(BOUND_MS);
      let result: ReturnType<typeof scanLog> | undefined;
      const ms = elapsed(() => (result = scanOf(large[shape.i]?.line ?? "")()));
      expect(ms, "at 1 MiB").toBeLessThan(BOUND_MS);
      expect(result?.lines).toBe(3);
      expect(result?.matches.any).toBe(3);
      for (const excerpt of result?.excerpts ?? []) expect(excerpt.line.length).toBeLessThanOrEqual(500 + "… (truncated)".length);
    },
  );

  it(`matches a playbook's pattern against the first ${MATCH_CHARS} characters of a line, so a backtracking one costs at most that`, () => {
    // \w+=\w+; is quadratic on a run of word characters: over a whole 1 MiB line it would take minutes.
    const slow = { slow: String.raw`\w+=\w+;` };
    expect(
      elapsed(() => scanLog("a".repeat(64 * KIB), slow, 3)),
      "at 64 KiB",
    ).toBeLessThan(BOUND_MS);
    let result: ReturnType<typeof scanLog> | undefined;
    expect(
      elapsed(() => (result = scanLog("a".repeat(MIB), slow, 3))),
      "at 1 MiB",
    ).toBeLessThan(BOUND_MS);
    expect(result?.matches.slow).toBe(0);
    const late = `${"x ".repeat(MATCH_CHARS)} Unauthorized`;
    const early = `Unauthorized ${"x ".repeat(MATCH_CHARS)}`;
    expect(scanLog(`${late}\n${early}\n`, { unauthorized: "Unauthorized" }, 3).matches.unauthorized).toBe(1);
  });

  it("redacts a 500-Pod and a 500-Event list in milliseconds", () => {
    const pods = { data: { items: podList(500), count: 500 }, request: "GET /api/v1/pods?limit=500", summary: "500 Pods" };
    const events = { data: { items: eventList(500), count: 500 }, request: "GET /api/v1/events?limit=500", summary: "500 Events" };
    let redacted: ReturnType<typeof redactOutput> | undefined;
    expect(elapsed(() => (redacted = redactOutput(pods)))).toBeLessThan(BOUND_MS);
    expect(JSON.stringify(redacted)).not.toContain("hunter2");
    expect(JSON.stringify(redacted)).not.toContain("tok_0123456789abcdef0123");
    expect(elapsed(() => (redacted = redactOutput(events)))).toBeLessThan(BOUND_MS);
    expect(JSON.stringify(redacted)).not.toContain("8f14e45fceea167a5a36dedd4bea2543");
  });
});

// A line longer than EXCERPT_CHARS is cut before it is redacted. A credential the cut goes through must not show its
// first half: a half JWT or "Bearer abc" is too short for its pattern, so the word the cut went through is dropped,
// and a credential recognised by what precedes it is redacted to the end of what is left.
describe("excerpts of long lines", () => {
  /** Collapses to "Authorization: Bearer [REDACTED]" and so brings what follows into the 500 characters shown. */
  const COLLAPSING = `Authorization: Bearer ${"A1".repeat(860)} `;
  const JWT_TEXT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXBhcnQtdGhhdC1pcy1sb25n";

  it.each([
    // [what, the text, where the credential starts in it, the characters that must never show]
    ["a JWT", `token ${JWT_TEXT}`, "ey"],
    ["a Bearer token", "retry with Bearer Zq9abcdef0123456789", "Zq"],
    ["a Basic credential", "sent Basic ZqFsYWRkaW46b3BlbnNlc2FtZQ==", "Zq"],
    ["password=", "login password=Zq9hunter2-and-more", "Zq"],
    ['a JSON "password" with spaces', '{"password": "Zq nine words of a long pass phrase"}', "Zq"],
    ["an AWS key id", "key AKIAIOSFODNN7EXAMPLE", "AK"],
    ["a GitHub token", "clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a", "gh"],
    ["a Slack token", "post with xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xo"],
    ["a URL password", "dial postgres://app:Zq9secret-pw@db:5432/app", "Zq"],
    ["a Cookie header", "Cookie: session=Zq9abcdef; theme=dark", "Zq"],
    ["a Digest header", 'Authorization: Digest username="admin", response="Zq9ae49393a05397450978507c4ef1"', "Zq"],
    ["a private key", "-----BEGIN RSA PRIVATE KEY-----MIIEpAIBAAKCAQEA7b9Qz0123456789", "MI"],
  ])("never shows the first characters of %s the cut goes through", (_what, text, mark) => {
    const start = text.indexOf(mark);
    expect(start).toBeGreaterThanOrEqual(0);
    for (let inside = 1; inside < text.length - start; inside++) {
      // The cut at EXCERPT_CHARS falls `inside` characters into the credential.
      const fill = EXCERPT_CHARS - COLLAPSING.length - start - inside;
      expect(fill).toBeGreaterThan(0);
      const line = `${COLLAPSING}${"ok ".repeat(fill).slice(-fill)}${text} and then more ${"z".repeat(EXCERPT_CHARS)}`;
      expect(line.slice(0, EXCERPT_CHARS).endsWith(text.slice(0, start + inside))).toBe(true);
      const excerpt = excerptOf(line);
      expect(excerpt, `cut ${inside} characters in`).not.toContain(mark);
      expect(excerpt).toMatch(/… \(truncated\)$/);
    }
  });

  it("keeps a long line's first 500 characters and marks it truncated", () => {
    const line = `E1123 09:41:08.201771 1 reflector.go:147] failed to list *v1.Pod: Unauthorized ${"and so on ".repeat(MIB / 10)}`;
    expect(excerptOf(line)).toBe(`${line.slice(0, 500)}… (truncated)`);
    expect(excerptOf("short line, password=hunter2")).toBe("short line, password=[REDACTED]");
  });

  it("shows nothing of one word that runs past the cut, since nothing tells whether it is a credential", () => {
    const line = `E1123 09:41:08.201771 1 reflector.go:147] failed to list *v1.Pod: Unauthorized ${"x".repeat(MIB)}`;
    expect(excerptOf(line)).toBe("E1123 09:41:08.201771 1 reflector.go:147] failed to list *v1.Pod: Unauthorized … (truncated)");
  });
});
