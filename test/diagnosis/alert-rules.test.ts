// The alert rules the service knows, and the comparison of a generatorURL's expression (as Prometheus prints it) with
// a rule's (as its file wrote it). The printed forms below are what Prometheus 2.42 itself gave for each rule
// (/api/v1/rules `query`, the same printer its generatorURL uses).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { generatorExpression } from "../../src/diagnosis/alert-chart-query.ts";
import { canonicalPromQL, KnownAlertRules, readAlertRulesFile } from "../../src/diagnosis/alert-rules.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { loadKnownAlertRules } from "../../src/service.ts";
import { realPayload } from "../support/payloads.ts";

const SHIPPED = fileURLToPath(new URL("../../docker/prometheus/alert-enricher-alerts.rules.yml", import.meta.url));

/** Each shipped rule as Prometheus 2.42 printed it. */
const PRINTED: Record<string, string> = {
  KubeClientErrors:
    '(sum by (cluster, instance, job, namespace) (rate(rest_client_requests_total{code=~"5..",job="apiserver"}[5m])) / sum by (cluster, instance, job, namespace) (rate(rest_client_requests_total{job="apiserver"}[5m]))) > 0.01',
  KubernetesApiClientErrors:
    '(sum by (instance, job) (rate(rest_client_requests_total{code=~"(4|5).."}[1m])) / sum by (instance, job) (rate(rest_client_requests_total[1m]))) * 100 > 1 and sum by (instance, job) (rate(rest_client_requests_total[1m])) > 0',
  KubeAggregatedAPIErrors:
    'sum by (cluster, instance, name, reason) (increase(aggregator_unavailable_apiservice_total{job="apiserver"}[1m])) > 0',
  KubeAggregatedAPIDown:
    '(1 - max by (name, namespace, cluster) (avg_over_time(aggregator_unavailable_apiservice{job="apiserver"}[10m]))) * 100 < 85',
  KubernetesClientCertificateExpiresSoon:
    'histogram_quantile(0.01, sum without (namespace, service, endpoint) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="apiserver"}[5m]))) < 24 * 60 * 60 and on (job, cluster, instance) apiserver_client_certificate_expiration_seconds_count{job="apiserver"} > 0',
  KubernetesClientCertificateExpiresNextWeek:
    'histogram_quantile(0.01, sum without (namespace, service, endpoint) (rate(apiserver_client_certificate_expiration_seconds_bucket{job="apiserver"}[5m]))) < 7 * 24 * 60 * 60 and on (job, cluster, instance) apiserver_client_certificate_expiration_seconds_count{job="apiserver"} > 0',
};

