// alert-enricher's alerts on itself (docker/monitoring/): promtool checks the rules and runs their unit tests
// (simulated time, real `for:` durations); the PrometheusRule carries exactly the plain file's groups; every metric an
// expression reads is one src/metrics.ts registers, with labels it has and label values the code writes; every
// runbook_url anchor is a runbook section of docker/monitoring/README.md; the ServiceMonitor selects the Service that
// `kubectl kustomize` renders from docker/kubernetes. promtool and kubectl missing fail, never skip.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { createMetrics } from "../../src/metrics.ts";
import type { RulesFile } from "../support/rules-file.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DIR = join(ROOT, "docker", "monitoring");
const RULES = "alert-enricher-self.rules.yml";
const PROMETHEUS_RULE = "prometheusrule.yaml";
const RULE_TESTS = "alert-enricher-self.test.yml";
const SERVICE_MONITOR = "servicemonitor.yaml";
const README = "README.md";
const RUNBOOK_URL_PREFIX = "https://github.com/alert-enricher/alert-enricher/blob/main/docker/monitoring/README.md#";
const ALERTS = [
  "AlertEnricherDeliveriesFailing",
  "AlertEnricherDeliveriesRetrying",
  "AlertEnricherDown",
  "AlertEnricherPlaybooksPartial",
  "AlertEnricherQueueGrowing",
  "AlertEnricherReplicaDown",
  "AlertEnricherRestarting",
  "AlertEnricherStepsTimingOut",
  "AlertEnricherWebhooksRejected",
];
/** Labels a prometheus-operator scrape adds to every series of the target. */
const TARGET_LABELS = new Set(["job", "instance", "namespace", "service", "endpoint", "pod", "container"]);
/** Prometheus's own per-target series. */
const SCRAPE_SERIES = new Set(["up"]);
const PROMQL_KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"]);

interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts: unknown[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name?: string; input_series: { series: string; values: string }[]; alert_rule_test?: AlertRuleTest[] }[];
}

const read = (file: string) => readFileSync(join(DIR, file), "utf8");
const rulesFile = () => parse(read(RULES)) as RulesFile;
const allRules = () => rulesFile().groups.flatMap((group) => group.rules);

function run(command: string, args: string[], cwd = DIR): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 25_000 });
  if (result.error !== undefined) {
    if ("code" in result.error && result.error.code === "ENOENT")
      throw new Error(`${command} is not on PATH (.ci/install-test-deps installs it: Debian's prometheus / kubernetes-client)`);
    throw result.error;
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, label names or durations. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\boffset\s+-?[0-9]+[smhdwy]/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length).trimStart();
    if (rest.startsWith("(") || PROMQL_KEYWORDS.has(match[0])) continue;
    names.add(match[0]);
  }
  return [...names].sort();
}

/** Every `metric{label op "value"}` selector in an expression. */
function selectors(expr: string): { metric: string; label: string; op: string; value: string }[] {
  const found: { metric: string; label: string; op: string; value: string }[] = [];
  for (const selector of expr.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}/g)) {
    for (const matcher of (selector[2] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g))
      found.push({ metric: selector[1] ?? "", label: matcher[1] ?? "", op: matcher[2] ?? "", value: matcher[3] ?? "" });
  }
  return found;
}

/** The labels named in by/without/on/ignoring clauses. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) =>
    (m[1] ?? "")
      .split(",")
      .map((label) => label.trim())
      .filter((label) => label !== ""),
  );
}

/** GitHub's anchors for a Markdown file's headings (outside code blocks). */
function headingAnchors(markdown: string): { level: number; text: string; anchor: string; line: number }[] {
  const headings: { level: number; text: string; anchor: string; line: number }[] = [];
  let fenced = false;
  markdown.split("\n").forEach((line, index) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const match = fenced ? null : /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (match === null) return;
    const text = match[2] ?? "";
    const anchor = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    headings.push({ level: (match[1] ?? "").length, text, anchor, line: index });
  });
  return headings;
}

/** Every *.ts file under src/, concatenated: where label values must appear as string literals. */
function sourceText(): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith(".ts")) texts.push(readFileSync(path, "utf8"));
    }
  };
  walk(join(ROOT, "src"));
  return texts.join("\n");
}

