import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlaybookFile, loadPlaybooks, PlaybookLoadError } from "../../src/engine/load-playbooks.ts";
import { EXAMPLE_PLAYBOOK } from "../support/playbook-fixtures.ts";

const valid = EXAMPLE_PLAYBOOK;

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
    expect(problem?.message).toBe("a step needs exactly one of kubernetes, logs, prometheus, audit");
    expect(problem?.line).toBe(5);
  });

  it("reports a broken CEL condition with its line", () => {
    const [problem] = problemsOf(valid.replace("when: steps.pods.count > 0", "when: steps.pods.count >"));
    expect(problem?.path).toBe("causes.0.symptom.when");
    expect(problem?.line).toBe(14);
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
      expect(message).toContain(`${join(dir, "c.yaml")}:16: causes.0.confidence: must be <= 1`);
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

describe("PromQL in playbooks and fragments (issue #12)", () => {
  /** The minimal playbook with its one step reading Prometheus: `query` is the YAML after `query:` (line 8). */
  const withQuery = (query: string) =>
    valid.replace("    kubernetes:\n      apiVersion: v1\n      kind: Pod\n", `    prometheus:\n      query: ${query}\n`);
  const located = (yaml: string) => problemsOf(yaml).map((p) => `${p.file}:${p.line}:${p.column}: ${p.path}: ${p.message}`);

  it("refuses a missing parenthesis with the file, line and column of the unclosed one", () => {
    expect(located(withQuery("sum by (code (rate(apiserver_request_total[5m]))"))).toEqual([
      'rules/example.yaml:8:21: steps.0.prometheus.query: PromQL syntax error near "sum by (code": "(" is never closed',
    ]);
  });

  it("finds the line inside a folded multi-line query", () => {
    const yaml = withQuery('>-\n        sum by (code) (\n          rate(apiserver_request_total{job="apiserver"}[5m]\n        )');
    expect(located(yaml)).toEqual([
      'rules/example.yaml:9:23: steps.0.prometheus.query: PromQL syntax error near "code) ( rate": "(" is never closed',
    ]);
  });

  it("refuses an unknown function", () => {
    expect(located(withQuery('"sum(rates(apiserver_request_total[5m]))"'))).toEqual([
      'rules/example.yaml:8:19: steps.0.prometheus.query: PromQL syntax error near "sum(rates(": unknown function "rates"',
    ]);
  });

  it("refuses a bad range duration", () => {
    expect(located(withQuery("sum(rate(apiserver_request_total[5mins]))"))).toEqual([
      'rules/example.yaml:8:47: steps.0.prometheus.query: PromQL syntax error near "apiserver_request_total[5mins]": ' +
        '"5mins" is not a duration: write whole numbers with units ms, s, m, h, d, w or y, largest first (1h30m)',
    ]);
  });

  it("refuses an unbalanced brace", () => {
    expect(located(withQuery(`'up{job="apiserver"'`))).toEqual([
      'rules/example.yaml:8:17: steps.0.prometheus.query: PromQL syntax error near "up{job": "{" is never closed',
    ]);
  });

  it("refuses a stray operator", () => {
    expect(located(withQuery("sum(rate(apiserver_request_total[5m])) / / 2"))).toEqual([
      'rules/example.yaml:8:55: steps.0.prometheus.query: PromQL syntax error near ") / / 2": unexpected "/"',
    ]);
    expect(located(withQuery("sum(rate(apiserver_request_total[5m])) >"))).toEqual([
      'rules/example.yaml:8:53: steps.0.prometheus.query: PromQL syntax error near ")) >": operator ">" has nothing on its right',
    ]);
  });

  it("refuses what the grammar accepts but Prometheus does not: a range on an expression, an argument of the wrong type", () => {
    expect(located(withQuery("sum(apiserver_request_total)[5m]"))).toEqual([
      'rules/example.yaml:8:42: steps.0.prometheus.query: PromQL syntax error near "apiserver_request_total)[5m": ' +
        "ranges only apply to a metric selector (use a subquery, [5m:1m])",
    ]);
    expect(located(withQuery("rate(apiserver_request_total)"))).toEqual([
      'rules/example.yaml:8:19: steps.0.prometheus.query: PromQL syntax error near "rate(apiserver_request_total)": ' +
        "expected range vector as argument 1 of rate() (a selector with a range, x[5m]), got instant vector",
    ]);
  });

  it("parses a template with its placeholders inside string literals as Prometheus will see it", () => {
    expect(
      problemsOf(withQuery(`'max(up{job=~"{{ alert.labels.?job.orValue("a|b") }}", instance="{{ alert.labels.instance }}"})'`)),
    ).toEqual([]);
    // A placeholder outside a string is the template compiler's to refuse, once.
    const [problem, ...more] = problemsOf(withQuery("'rate(x[{{ alert.labels.window }}])'"));
    expect(problem?.message).toContain('must be inside a "…" string literal');
    expect(more).toEqual([]);
  });

  it("checks the fragments' queries and stops the load with file:line:column", () => {
    const dir = mkdtempSync(join(tmpdir(), "enricher-rules-"));
    mkdirSync(join(dir, "shared"));
    writeFileSync(join(dir, "a.yaml"), valid);
    writeFileSync(
      join(dir, "shared", "f.yaml"),
      "fragment: f\ntitle: F\nsteps:\n  - id: p\n    title: P\n    prometheus:\n      query: >-\n        max(up\n          or vector(0)\n",
    );
    try {
      loadPlaybooks(dir);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PlaybookLoadError);
      expect((error as Error).message).toBe(
        `${join(dir, "shared", "f.yaml")}:8:12: steps.0.prometheus.query: PromQL syntax error near "max(up": "(" is never closed`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("facts", () => {
  const fragment = (name: string) => `fragment: ${name}
title: ${name}
facts: { shared: "1.0" }
steps: [{ id: ${name.replace("-", "_")}_q, title: q, prometheus: { query: up } }]
`;
  it("refuses two included fragments that define the same fact, naming the include", () => {
    const dir = mkdtempSync(join(tmpdir(), "rules-"));
    try {
      mkdirSync(join(dir, "shared"));
      writeFileSync(join(dir, "shared", "a.yaml"), fragment("frag-a"));
      writeFileSync(join(dir, "shared", "b.yaml"), fragment("frag-b"));
      writeFileSync(
        join(dir, "p.yaml"),
        `alert: P
title: p
runbook: r
steps: [{ include: frag-a }, { include: frag-b }]
causes: []
noCorrelation: { title: n, summary: n }
`,
      );
      expect(() => loadPlaybooks(dir)).toThrow(
        /p\.yaml:\d+: steps\.1\.include: brings fact shared, which another fragment already defines/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("causes", () => {
  it("refuse a cause without a symptom, saying what one is", () => {
    const [problem] = problemsOf(
      valid.replace("    symptom:\n      when: steps.pods.count > 0\n      text: pods\n", "    when: steps.pods.count > 0\n"),
    );
    expect(problem?.path).toBe("causes.0");
    expect(problem?.message).toBe(
      "a cause needs a symptom: what it explains, read from the alert's own data (rules/README.md, Three-valued evidence)",
    );
  });
});