/** Rules written every which way, and how Prometheus 2.42 printed each. */
const WRITTEN_AND_PRINTED: Array<[string, string]> = [
  [
    "sum(apiserver_request:burnrate1h) > (14.40 * 0.01000) and on() sum(apiserver_request:burnrate5m) > (14.40 * 0.01000)",
    "sum(apiserver_request:burnrate1h) > (14.4 * 0.01) and on () sum(apiserver_request:burnrate5m) > (14.4 * 0.01)",
  ],
  [
    `sum by(cluster) (apiserver_request:burnrate1h{job='kube-apiserver', foo!~"a.*"}) / on(cluster) group_left(y) (up offset 5m) > 1e3 unless absent(up @ 100)\n`,
    'sum by (cluster) (apiserver_request:burnrate1h{foo!~"a.*",job="kube-apiserver"}) / on (cluster) group_left (y) (up offset 5m) > 1000 unless absent(up @ 100.000)',
  ],
  [
    'count(count by (git_version) (label_replace(kubernetes_build_info{job!~"kube-dns|coredns"},"git_version","$1","git_version","(v[0-9]*.[0-9]*).*"))) > 1 and rate(x[90s:30s]) > 0.5 and topk(3, x) by (a) > Inf and -x != NaN and x > 0x10 and x < bool -2 ^ 2 and {__name__="y", a="b"} > 1 and max_over_time(x[120m] offset -1h) > 0',
    'count(count by (git_version) (label_replace(kubernetes_build_info{job!~"kube-dns|coredns"}, "git_version", "$1", "git_version", "(v[0-9]*.[0-9]*).*"))) > 1 and rate(x[1m30s:30s]) > 0.5 and topk by (a) (3, x) > +Inf and -x != NaN and x > 16 and x < bool -2 ^ 2 and {__name__="y",a="b"} > 1 and max_over_time(x[2h] offset -1h) > 0',
  ],
  [
    "avg without(a,b) (x) > 2.50 and sum(rate(y{a=~'x\\'y'}[1d])) without (c) > 0 and quantile(0.9, x) > 1 and count_values(\"v\", x) > 0",
    'avg without (a, b) (x) > 2.5 and sum without (c) (rate(y{a=~"x\'y"}[1d])) > 0 and quantile(0.9, x) > 1 and count_values("v", x) > 0',
  ],
  [
    'x / on(a) group_left y > 1 AND SUM(x) BY (a) > +1 and sum by () (x) > 0 and x{a="b",} > 0 and z{} > 1 # trailing comment',
    'x / on (a) group_left () y > 1 and sum by (a) (x) > 1 and sum(x) > 0 and x{a="b"} > 0 and z > 1',
  ],
  [
    'x @ start() > 0 and rate(x[5m:]) > 0 and sum without() (x) > 0 and y > ignoring() z and label_replace(x, "l", "a\\u00e9\\x41", "", "") > 0',
    'x @ start() > 0 and rate(x[5m:]) > 0 and sum without () (x) > 0 and y > z and label_replace(x, "l", "aéA", "", "") > 0',
  ],
];

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tempFile(name: string, text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), "alert-rules-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("canonicalPromQL", () => {
  it("gives each shipped rule, as its file writes it, the form of Prometheus' own print of it", () => {
    const shipped = readAlertRulesFile(SHIPPED);
    expect(shipped.map((r) => r.alert).sort()).toEqual(Object.keys(PRINTED).sort());
    for (const rule of shipped) expect(canonicalPromQL(rule.expr), rule.alert).toBe(canonicalPromQL(PRINTED[rule.alert] as string));
  });

  it("reads PromQL however it is written as Prometheus prints it", () => {
    for (const [written, printed] of WRITTEN_AND_PRINTED) {
      expect(canonicalPromQL(written), written).toBeDefined();
      expect(canonicalPromQL(written), written).toBe(canonicalPromQL(printed));
    }
  });

  it("reads the expression of a real Alertmanager 0.25 notification's generatorURL as its rule's", () => {
    const payload = realPayload();
    const expr = generatorExpression(payload.alerts[0]?.generatorURL ?? "");
    expect(expr).toBeDefined();
    expect(canonicalPromQL(expr as string)).toBe(
      canonicalPromQL(
        '(sum(rate(rest_client_requests_total{code=~"(4|5).."}[1m])) by (instance, job) / sum(rate(rest_client_requests_total[1m])) by (instance, job)) * 100 > 1',
      ),
    );
  });

  it("keeps expressions that differ in meaning apart", () => {
    const apart: Array<[string, string]> = [
      ["a > 1", "a > 2"],
      ['a{job="x"}', 'a{job="y"}'],
      ['a{job="x"}', 'a{job=~"x"}'],
      ["sum by (a) (x)", "sum without (a) (x)"],
      ["sum by (a, b) (x)", "sum by (b, a) (x)"],
      ["rate(x[5m])", "rate(x[1m])"],
      ["rate(x[5m])", "irate(x[5m])"],
      ["x - 1", "x 1"],
      ['a{l="x y"}', 'a{l="x",y=""}'],
      ["x and y", "x or y"],
      ["x > 0", "x > bool 0"],
      ["x / on (a) y", "x / ignoring (a) y"],
      ["x / on () y", "x / y"],
      ["max_over_time(x[1h] offset 1h)", "max_over_time(x[1h] offset -1h)"],
      ['count by (__name__) ({__name__=~".+"}) > 0', "count by (__name__) (up) > 0"],
    ];
    for (const [a, b] of apart) expect(canonicalPromQL(a), `${a} vs ${b}`).not.toBe(canonicalPromQL(b));
  });

  it("has no form for what it cannot read, so that it matches nothing", () => {
    expect(canonicalPromQL("")).toBeUndefined();
    expect(canonicalPromQL('up{job="x}')).toBeUndefined();
    expect(canonicalPromQL("up § 1")).toBeUndefined();
  });
});