describe("promtool", () => {
  it("accepts the rules file", () => {
    const result = run("promtool", ["check", "rules", RULES]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it("passes the unit tests: each alert fires on a broken service after its `for:` and stays silent on a healthy one", () => {
    const result = run("promtool", ["test", "rules", RULE_TESTS]);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain("SUCCESS");
    expect(result.output).not.toContain("FAILED");
  });
});

describe("rule files", () => {
  it("the PrometheusRule's spec.groups equal the plain rules file's groups", () => {
    const operator = parse(read(PROMETHEUS_RULE)) as { apiVersion: string; kind: string; metadata: { name: string }; spec: RulesFile };
    expect(operator).toMatchObject({
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: "alert-enricher-self" },
    });
    expect(operator.spec.groups).toEqual(rulesFile().groups);
  });

  it("ships the alerts, each with a severity, summary, description and a runbook_url", () => {
    const rules = allRules();
    expect(rules.map((rule) => rule.alert).sort()).toEqual(ALERTS);
    for (const rule of rules) {
      expect(["critical", "warning"], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations.description, rule.alert).toMatch(/\S/);
      expect(rule.annotations.runbook_url, rule.alert).toBe(`${RUNBOOK_URL_PREFIX}${rule.alert.toLowerCase()}`);
    }
  });

  it("every runbook_url anchor is a runbook section (Meaning, Check, Do) under the README's Self-monitoring heading", () => {
    const readme = read(README);
    const headings = headingAnchors(readme);
    const section = headings.find((h) => h.level === 2 && h.text === "Self-monitoring");
    expect(section, "## Self-monitoring").toBeDefined();
    const end = headings.find((h) => h.level <= 2 && h.line > (section?.line ?? 0))?.line ?? Infinity;
    const runbooks = headings.filter((h) => h.level === 3 && h.line > (section?.line ?? 0) && h.line < end);
    const lines = readme.split("\n");
    for (const rule of allRules()) {
      const anchor = (rule.annotations.runbook_url ?? "").slice(RUNBOOK_URL_PREFIX.length);
      const heading = runbooks.find((h) => h.anchor === anchor);
      expect(heading, `${rule.alert}: #${anchor} in ${README}`).toBeDefined();
      const next = headings.find((h) => h.line > (heading?.line ?? 0))?.line ?? lines.length;
      const body = lines.slice((heading?.line ?? 0) + 1, next).join("\n");
      for (const part of ["**Meaning.**", "**Check.**", "**Do.**"]) expect(body, `${rule.alert}: ${part}`).toContain(part);
    }
    // The anchor of the section itself, which the README's introduction links to.
    expect(section?.anchor).toBe("self-monitoring");
  });
});

describe("metrics the expressions read", () => {
  const registered = new Map<string, { labels: Set<string> }>();

  beforeAll(async () => {
    const { registry } = createMetrics();
    for (const metric of await registry.getMetricsAsJSON()) {
      const declared = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
      const labels = new Set(declared);
      if (String(metric.type) === "histogram") {
        registered.set(`${metric.name}_bucket`, { labels: new Set([...labels, "le"]) });
        registered.set(`${metric.name}_sum`, { labels });
        registered.set(`${metric.name}_count`, { labels });
      } else {
        registered.set(metric.name, { labels });
      }
    }
  });

  it("the parser finds the names in an expression and nothing else", () => {
    expect(
      metricNames('sum by (sink) (rate(enricher_deliveries_total{outcome="retry"}[10m])) / on (job) group_left up offset 10m > 0.5'),
    ).toEqual(["enricher_deliveries_total", "up"]);
    expect(registered.has("enricher_deliveries_total")).toBe(true);
    expect(registered.get("enricher_deliveries_total")?.labels).toEqual(new Set(["sink", "outcome"]));
    expect(registered.has("enricher_playbook_duration_seconds_bucket")).toBe(true);
  });

  it("every metric name is one src/metrics.ts registers (or up), and every alert but the scrape ones reads one", () => {
    for (const rule of allRules()) {
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(registered.has(name) || SCRAPE_SERIES.has(name), `${rule.alert}: ${name}`).toBe(true);
      if (!["AlertEnricherDown", "AlertEnricherReplicaDown"].includes(rule.alert))
        expect(
          names.some((name) => registered.has(name)),
          rule.alert,
        ).toBe(true);
    }
  });

  it("reads the standard process_* and nodejs_* metrics, which other exporters have too, only with the job selector of up", () => {
    const jobSelector = /\bup\{job=~"([^"]*)"\}/.exec(allRules()[0]?.expr ?? "")?.[1];
    expect(jobSelector).toBe(".*alert-enricher.*");
    const standard = allRules().flatMap((rule) =>
      [...rule.expr.matchAll(/\b((?:process|nodejs)_[A-Za-z0-9_]*)(\{[^}]*\})?/g)].map((m) => ({
        alert: rule.alert,
        metric: m[1],
        selector: m[2],
      })),
    );
    expect(standard.map((s) => s.metric)).toContain("process_start_time_seconds");
    for (const { alert, metric, selector } of standard) expect(selector, `${alert}: ${metric}`).toBe(`{job=~"${jobSelector}"}`);
  });

  it("selects and groups only by labels the metrics have (or the scrape adds), with label values the code writes", () => {
    const source = sourceText();
    for (const rule of allRules()) {
      const names = metricNames(rule.expr);
      const known = new Set([...TARGET_LABELS, ...names.flatMap((name) => [...(registered.get(name)?.labels ?? [])])]);
      for (const label of groupingLabels(rule.expr)) expect(known.has(label), `${rule.alert}: by/on (${label})`).toBe(true);
      for (const { metric, label, op, value } of selectors(rule.expr)) {
        if (SCRAPE_SERIES.has(metric)) {
          expect(TARGET_LABELS.has(label), `${rule.alert}: ${metric}{${label}}`).toBe(true);
          continue;
        }
        expect(registered.get(metric)?.labels.has(label) || TARGET_LABELS.has(label), `${rule.alert}: ${metric}{${label}}`).toBe(true);
        if (op === "=") expect(source, `${rule.alert}: ${metric}{${label}="${value}"} is never written`).toContain(`"${value}"`);
      }
    }
  });
});

