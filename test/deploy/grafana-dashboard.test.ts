// The shipped Grafana dashboard (docker/monitoring/alert-enricher-dashboard.json): valid JSON Grafana can import,
// every query PromQL that Prometheus parses (with the project's checker, after Grafana's variables are filled in),
// reading only metrics the service registers, by labels they have, filtered by the dashboard's namespace and job.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { beforeAll, describe, expect, it } from "vitest";
import { checkPromQL } from "../../src/engine/promql-syntax.ts";
import { createMetrics } from "../../src/metrics.ts";

const FILE = join(import.meta.dirname, "..", "..", "docker", "monitoring", "alert-enricher-dashboard.json");
/** Labels a prometheus-operator scrape adds to every series of the target. */
const TARGET_LABELS = new Set(["job", "instance", "namespace", "service", "endpoint", "pod", "container"]);
/** Prometheus's own per-target series. */
const SCRAPE_SERIES = new Set(["up"]);
/** What a person opening the dashboard looks for, per the issue: each must be on it. */
const REQUIRED_METRICS = [
  "enricher_notifications_received_total",
  "enricher_notifications_rejected_total",
  "enricher_playbook_runs_total",
  "enricher_playbook_duration_seconds_bucket",
  "enricher_step_failures_total",
  "enricher_deliveries_total",
  "enricher_queue_depth",
  "enricher_backend_up",
  "enricher_backend_circuit_open",
  "enricher_http_request_duration_seconds_bucket",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
];

interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(FILE, "utf8")) as Dashboard;
const queryPanels = dashboard.panels.filter((panel) => panel.type !== "row");
const queries = queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, ...target })));

/** Grafana's variables as Prometheus would see them once Grafana has filled them in. */
function interpolate(expr: string): string {
  return expr.replace(/\$(?:\{(\w+)(?::\w+)?\}|(\w+))/g, (_, braced: string | undefined, bare: string | undefined) =>
    /^__(rate_)?interval|^__range/.test(braced ?? bare ?? "") ? "5m" : ".+",
  );
}

interface Selector {
  metric: string;
  matchers: Array<{ label: string; op: string; value: string }>;
}

/** The metric selectors and grouping labels of an expression, from Prometheus' own grammar. */
function readExpr(expr: string): { selectors: Selector[]; grouping: string[] } {
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const text = (node: { from: number; to: number }) => expr.slice(node.from, node.to);
  parser.parse(expr).iterate({
    enter(node) {
      if (node.name === "VectorSelector") {
        const metric = node.node.getChild("Identifier");
        const matchers = node.node
          .getChild("LabelMatchers")
          ?.getChildren("UnquotedLabelMatcher")
          .map((m) => ({
            label: text(m.getChild("LabelName") ?? m),
            op: text(m.getChild("MatchOp") ?? m),
            value: JSON.parse(text(m.getChild("StringLiteral") ?? m)) as string,
          }));
        selectors.push({ metric: metric ? text(metric) : "", matchers: matchers ?? [] });
      }
      if (node.name === "GroupingLabels") for (const label of node.node.getChildren("LabelName")) grouping.push(text(label));
    },
  });
  return { selectors, grouping };
}

describe("the Grafana dashboard", () => {
  const registered = new Map<string, Set<string>>();

  beforeAll(async () => {
    const { registry } = createMetrics();
    for (const metric of await registry.getMetricsAsJSON()) {
      const labels = new Set((registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? []);
      if (String(metric.type) === "histogram") {
        registered.set(`${metric.name}_bucket`, new Set([...labels, "le"]));
        registered.set(`${metric.name}_sum`, labels);
        registered.set(`${metric.name}_count`, labels);
      } else registered.set(metric.name, labels);
    }
  });

  it("is a dashboard Grafana imports: a uid, unique panel ids, each panel placed, each query with a refId", () => {
    expect(dashboard.title).toBe("alert-enricher");
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.w, panel.title).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
    for (const panel of queryPanels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });

  it("asks for the data source and reads it through the variable, so it works with any Prometheus", () => {
    const datasource = dashboard.templating.list.find((variable) => variable.name === "datasource");
    expect(datasource).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const target of panel.targets ?? []) expect(target.datasource, panel.title).toEqual(panel.datasource);
    }
  });

  it("every query is PromQL that Prometheus parses once Grafana's variables are filled in", () => {
    expect(queries.length).toBeGreaterThan(10);
    for (const { panel, expr } of queries) {
      expect(expr, panel).toEqual(expect.any(String));
      expect(checkPromQL(interpolate(expr ?? "")), `${panel}: ${expr}`).toEqual([]);
    }
  });

  it("the checks catch a query that does not parse or reads a metric the service does not have", () => {
    expect(checkPromQL(interpolate('sum by (le) (rate(enricher_deliveries_total{job=~"$job"}[$__rate_interval])'))).not.toEqual([]);
    const { selectors, grouping } = readExpr('sum by (sink) (rate(enricher_process_cpu_seconds_total{job=~".+"}[5m])) / on (job) up');
    expect(selectors.map((s) => s.metric)).toEqual(["enricher_process_cpu_seconds_total", "up"]);
    expect(grouping).toEqual(["sink", "job"]);
    expect(registered.has("enricher_process_cpu_seconds_total")).toBe(false);
  });

  it("reads only metrics the service registers (its own and Node's standard process_* and nodejs_*), or up", () => {
    const read = new Set<string>();
    for (const { panel, expr } of queries) {
      for (const { metric } of readExpr(interpolate(expr ?? "")).selectors) {
        expect(registered.has(metric) || SCRAPE_SERIES.has(metric), `${panel}: ${metric}`).toBe(true);
        read.add(metric);
      }
    }
    for (const metric of REQUIRED_METRICS) expect(read, metric).toContain(metric);
  });

  it("filters every series by the namespace and job variables, and groups and names series only by labels they have", () => {
    for (const { panel, expr, legendFormat } of queries) {
      const { selectors, grouping } = readExpr(expr ?? "");
      const known = new Set([...TARGET_LABELS, ...selectors.flatMap((s) => [...(registered.get(s.metric) ?? [])])]);
      for (const { metric, matchers } of selectors) {
        expect(matchers, `${panel}: ${metric}`).toEqual(
          expect.arrayContaining([
            { label: "namespace", op: "=~", value: "$namespace" },
            { label: "job", op: "=~", value: "$job" },
          ]),
        );
        for (const { label } of matchers) expect(known.has(label), `${panel}: ${metric}{${label}}`).toBe(true);
      }
      for (const label of grouping) expect(known.has(label), `${panel}: by (${label})`).toBe(true);
      for (const [, label] of (legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g))
        expect(grouping, `${panel}: legend {{${label}}}`).toContain(label);
    }
  });

  it("offers the namespaces and jobs of the metric every replica exports", () => {
    for (const name of ["namespace", "job"]) {
      const variable = dashboard.templating.list.find((v) => v.name === name);
      const query = typeof variable?.query === "string" ? variable.query : (variable?.query.query ?? "");
      const match = /^label_values\((\w+)(\{[^}]*\})?, (\w+)\)$/.exec(query);
      expect(match, `${name}: ${query}`).not.toBeNull();
      expect(registered.has(match?.[1] ?? ""), `${name}: ${query}`).toBe(true);
      expect(match?.[3]).toBe(name);
    }
  });
});
