import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LineCounter, parseDocument, type Scalar } from "yaml";
import { checkPromQL, checkPromQLTemplate, promqlProblems, sourceOffset, translateRegex } from "../../src/engine/promql-syntax.ts";

/** The problems of a rule file's queries, as `line:column: path: message`. */
const inFile = (source: string) => {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter });
  return promqlProblems("rules/x.yaml", source, document, lineCounter).map((p) => `${p.line}:${p.column}: ${p.path}: ${p.message}`);
};

describe("checking one PromQL query", () => {
  it.each([
    'sum(rate(apiserver_request_total{code=~"5.."}[5m])) / sum(rate(apiserver_request_total[5m]))',
    "topk(5, sum by (verb, resource, code) (rate(apiserver_request_total[5m])) > 0)",
    'histogram_quantile(0.99, sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket{verb!~"WATCH|CONNECT"}[5m])))',
    "max(apiserver_storage_size_bytes or apiserver_storage_db_total_size_in_bytes or etcd_db_total_size_in_bytes)",
    "max_over_time((sum by (pod) (rate(a[5m])) / sum by (pod) (rate(b[5m])))[30m:1m])",
    "sum(x) / on (instance) group_left (node) max by (instance, node) (y) > bool 0.5",
    'label_replace(up offset -5m, "host", "$1", "instance", "(.*):\\\\d+")',
    'x{a=~"(?i)warn|err.*", b!~"\\\\.tmp$", c=~`[[:alpha:]]+\\pL`} @ end()',
    'count_values("version", build_info) unless on () absent(x)',
    "sort_desc(sum without (pod) (increase(x_total[1h30m])))  # a comment",
    "time() - max(timestamp(up)) > bool 60",
  ])("accepts %s", (query) => {
    expect(checkPromQL(query)).toEqual([]);
  });

  it.each([
    // brackets and strings, which the grammar is lenient about
    ["sum(rate(x[5m])", 3, '"(" is never closed'],
    ["sum(rate(x[5m])))", 16, '")" closes nothing'],
    ["rate(x[5m)]", 6, '"[" is closed by ")" instead of "]"'],
    ['up{job="apiserver}', 7, 'the string opened with " is never closed'],
    ['up{job=~"api\\.server"}', 12, "unknown escape \\. in a string (a regular expression's \\. is written \\\\.)"],
    // functions
    ["rates(x[5m])", 0, 'unknown function "rates"'],
    ["RATE(x[5m])", 0, 'unknown function "RATE" (function names are lower case: rate)'],
    ["holt_winters(x[5m], 0.5, 0.5)", 0, "holt_winters was removed in Prometheus 3.0"],
    ['sort_by_label(x, "pod")', 0, "sort_by_label is an experimental function"],
    ["limitk(2, x)", 0, "limitk is experimental"],
    ["histogram_avg(x)", 0, "histogram_avg is newer than Prometheus 2.42, which these rules still support"],
    ["clamp(x, 1)", 0, "clamp() takes 3 arguments, got 2"],
    ["rate(x)", 5, "expected range vector as argument 1 of rate() (a selector with a range, x[5m]), got instant vector"],
    ["abs(x[5m])", 4, "expected instant vector as argument 1 of abs(), got range vector"],
    ["topk(x)", 0, "topk takes 2 arguments, got 1"],
    ['topk("5", x)', 5, "expected scalar as the parameter of topk, got string"],
    // durations
    ["rate(x[5mm])", 7, '"5mm" is not a duration'],
    ["rate(x[1.5m])", 7, '"1.5m" is not a duration'],
    ["rate(x[5m1h])", 7, '"5m1h" is not a duration'],
    ["rate(x[300])", 7, "range 300 has no unit (Prometheus 2.x refuses a bare number): write 300s"],
    ["rate(x[0m])", 7, "range must be greater than 0"],
    ["rate(x[-5m])", 7, "range cannot be negative"],
    ["x[1h:0s]", 5, "subquery step must be greater than 0"],
    ["rate(x[5m+1m])", 7, "arithmetic in a duration is experimental"],
    ["x > 5m", 4, "a duration used as a number needs Prometheus 3.x"],
    // operators
    ["sum(x) +", 7, 'operator "+" has nothing on its right'],
    ["up and", 3, 'operator "and" has nothing on its right'],
    ["sum(x) * * 2", 9, 'unexpected "*"'],
    ["sum(x) (y)", 7, 'unexpected "("'],
    ["1 > 2", 2, 'comparing two scalars needs bool ("> bool")'],
    ["x + bool y", 2, 'bool applies only to comparison operators, not "+"'],
    ["x and 1", 2, 'set operator "and" needs instant vectors on both sides'],
    ["x unless on (a) group_left y", 9, 'no group_left or group_right with "unless"'],
    ['"a" + x', 0, 'operator "+" takes scalars and instant vectors, not a string'],
    // selectors and modifiers
    ["sum(x)[5m]", 6, "ranges only apply to a metric selector (use a subquery, [5m:1m])"],
    ["min_over_time(x[5m][10m:1m])", 14, "expected instant vector in a subquery, got range vector"],
    ["rate(x[5m]) offset 1m", 0, "offset applies only to a selector or a subquery"],
    ["x offset 1m offset 2m", 0, "offset is set twice"],
    ['{job=""}', 0, "a selector needs a metric name or a matcher that does not match the empty string"],
    ['x{__name__="y"}', 2, "the metric name is set twice"],
    ['x{"a"="b"}', 2, "quoted metric and label names need Prometheus 3.x"],
    ['x{a=~"(5xx"}', 5, 'invalid regular expression "(5xx": unterminated group'],
    ['x{a=~"a(?!b)"}', 5, "lookaround ((?=, (?!, (?<=, (?<!) is not supported"],
  ])("refuses %s at offset %i: %s", (query, offset, reason) => {
    const [problem, ...more] = checkPromQL(query);
    expect(more).toEqual([]);
    expect(problem?.offset).toBe(offset);
    expect(problem?.message).toMatch(/^PromQL syntax error near "/);
    expect(problem?.message).toContain(`: ${reason}`);
  });

  it("quotes the text around the problem", () => {
    expect(checkPromQL("sum by (code (rate(x[5m]))")).toEqual([
      { offset: 7, message: 'PromQL syntax error near "sum by (code": "(" is never closed' },
    ]);
  });

  it("refuses an empty query", () => {
    expect(checkPromQL("  ")).toEqual([{ offset: 0, message: "PromQL query is empty" }]);
  });

  it("reports each type problem once, not every consequence of a syntax error", () => {
    expect(checkPromQL("rate(x) + abs(y[5m])").map((p) => p.offset)).toEqual([5, 14]);
    expect(checkPromQL("sum(rate(x[5m]) by (code")).toHaveLength(1);
  });
});

describe("checking a PromQL template", () => {
  it("parses it with each placeholder replaced by neutral text of the same length, quoting the template", () => {
    expect(checkPromQLTemplate('max(up{job=~"{{ alert.labels.?job.orValue("a|b") }}", pod="{{ item.metadata.name }}"})')).toEqual([]);
    expect(checkPromQLTemplate('rate(x{pod="{{ item.metadata.name }}"})')).toEqual([
      {
        offset: 5,
        message:
          'PromQL syntax error near "rate(x{": expected range vector as argument 1 of rate() (a selector with a range, x[5m]), got instant vector',
      },
    ]);
    expect(checkPromQLTemplate('x{a=~"{{ alert.labels.x }}("}')[0]?.message).toContain(
      'invalid regular expression "{{ alert.labels.x }}("',
    );
  });

  it("leaves a placeholder outside a string literal to the template compiler, which refuses it", () => {
    expect(checkPromQLTemplate("rate(x[{{ alert.labels.window }}])")).toEqual([]);
    expect(checkPromQLTemplate('x{a="b"} > {{ alert.labels.threshold }}')).toEqual([]);
  });
});

describe("regular expressions as Prometheus (RE2) reads them", () => {
  it.each([
    "(?i)abc",
    "(?i:ab)c",
    "(?P<n>a)",
    "[[:alpha:]]+",
    "\\pL\\p{Greek}",
    "\\Qa.b\\E",
    "\\Aab\\z",
    "[]a]",
    "a{1000}",
    "4..|5..|<error>",
  ])("accepts %s", (pattern) => expect(translateRegex(pattern)).not.toHaveProperty("problem"));

  it.each([
    ["(a", "unterminated group"],
    ["a)", "unmatched ')'"],
    ["*a", "nothing to repeat"],
    ["[a", "unterminated character class"],
    ["a{2,1}", "numbers out of order in {} quantifier"],
    ["a{1001}", "a repeat count is above 1000"],
    ["a(?=b)", "lookaround"],
    ["(a)\\1", "backreferences (\\1) are not supported"],
    ["\\e", "unknown escape \\e"],
    ["[[:foo:]]", "unknown character class [:foo:]"],
    ["(?<n>a)", "a named group is written (?P<name>…) before Prometheus 3.x"],
  ])("refuses %s: %s", (pattern, problem) => {
    expect(translateRegex(pattern)).toEqual({ problem: expect.stringContaining(problem) as string });
  });
});

describe("placing a problem in the rule file", () => {
  it("gives the line and column of the problem in every YAML scalar style", () => {
    const source = [
      "steps:",
      "  - prometheus:",
      "      query: sum(rate(x[5m])) by (code",
      "  - prometheus:",
      "      query: sum(rate(x[5m]))",
      "        + foo(y)",
      "  - prometheus:",
      '      query: "sum(rate(x{a=\\"b\\"}[5m]))\\n  + foo(y)"',
      "  - prometheus:",
      "      query: 'x{a=''b''} + foo(y)'",
      "  - prometheus:",
      "      query: >-",
      "        sum by (code) (",
      "          rate(x[5mm])",
      "        )",
      "  - prometheus:",
      "      query: |",
      "        sum(",
      "          x)",
      "        ) / 2",
    ].join("\n");
    expect(inFile(source)).toEqual([
      '3:34: steps.0.prometheus.query: PromQL syntax error near ") by (code": "(" is never closed',
      '6:11: steps.1.prometheus.query: PromQL syntax error near ") + foo(": unknown function "foo"',
      '8:46: steps.2.prometheus.query: PromQL syntax error near ") + foo(": unknown function "foo"',
      '10:28: steps.3.prometheus.query: PromQL syntax error near "} + foo(": unknown function "foo"',
      '14:18: steps.4.prometheus.query: PromQL syntax error near "x[5mm]": "5mm" is not a duration: write whole numbers with units ms, s, m, h, d, w or y, largest first (1h30m)',
      '20:9: steps.5.prometheus.query: PromQL syntax error near "x) ) /": ")" closes nothing',
    ]);
  });

  it("checks the queries of prometheus mappings wherever they are, and nothing else", () => {
    const source = "title: rate(x\nquery: rate(x\nsteps:\n  - kubernetes: { query: rate(x }\n  - prometheus: { query: rate(x }\n";
    expect(inFile(source)).toEqual(['5:30: steps.1.prometheus.query: PromQL syntax error near "rate(x": "(" is never closed']);
  });

  it("maps an offset through double-quoted escapes", () => {
    const source = 'q: "a\\"b\\u00e9c"\n';
    const node = parseDocument(source).get("q", true) as Scalar;
    expect(String(node.value)).toBe('a"béc');
    expect([0, 1, 2, 3, 4].map((i) => sourceOffset(source, node, i))).toEqual([4, 5, 7, 8, 14]);
  });
});

describe("the shipped rules", () => {
  it("have only queries Prometheus parses", () => {
    const files = [
      ...readdirSync("rules").map((f) => join("rules", f)),
      ...readdirSync(join("rules", "shared")).map((f) => join("rules", "shared", f)),
    ].filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(inFile(readFileSync(file, "utf8")), file).toEqual([]);
  });
});