describe("rule tests", () => {
  it("show every alert firing at least once and silent at least once, and all silent on the healthy service", () => {
    const tests = parse(read(RULE_TESTS)) as RuleTestFile;
    expect(tests.rule_files).toEqual([RULES]);
    const checks = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const alert of ALERTS) {
      expect(
        checks.some((check) => check.alertname === alert && check.exp_alerts.length > 0),
        `${alert} fires`,
      ).toBe(true);
      expect(
        checks.some((check) => check.alertname === alert && check.exp_alerts.length === 0),
        `${alert} silent`,
      ).toBe(true);
    }
    const healthy = tests.tests.find((test) => test.name === "healthy");
    const silent = new Set(
      (healthy?.alert_rule_test ?? []).filter((check) => check.exp_alerts.length === 0).map((check) => check.alertname),
    );
    expect([...silent].sort()).toEqual(ALERTS);
    // Realistic input: every alert-enricher series carries the labels a ServiceMonitor scrape gives it.
    for (const test of tests.tests)
      for (const { series } of test.input_series)
        if (series.includes('job="alert-enricher"'))
          for (const label of TARGET_LABELS) expect(series, `${test.name}: ${series}`).toContain(`${label}="`);
  });
});

describe("ServiceMonitor", () => {
  interface Manifest {
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec: Record<string, unknown>;
  }

  it("selects the Service docker/kubernetes renders: its namespace, labels and port named http, path /metrics", () => {
    const monitor = parse(read(SERVICE_MONITOR)) as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[]; namespaceSelector?: unknown };
    };
    expect(monitor).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor" });
    expect(monitor.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "alert-enricher" });
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: "http", path: "/metrics" })]);
    // No namespaceSelector: it looks in its own namespace, which must be the Service's.
    expect(monitor.spec.namespaceSelector).toBeUndefined();

    for (const overlay of ["single-sqlite", "ha-postgres"]) {
      const result = run("kubectl", ["kustomize", join(ROOT, "docker", "kubernetes", "overlays", overlay)], ROOT);
      expect(result.status, result.output).toBe(0);
      const objects = parseAllDocuments(result.output).map((doc) => doc.toJS() as Manifest);
      const services = objects.filter(
        (o) =>
          o.kind === "Service" &&
          Object.entries(monitor.spec.selector.matchLabels).every(([key, value]) => o.metadata.labels?.[key] === value),
      );
      expect(services, overlay).toHaveLength(1);
      const service = services[0] as Manifest & { spec: { ports: { name?: string; port: number }[] } };
      expect(service.metadata.namespace, overlay).toBe(monitor.metadata.namespace);
      expect(
        service.spec.ports.map((port) => port.name),
        overlay,
      ).toContain("http");
      // The rules' job selector matches the job prometheus-operator names after the Service.
      expect(service.metadata.name).toMatch(/alert-enricher/);
    }
  });
});
