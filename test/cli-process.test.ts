// The command line as a process: `node bin/enricher.ts …` sets its exit code from runCli and writes to its own
// stdout and stderr, and reads .env from its working directory. test/cli.test.ts covers the commands in-process.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { killChildren, REPO_ROOT, runNode } from "./support/node-process.ts";

const CLI = join(REPO_ROOT, "bin", "enricher.ts");

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "enricher-cli-process-"));
});

afterEach(async () => {
  await killChildren();
  rmSync(dir, { recursive: true, force: true });
});

describe("node bin/enricher.ts", () => {
  it("exits 0 printing the version on stdout", async () => {
    const result = await runNode([CLI, "--version"], {});
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("exits 1 with the errors on stderr when a check fails", async () => {
    writeFileSync(join(dir, "broken.yaml"), "alert: Example\n");
    const result = await runNode([CLI, "rules", "validate", dir], {});
    expect(result.stderr).toContain(join(dir, "broken.yaml"));
    expect(result.stdout).toBe("");
    expect(result.code).toBe(1);
  });

  it("exits 2 naming .env of its working directory when it cannot be read, without a stack trace", async () => {
    mkdirSync(join(dir, ".env"));
    const result = await runNode([CLI, "rules", "validate", join(REPO_ROOT, "rules")], { cwd: dir });
    expect(result.stderr).toBe("enricher: .env could not be read: EISDIR\n");
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
  });
});
