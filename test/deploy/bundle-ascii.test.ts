// docker/build-bundle.ts (npm run build) writes the bundle in ASCII (Node keeps an ASCII module's source at half the memory); escaping what
// esbuild leaves as written must not change what a regex matches.
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { asciiOnly } from "../../docker/build-bundle.ts";

/** Evaluates `source` (a regex literal) after asciiOnly, and tests it against `input`. */
const matchesAfter = (source: string, input: string) => {
  const escaped = asciiOnly(source);
  expect(escaped).toMatch(/^[\x20-\x7e]*$/);
  return (runInNewContext(escaped) as RegExp).test(input);
};

describe("asciiOnly", () => {
  it("keeps what a regex literal matches, with and without the u flag", () => {
    expect(matchesAfter("/(\\d+)(ns|µs|ms)$/", "5µs")).toBe(true);
    expect(matchesAfter("/(\\d+)(ns|µs|ms)$/", "5us")).toBe(false);
    expect(matchesAfter("/&[a-z]{0,3}…$/", "&am…")).toBe(true);
    expect(matchesAfter("/[–—]/u", "a—b")).toBe(true);
    expect(matchesAfter("/^😀$/u", "😀")).toBe(true);
    expect(matchesAfter("/^😀$/", "😀")).toBe(true);
    expect(matchesAfter("/^.$/u", "😀")).toBe(true);
  });

  it("turns an identity escape into the escape alone, and leaves an escaped backslash before it", () => {
    expect(matchesAfter("/^\\µ$/", "µ")).toBe(true);
    expect(matchesAfter("/^\\\\µ$/", "\\µ")).toBe(true);
    expect(matchesAfter("/^\\\\µ$/", "µ")).toBe(false);
  });

  it("leaves ASCII as it is", () => {
    const text = 'let a=/x\\/y/g,b="\\u2026";// note\n';
    expect(asciiOnly(text)).toBe(text);
  });
});