describe("KnownAlertRules", () => {
  const rules = new KnownAlertRules(readAlertRulesFile(SHIPPED));

  it("knows a shipped rule's expression in the generatorURL of its own alert, and gives the rule's own text", () => {
    const shipped = readAlertRulesFile(SHIPPED).find((r) => r.alert === "KubeClientErrors");
    expect(rules.match("KubeClientErrors", PRINTED.KubeClientErrors as string)).toEqual({ expr: shipped?.expr });
  });

  it("does not know an expression under another alert's name, nor an unknown alert, nor another expression", () => {
    expect(rules.match("KubeAggregatedAPIErrors", PRINTED.KubeClientErrors as string)).toEqual({
      reason: "the expression in its generatorURL is not the one of the known KubeAggregatedAPIErrors rule",
    });
    expect(rules.match("KubeAPIErrorBudgetBurn", PRINTED.KubeClientErrors as string)).toEqual({
      reason: "no known alert rule is named KubeAPIErrorBudgetBurn",
    });
    expect(rules.match("KubeClientErrors", 'count by (__name__) ({__name__=~".+"}) > 0')).toEqual({
      reason: "the expression in its generatorURL is not the one of the known KubeClientErrors rule",
    });
    expect(rules.match(undefined, PRINTED.KubeClientErrors as string)).toEqual({ reason: "the alert has no alertname" });
  });
});

describe("readAlertRulesFile", () => {
  it("reads the shipped PrometheusRule like the plain rules file", () => {
    const operator = readAlertRulesFile(SHIPPED.replace("alert-enricher-alerts.rules.yml", "alert-enricher-alerts.prometheusrule.yaml"));
    expect(operator.map(({ alert, expr }) => ({ alert, expr }))).toEqual(
      readAlertRulesFile(SHIPPED).map(({ alert, expr }) => ({ alert, expr })),
    );
  });

  it("reads several documents, skips recording rules, and says which file is not a rules file", () => {
    const path = tempFile(
      "mixin.yaml",
      [
        "apiVersion: monitoring.coreos.com/v1",
        "kind: PrometheusRule",
        "metadata: { name: kube-apiserver-burnrate }",
        "spec:",
        "  groups:",
        "    - name: kube-apiserver-burnrate.rules",
        "      rules:",
        "        - record: apiserver_request:burnrate1h",
        "          expr: sum(rate(apiserver_request_total[1h]))",
        "---",
        "groups:",
        "  - name: kube-apiserver-slos",
        "    rules:",
        "      - alert: KubeAPIErrorBudgetBurn",
        "        expr: sum(apiserver_request:burnrate1h) > (14.40 * 0.01000)",
      ].join("\n"),
    );
    expect(readAlertRulesFile(path)).toEqual([
      { alert: "KubeAPIErrorBudgetBurn", expr: "sum(apiserver_request:burnrate1h) > (14.40 * 0.01000)", file: path },
    ]);
    const notRules = tempFile("config.yaml", "global:\n  scrape_interval: 30s\n");
    expect(() => readAlertRulesFile(notRules)).toThrow(`${notRules} is not a Prometheus rules file`);
    expect(() => readAlertRulesFile(join(tmpdir(), "no-such-rules-file.yml"))).toThrow("could not be read: ENOENT");
  });
});

describe("the rules the service loads at start (loadKnownAlertRules)", () => {
  const logger = createLogger("silent");

  it("knows the shipped rules, and those of ALERT_RULES_FILES besides", () => {
    const extra = tempFile(
      "mixin.rules.yml",
      "groups:\n  - name: slo\n    rules:\n      - alert: KubeAPIErrorBudgetBurn\n        expr: sum(apiserver_request:burnrate1h) > 0.144\n",
    );
    const rules = loadKnownAlertRules(loadConfig({ ALLOW_UNAUTHENTICATED: "true", ALERT_RULES_FILES: extra }), logger);
    expect(rules.names.sort()).toEqual([...Object.keys(PRINTED), "KubeAPIErrorBudgetBurn"].sort());
    expect(rules.match("KubeAPIErrorBudgetBurn", "sum(apiserver_request:burnrate1h) > 0.144")).toEqual({
      expr: "sum(apiserver_request:burnrate1h) > 0.144",
    });
  });

  it("refuses to start, naming ALERT_RULES_FILES, when one of its files cannot be read", () => {
    const missing = join(tmpdir(), "no-such-dir", "rules.yml");
    const start = () => loadKnownAlertRules(loadConfig({ ALLOW_UNAUTHENTICATED: "true", ALERT_RULES_FILES: missing }), logger);
    expect(start).toThrow(ConfigError);
    expect(start).toThrow(`ALERT_RULES_FILES: ${missing} could not be read: ENOENT`);
  });
});
