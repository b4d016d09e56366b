// The README shows what `npm run demo` prints; this keeps its excerpts true to a real run of the demo.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

/** The fenced block that follows the paragraph ending with `lead`. */
function excerptAfter(readme: string, lead: string): string[] {
  const at = readme.indexOf(lead);
  if (at < 0) throw new Error(`the README no longer has "${lead}"`);
  const fence = /```\n([\s\S]*?)```/.exec(readme.slice(at));
  if (fence === null) throw new Error(`no excerpt after "${lead}"`);
  return fence[1]!.split("\n").filter((line) => line !== "" && line.trim() !== "…");
}

/** Step durations differ from run to run; everything else is the demo's fixed clock and fixtures. */
const timeless = (line: string) => line.replace(/\s+\d+ ms\s+/, " <ms> ").trimEnd();

it("has the README's demo excerpts, line for line, in what npm run demo prints", async () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, "demo", "run-demo.ts")], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 60_000,
  });
  const printed = new Set(stdout.split("\n").map(timeless));
  const excerpts = [
    excerptAfter(readme, "The client-errors one, abridged:"),
    excerptAfter(readme, "the verdict says so, and what was read is still shown:"),
  ];
  for (const excerpt of excerpts) {
    expect(excerpt.length).toBeGreaterThan(0);
    for (const line of excerpt) expect(printed, `README line not printed by the demo: ${line}`).toContain(timeless(line));
  }
}, 90_000);
