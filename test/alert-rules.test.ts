// The Prometheus alerting rules shipped in docker/prometheus/: promtool checks them and runs their unit tests
// (simulated time, real `for:` durations), and the PrometheusRule must carry exactly the plain rules file's groups.
// Both promtools check them (alerting-stacks.ts): Debian's `prometheus` package (2.42) and the current 3.x built by
// .ci/build-prometheus-stack; .ci/install-test-deps provides both. A missing promtool fails, never skips.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type AlertingStack, alertingStacks } from "./support/alerting-stacks.ts";
import type { Rule, RulesFile } from "./support/rules-file.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIR = join(ROOT, "docker", "prometheus");
const RULES = "alert-enricher-alerts.rules.yml";
const PROMETHEUS_RULE = "alert-enricher-alerts.prometheusrule.yaml";
const RULE_TESTS = "alert-enricher-alerts.test.yml";
const RUNBOOK_RULE = "runbook-certificate-rule.rules.yml";
const RUNBOOK_RULE_TESTS = "runbook-certificate-rule.test.yml";
const RUNBOOK_URL_PREFIX = "https://github.com/alert-enricher/alert-enricher/blob/main/rules/runbooks/";
const CERT_TEST_NAME = "client certificates near expiry";

interface PrometheusRule {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: RulesFile;
}
interface InputSeries {
  series: string;
  values: string;
}
interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts: unknown[];
}
interface TestGroup {
  name?: string;
  interval?: string;
  input_series: InputSeries[];
  alert_rule_test?: AlertRuleTest[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: TestGroup[];
}

function readYaml(file: string): unknown {
  return parse(readFileSync(join(DIR, file), "utf8"));
}

function readRulesFile(file: string): RulesFile {
  const doc = readYaml(file);
  expect(doc, file).toMatchObject({ groups: expect.any(Array) });
  return doc as RulesFile;
}

function readTestFile(file: string): RuleTestFile {
  const doc = readYaml(file);
  expect(doc, file).toMatchObject({ rule_files: expect.any(Array), tests: expect.any(Array) });
  return doc as RuleTestFile;
}

function allRules(file: RulesFile): Rule[] {
  return file.groups.flatMap((group) => group.rules);
}

function testGroupNamed(file: RuleTestFile, name: string): TestGroup {
  const group = file.tests.find((test) => test.name === name);
  if (group === undefined) throw new Error(`no test group named "${name}"`);
  return group;
}

interface PromtoolRun {
  status: number | null;
  output: string;
}

function runPromtool(stack: AlertingStack, args: string[]): PromtoolRun {
  const binary = stack.binaries().promtool;
  const run = spawnSync(binary, args, { cwd: DIR, encoding: "utf8", timeout: 25_000 });
  if (run.error !== undefined) {
    if ("code" in run.error && run.error.code === "ENOENT") {
      throw new Error(
        `${binary} is not on PATH. Install it with \`apt-get install prometheus\` (Debian's package ships promtool; .ci/run does this in CI).`,
      );
    }
    throw run.error;
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe.each(alertingStacks().map((stack) => [stack.name, stack] as const))("promtool of %s", (_, stack) => {
  const promtool = (...args: string[]) => runPromtool(stack, args);

  it("is the release it names", () => {
    const run = promtool("--version");
    expect(run.status, run.output).toBe(0);
    expect(/version (\S+)/.exec(run.output)?.[1]).toMatch(stack.prometheusVersion);
  });

  it("accepts the shipped rules file", () => {
    const run = promtool("check", "rules", RULES);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("SUCCESS: 6 rules found");
  });

  it("accepts the runbook's original certificate rule (it is valid PromQL, just never true)", () => {
    const run = promtool("check", "rules", RUNBOOK_RULE);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("SUCCESS: 1 rules found");
  });

  it("passes the unit tests: every alert fires on a broken state after its `for:` and stays silent on a healthy one", () => {
    const run = promtool("test", "rules", RULE_TESTS);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("SUCCESS");
    expect(run.output).not.toContain("FAILED");
  });

  it("passes the runbook rule's tests: silent on the realistic series the corrected rule fires on", () => {
    const run = promtool("test", "rules", RUNBOOK_RULE_TESTS);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain("SUCCESS");
    expect(run.output).not.toContain("FAILED");
  });
});

describe("rule files", () => {
  it("the PrometheusRule's spec.groups equal the plain rules file's groups", () => {
    const plain = readRulesFile(RULES);
    const doc = readYaml(PROMETHEUS_RULE);
    expect(doc).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", spec: { groups: expect.any(Array) } });
    const operator = doc as PrometheusRule;
    expect(operator.metadata.name).toBe("alert-enricher-alerts");
    expect(operator.spec.groups).toEqual(plain.groups);
  });

  it("ships the covered alerts, each with summary, description and a runbook_url to a runbook in rules/runbooks/", () => {
    const rules = allRules(readRulesFile(RULES));
    expect(rules.map((rule) => rule.alert).sort()).toEqual([
      "KubeAggregatedAPIDown",
      "KubeAggregatedAPIErrors",
      "KubeClientErrors",
      "KubernetesApiClientErrors",
      "KubernetesClientCertificateExpiresNextWeek",
      "KubernetesClientCertificateExpiresSoon",
    ]);
    for (const rule of rules) {
      expect(rule.annotations.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations.description, rule.alert).toMatch(/\S/);
      const url = rule.annotations.runbook_url ?? "";
      expect(url.startsWith(RUNBOOK_URL_PREFIX), `${rule.alert}: ${url}`).toBe(true);
      expect(existsSync(join(ROOT, "rules", "runbooks", url.slice(RUNBOOK_URL_PREFIX.length))), url).toBe(true);
    }
  });

  it('selects the kube-apiserver as job="apiserver" in every API-server-scoped rule (kube-prometheus\'s job name)', () => {
    for (const rule of allRules(readRulesFile(RULES))) {
      expect(rule.expr, rule.alert).not.toContain('job="kube-apiserver"');
      // KubernetesApiClientErrors watches every client-go binary, as upstream: no job selector.
      if (rule.alert !== "KubernetesApiClientErrors") expect(rule.expr, rule.alert).toContain('{job="apiserver"');
    }
  });

  it("the corrected certificate rules match the two sides on (job, cluster, instance)", () => {
    const rules = allRules(readRulesFile(RULES)).filter((rule) => rule.alert.startsWith("KubernetesClientCertificate"));
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      expect(rule.expr).toContain("sum without (namespace, service, endpoint)");
      expect(rule.expr).toContain("and on(job, cluster, instance)");
    }
  });

  it("the runbook rule under test is the runbook's expression, verbatim", () => {
    const runbook = readFileSync(join(ROOT, "rules", "runbooks", "KubernetesClientCertificateExpiresSoon.md"), "utf8");
    const match = /^expr: (.+)$/m.exec(runbook);
    expect(match, "expr line in the runbook").not.toBeNull();
    const [rule] = allRules(readRulesFile(RUNBOOK_RULE));
    expect(rule?.alert).toBe("KubernetesClientCertificateExpiresSoon");
    expect(rule?.expr).toBe(match?.[1]);
  });

  it("the runbook rule is tested on the same input series the corrected rule fires on, and expected silent", () => {
    const corrected = testGroupNamed(readTestFile(RULE_TESTS), CERT_TEST_NAME);
    const runbook = testGroupNamed(readTestFile(RUNBOOK_RULE_TESTS), CERT_TEST_NAME);
    expect(runbook.interval).toBe(corrected.interval);
    expect(runbook.input_series).toEqual(corrected.input_series);
    expect(corrected.input_series[0]?.series).toMatch(/instance="[^"]+",namespace="[^"]+",service="[^"]+",endpoint="[^"]+"/);
    const firing = (corrected.alert_rule_test ?? []).filter((test) => test.alertname === "KubernetesClientCertificateExpiresSoon");
    expect(firing.length).toBeGreaterThan(0);
    expect(firing.every((test) => test.exp_alerts.length > 0)).toBe(true);
    const silent = runbook.alert_rule_test ?? [];
    expect(silent.length).toBeGreaterThan(0);
    for (const test of silent) {
      expect(test.alertname).toBe("KubernetesClientCertificateExpiresSoon");
      expect(test.exp_alerts).toEqual([]);
    }
  });
});
