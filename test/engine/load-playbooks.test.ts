import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlaybookFile, loadPlaybooks, PlaybookLoadError } from "../../src/engine/load-playbooks.ts";

const valid = `alert: Example
title: Example
runbook: example.md
steps:
  - id: pods
    title: Pods
    kubernetes:
      apiVersion: v1
      kind: Pod
causes:
  - id: bad
    title: Bad
    when: steps.pods.count > 0
    confidence: 0.5
    summary: "{{ steps.pods.count }} pods"
noCorrelation:
  title: No correlation
  summary: none
`;

const problemsOf = (yaml: string) => {
  const result = loadPlaybookFile("rules/example.yaml", yaml);
  return "problems" in result ? result.problems : [];
};

describe("loading playbooks", () => {
  it("loads the shipped rules without a problem", () => {
    const playbooks = loadPlaybooks("rules");
    expect(playbooks.map((p) => p.alertNames[0])).toContain("KubeClientErrors");
  });

  it("accepts a minimal valid file", () => {
    expect(problemsOf(valid)).toEqual([]);
  });

  it("names the file, line and field of an unknown field", () => {
    const [problem] = problemsOf(valid.replace("      kind: Pod", "      kind: Pod\n      labelSelektor: app=x"));
    expect(problem).toMatchObject({
      file: "rules/example.yaml",
      line: 10,
      path: "steps.0.kubernetes",
      message: 'unknown field "labelSelektor"',
    });
  });

  it("says a step needs exactly one source", () => {
    const [problem] = problemsOf(
      valid.replace(
        "    kubernetes:\n      apiVersion: v1\n      kind: Pod\n",
        "    prometheus: { query: up }\n    kubernetes: { apiVersion: v1, kind: Pod }\n",
      ),
    );
    expect(problem?.message).toBe("a step needs exactly one of kubernetes, logs, prometheus or audit");
    expect(problem?.line).toBe(5);
  });

  it("reports a broken CEL condition with its line", () => {
    const [problem] = problemsOf(valid.replace("when: steps.pods.count > 0", "when: steps.pods.count >"));
    expect(problem?.path).toBe("causes.0.when");
    expect(problem?.line).toBe(13);
    expect(problem?.message).toContain("invalid CEL expression");
  });

  it("refuses a PromQL placeholder outside a string literal", () => {
    const yaml = valid.replace(
      "    kubernetes:\n      apiVersion: v1\n      kind: Pod\n",
      "    prometheus:\n      query: 'rate(x[{{ alert.labels.window }}])'\n",
    );
    const [problem] = problemsOf(yaml);
    expect(problem?.message).toContain('must be inside a "…" string literal');
  });

  it("refuses a step that reads a step defined after it", () => {
    const yaml = valid.replace("      kind: Pod\n", '      kind: Pod\n      namespace: "{{ steps.later.items[0].metadata.namespace }}"\n');
    const [problem] = problemsOf(yaml);
    expect(problem?.message).toContain("reads steps.later, which is not a step defined above this one");
  });

  it("reports YAML syntax errors with their line", () => {
    const [problem] = problemsOf("alert: X\nsteps: [\n");
    expect(problem?.line).toBeGreaterThan(1);
  });

  it("stops the load with every file's problems and refuses two files for one alert", () => {
    const dir = mkdtempSync(join(tmpdir(), "enricher-rules-"));
    writeFileSync(join(dir, "a.yaml"), valid);
    writeFileSync(join(dir, "b.yaml"), valid);
    writeFileSync(join(dir, "c.yaml"), valid.replace("confidence: 0.5", "confidence: 5"));
    try {
      loadPlaybooks(dir);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PlaybookLoadError);
      const message = (error as Error).message;
      expect(message).toContain(`${join(dir, "c.yaml")}:14: causes.0.confidence: must be <= 1`);
      expect(message).toContain("alert Example is already covered by");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("rules/schema.json", () => {
  it("is the schema the loader validates with, so editors check rule files the same way (regenerate with npx enricher rules schema [fragment])", async () => {
    const { readFileSync } = await import("node:fs");
    const { fragmentSchema, playbookSchema } = await import("../../src/engine/playbook.ts");
    expect(JSON.parse(readFileSync("rules/schema.json", "utf8"))).toEqual(JSON.parse(JSON.stringify(playbookSchema)));
    expect(JSON.parse(readFileSync("rules/shared/schema.json", "utf8"))).toEqual(JSON.parse(JSON.stringify(fragmentSchema)));
  });
});
