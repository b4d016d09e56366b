import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { PlaybookTestFileError, runPlaybookTests, runPlaybookTestSuite } from "../../testkit/run-playbook-tests.ts";
import { formatResults } from "../../testkit/test-report.ts";
import type { TestFile } from "../../testkit/test-file.ts";

const playbooks = loadPlaybooks("rules");

describe("the shipped playbook tests (rules/tests)", () => {
  it("all pass", async () => {
    const results = await runPlaybookTests("rules/tests", playbooks);
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => !r.passed).map((r) => `${r.name}\n${r.problems.join("\n")}`)).toEqual([]);
  });

  // `rules test` runs the fault matrix over each playbook's demo case; here it runs over every case (issue #12).
  it("pass a refutation case for every cause they reach, and the fault matrix over every case", { timeout: 300_000 }, async () => {
    const report = await runPlaybookTestSuite("rules/tests", playbooks, { faultMatrix: "all" });
    const failed = [...report.refutations, ...report.faults].filter((r) => !r.passed);
    expect(failed.map((r) => `${r.name}\n${r.problems.join("\n")}`)).toEqual([]);
    expect(report.faults.length).toBeGreaterThan(report.cases.length);
  });

  it("reach every cause of every playbook, and its no-correlation branch, at least once", () => {
    const files = readdirSync("rules/tests").filter((f) => f.endsWith(".yaml"));
    const reached = new Map<string, Set<string>>();
    for (const file of files) {
      const spec = parse(readFileSync(join("rules/tests", file), "utf8")) as TestFile;
      const playbook = playbooks.find((p) => p.name === spec.playbook || p.alertNames.includes(spec.playbook));
      if (!playbook) continue;
      const causes = reached.get(playbook.name) ?? new Set<string>();
      for (const testCase of spec.cases) causes.add(testCase.expect.cause);
      reached.set(playbook.name, causes);
    }
    // A shared fragment's cause counts as reached when a case of any playbook that includes the fragment reaches it.
    const reachedAnywhere = new Set([...reached.values()].flatMap((causes) => [...causes]));
    const missing = playbooks.flatMap((p) =>
      [...p.causes.map((c) => ({ id: c.id, shared: c.fragment !== undefined })), { id: "no_correlation", shared: false }]
        .filter(({ id, shared }) => !reached.get(p.name)?.has(id) && !(shared && reachedAnywhere.has(id)))
        .map(({ id }) => `${p.name}: ${id}`),
    );
    expect(missing).toEqual([]);
  });

  it("reach, for every playbook that includes a fragment, at least one of the fragment's causes through its own cases", () => {
    const missing: string[] = [];
    for (const playbook of playbooks) {
      const fragments = new Set(playbook.causes.flatMap((c) => (c.fragment ? [c.fragment] : [])));
      // Every file of the playbook: its canned cases and its series cases (<playbook>.series.yaml).
      const specs = readdirSync("rules/tests")
        .map((f) => parse(readFileSync(join("rules/tests", f), "utf8")) as TestFile)
        .filter((s) => s.playbook === playbook.name);
      const expected = new Set(specs.flatMap((s) => s.cases.map((c) => c.expect.cause)));
      for (const fragment of fragments) {
        if (!playbook.causes.some((c) => c.fragment === fragment && expected.has(c.id)))
          missing.push(`${playbook.name} never reaches a cause of ${fragment}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe("enricher rules test", () => {
  /** A copy of rules/ whose only test file is the KubeClientErrors one, edited. */
  function withTests(edit: (spec: TestFile) => void): string {
    const dir = mkdtempSync(join(tmpdir(), "enricher-rules-test-"));
    cpSync("rules", dir, { recursive: true });
    const testsDir = join(dir, "tests");
    const spec = parse(readFileSync(join(testsDir, "KubeClientErrors.yaml"), "utf8")) as TestFile;
    for (const name of readdirSync(testsDir)) rmSync(join(testsDir, name));
    edit(spec);
    writeFileSync(join(testsDir, "KubeClientErrors.yaml"), JSON.stringify(spec));
    return dir;
  }

  it("exits 1 with a readable difference when the playbook names another cause", () => {
    const dir = withTests((spec) => {
      spec.cases = spec.cases.slice(0, 1);
      const first = spec.cases[0];
      if (first) first.expect = { cause: "network_failure", evidence: ["a line that is not there"] };
    });
    const run = spawnSync("node_modules/.bin/node", ["bin/enricher.ts", "rules", "test", dir], { encoding: "utf8", timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("✗ blames the deleted ServiceAccount");
    expect(run.stdout).toContain("expected top cause: network_failure");
    expect(run.stdout).toContain("got top cause: authentication_failure");
    expect(run.stdout).toContain('missing evidence: "a line that is not there"');
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.at(-2)).toMatch(
      /^0 cases passed, 1 failed; \d+ of \d+ causes reached; \d+ refutation cases passed, \d+ failed; \d+ fault cases passed, \d+ failed$/,
    );
    expect(lines.at(-1)).toMatch(/^\d+ passed, [1-9]\d* failed$/);
  });

  it("refuses a flag it does not know", () => {
    const run = spawnSync("node_modules/.bin/node", ["bin/enricher.ts", "rules", "test", "--all-fault"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("unknown flag --all-fault");
  });

  it("refuses a test file that names no known playbook", async () => {
    const dir = withTests((spec) => {
      spec.playbook = "NoSuchAlert";
    });
    await expect(runPlaybookTests(join(dir, "tests"), playbooks)).rejects.toThrow(PlaybookTestFileError);
    await expect(runPlaybookTests(join(dir, "tests"), playbooks)).rejects.toThrow("no playbook NoSuchAlert");
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints one line per case and a closing count", () => {
    const text = formatResults([
      { file: "a.yaml", name: "one", passed: true, problems: [] },
      { file: "a.yaml", name: "two", passed: false, problems: ["expected top cause: x"] },
    ]);
    expect(text).toBe("a.yaml\n  ✓ one\n  ✗ two\n      expected top cause: x\n\n1 passed, 1 failed");
  });
});
