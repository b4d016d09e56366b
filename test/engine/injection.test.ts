// Template injection through the real sources: alert labels an attacker controls go into PromQL sent to (fake)
// Prometheus, into Kubernetes API paths and selectors sent to the (fake) API server, and into remediation commands,
// wired as the service wires them (createSources). Each must keep the meaning the rule author wrote.
// promtool (Debian's `prometheus` package; .ci/install-test-deps installs it) checks the PromQL with Prometheus' own
// parser and engine; a missing promtool fails, never skips.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../src/config.ts";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { type CompiledPlaybook, loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import type { StepSources } from "../../src/engine/run-playbook.ts";
import { createSources } from "../../src/service.ts";
import type { AlertDiagnosis } from "../../src/model/diagnosis.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { promqlParseError } from "../support/fake-prometheus.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { event } from "../support/kube-objects.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { compilePlaybook } from "../support/playbook-fixtures.ts";

const PROMQL_INJECTION = 'x"}[5m]) or vector(1) #';

/** A playbook that puts alert labels in every templated place: namespace, name, selectors, logs, PromQL, commands. */
const PROBE = `
alert: InjectionProbe
title: Labels in every templated field
runbook: none
steps:
  - id: pods
    title: Pods of the app in the alert's namespace
    kubernetes: { apiVersion: v1, kind: Pod, namespace: "{{ alert.labels.namespace }}", labelSelector: "app={{ alert.labels.app }}" }
  - id: pod
    title: The alert's pod
    kubernetes: { apiVersion: v1, kind: Pod, namespace: monitoring, name: "{{ alert.labels.pod }}" }
  - id: pod_events
    title: Events of the alert's pod
    kubernetes: { apiVersion: v1, kind: Event, namespace: monitoring, fieldSelector: "involvedObject.name={{ alert.labels.pod }}" }
  - id: pod_logs
    title: The pod's logs
    logs: { namespace: "{{ alert.labels.namespace }}", pod: "{{ alert.labels.pod }}", patterns: { error: error } }
  - id: requests
    title: The client's request rate
    prometheus: { query: 'sum(rate(rest_client_requests_total{instance="{{ alert.labels.instance }}"}[5m]))' }
causes: []
noCorrelation:
  title: Checked
  summary: "Checked {{ alert.labels.namespace }}/{{ alert.labels.pod }} for {{ alert.labels.app }}"
  remediation:
    - kubectl -n {{ alert.labels.namespace | namespace }} get pods -l app={{ alert.labels.app | labelValue }}
    - kubectl -n {{ alert.labels.namespace | namespace }} logs {{ alert.labels.pod | name }} --tail=100
`;

function probePlaybook(): CompiledPlaybook {
  return compilePlaybook(PROBE, "InjectionProbe.yaml");
}

let cluster: DemoCluster;
let sources: StepSources;
const shipped = loadPlaybooks("rules");

beforeAll(async () => {
  const scenario = scenarioNamed("credentials-rejected");
  // Two events tell a kept field selector from an injected one: only the second has the whole hostile value as its name.
  const events = [
    event({ name: "web-killing", namespace: "monitoring", involvedObject: { kind: "Pod", name: "web" }, reason: "Killing", message: "a" }),
    event({
      name: "weird-backoff",
      namespace: "monitoring",
      involvedObject: { kind: "Pod", name: "web,reason=Killing" },
      reason: "BackOff",
      message: "b",
    }),
  ];
  cluster = await startDemoCluster({
    cluster: { ...scenario.cluster, objects: [...scenario.cluster.objects, ...events] },
    prometheus: scenario.prometheus,
  });
  // As service.ts wires them; no read is reused between tests, so each test sees its own requests.
  sources = createSources(loadConfig({ ...cluster.env, ALLOW_UNAUTHENTICATED: "true", READ_CACHE_SECONDS: "0" }));
});

afterAll(async () => {
  await cluster?.close();
});

beforeEach(() => {
  cluster.prometheus.queries.length = 0;
  cluster.kube.requests.length = 0;
});

async function diagnoseAlert(labels: Record<string, string>, playbooks: CompiledPlaybook[]): Promise<AlertDiagnosis> {
  const payload = kubeClientErrorsPayload(labels);
  const limits = { stepTimeoutMs: 5000, deadlineMs: 10_000, listLimit: 100, logTailLines: 100, logLimitBytes: 100_000 };
  const diagnosis = await diagnose("n1", payload, { playbooks, sources, limits, maxPlaybookRuns: 1, charts: false });
  return diagnosis.alerts[0] as AlertDiagnosis;
}

const stepOf = (a: AlertDiagnosis, id: string) => a.steps.find((s) => s.id === id);

interface PromtoolRun {
  status: number | null;
  output: string;
}

/** `promtool test rules`: loads `queries` as recording rules (Prometheus' parser) and evaluates `test` against series. */
function promtool(queries: string[], test: Record<string, unknown>): PromtoolRun {
  const dir = mkdtempSync(join(tmpdir(), "injection-promtool-"));
  try {
    const rules = { groups: [{ name: "recorded", rules: queries.map((expr, i) => ({ record: `recorded:query_${i}`, expr })) }] };
    writeFileSync(join(dir, "rules.yaml"), stringify(rules));
    writeFileSync(join(dir, "test.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests: [test] }));
    const run = spawnSync("promtool", ["test", "rules", "test.yaml"], { cwd: dir, encoding: "utf8", timeout: 25_000 });
    if (run.error) throw new Error(`promtool could not run (${run.error.message}). Install it with \`apt-get install prometheus\`.`);
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("a PromQL injection in a label, through the KubeClientErrors playbook and the Prometheus source", () => {
  it("stays inside the label matcher's string: every query parses and selects only the series with that exact instance", async () => {
    const labels = { ...scenarioNamed("credentials-rejected").alertLabels, instance: PROMQL_INJECTION };
    const diagnosed = await diagnoseAlert(labels, shipped);
    expect(diagnosed.playbook).toBe("KubeClientErrors");

    const withInstance = cluster.prometheus.queries.map((q) => q.query).filter((q) => q.includes("instance="));
    expect(withInstance.length).toBeGreaterThanOrEqual(3);
    for (const query of withInstance) {
      expect(query).toContain('instance="x\\"}[5m]) or vector(1) #"');
      expect(promqlParseError(query)).toBeUndefined();
    }
    // Prometheus answered every one: a query it could not parse would fail its step.
    const promSteps = diagnosed.steps.filter((s) => s.kind === "prometheus");
    expect(promSteps.filter((s) => s.status === "failed" || s.status === "timeout")).toEqual([]);
    expect(promSteps.filter((s) => s.request.includes("instance=")).map((s) => s.status)).toEqual(withInstance.map(() => "ok"));

    // Prometheus' own engine: the ratio query sees the hostile instance's 401s (1/s of 2/s) and nothing else; had the
    // value escaped its string, `or vector(1)` would add a series and the decoy instance "x" would count.
    const ratio = withInstance.find((q) => q.startsWith("sum by (code)"));
    expect(ratio).toBeDefined();
    const series = (instance: string, code: string, perMinute: number) => ({
      series: `rest_client_requests_total{job="kube-state-metrics", instance=${JSON.stringify(instance)}, code="${code}"}`,
      values: `0+${perMinute}x20`,
    });
    const run = promtool(withInstance, {
      interval: "1m",
      input_series: [
        series(PROMQL_INJECTION, "401", 60),
        series(PROMQL_INJECTION, "200", 60),
        series("x", "401", 6000),
        series("x", "200", 60),
      ],
      promql_expr_test: [{ expr: ratio, eval_time: "10m", exp_samples: [{ labels: '{code="401"}', value: 0.5 }] }],
    });
    expect(run.output).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });

  it.each([
    ["a backslash before the quote", 'a\\"} or up{x="', 'instance="a\\\\\\"} or up{x=\\""'],
    ["a newline", 'x"}\nor vector(1)', 'instance="x\\"}\\nor vector(1)"'],
    ["a trailing backslash", "x\\", 'instance="x\\\\"'],
  ])("escapes %s so the query still parses", async (_what, instance, expected) => {
    await diagnoseAlert({ ...scenarioNamed("credentials-rejected").alertLabels, instance }, shipped);
    const withInstance = cluster.prometheus.queries.map((q) => q.query).filter((q) => q.includes("instance="));
    expect(withInstance.length).toBeGreaterThanOrEqual(3);
    for (const query of withInstance) {
      expect(query).toContain(expected);
      expect(promqlParseError(query)).toBeUndefined();
    }
    const run = promtool(withInstance, { interval: "1m", input_series: [], promql_expr_test: [] });
    expect(run.output).toContain("SUCCESS");
  });
});

describe("a label in a regex matcher (issue #11, item 9), through the shipped queries and Prometheus' own engine", () => {
  const query = (playbook: string, step: string, scope: Record<string, unknown>) => {
    const template = shipped.find((p) => p.name === playbook)?.steps.find((s) => s.id === step)?.fields.query;
    if (!template) throw new Error(`no step ${step} in ${playbook}`);
    return template.render(scope);
  };
  const up = (job: string) => ({ series: `up{job=${JSON.stringify(job)}, instance="i"}`, values: "1x5" });

  it('matches job=".+" literally in KubeAPIErrorBudgetBurn\'s up query, not every target', () => {
    const expr = query("KubeAPIErrorBudgetBurn", "apiserver_up", { alert: { labels: { alertname: "KubeAPIDown", job: ".+" } }, steps: {} });
    expect(expr).toBe('up{job=~"\\\\.\\\\+"}');
    const run = promtool([expr], {
      interval: "1m",
      input_series: [up(".+"), up("apiserver"), up("node-exporter")],
      promql_expr_test: [{ expr, eval_time: "2m", exp_samples: [{ labels: 'up{job=".+", instance="i"}', value: 1 }] }],
    });
    expect(run.output).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });

  it("matches exactly the API server's usual job names when the alert has no job label", () => {
    const expr = query("KubeAPIErrorBudgetBurn", "apiserver_up", { alert: { labels: { alertname: "KubeAPIDown" } }, steps: {} });
    expect(expr).toBe('up{job=~"apiserver|kube-apiserver|kubernetes-apiservers"}');
    const run = promtool([expr], {
      interval: "1m",
      input_series: [up("apiserver"), up("kube-apiserver"), up("kubernetes-apiservers"), up("apiserver-proxy")],
      promql_expr_test: [
        {
          expr: `count(${expr})`,
          eval_time: "2m",
          exp_samples: [{ labels: "{}", value: 3 }],
        },
      ],
    });
    expect(run.output).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });

  it("selects the backend pods by their exact names in KubeAggregatedAPIErrors, a dot matching only a dot", () => {
    const pods = ["metrics-server-6d94bc8694-7xq2k", "metrics.server-0"];
    const scope = {
      alert: { labels: {} },
      steps: {
        backing_service: { object: { metadata: { namespace: "kube-system" } } },
        backend_pods: { items: pods.map((name) => ({ metadata: { name } })) },
      },
    };
    const expr = query("KubeAggregatedAPIErrors", "memory_vs_limit", scope);
    expect(expr).toContain('pod=~"metrics-server-6d94bc8694-7xq2k|metrics\\\\.server-0"');
    const series = (metric: string, pod: string, value: number) => ({
      series: `${metric}{namespace="kube-system", pod="${pod}", container="c", resource="memory"}`,
      values: `${value}x40`,
    });
    const run = promtool([expr], {
      interval: "1m",
      input_series: [
        series("container_memory_working_set_bytes", "metrics.server-0", 50),
        series("kube_pod_container_resource_limits", "metrics.server-0", 100),
        // "metricsXserver-0" would match an unquoted "metrics.server-0".
        series("container_memory_working_set_bytes", "metricsXserver-0", 99),
        series("kube_pod_container_resource_limits", "metricsXserver-0", 100),
      ],
      promql_expr_test: [{ expr, eval_time: "35m", exp_samples: [{ labels: '{pod="metrics.server-0", container="c"}', value: 0.5 }] }],
    });
    expect(run.output).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });
});

describe("a label value that looks like a template", () => {
  it("is printed literally in the diagnosis and the queries, never evaluated", async () => {
    const labels = { ...scenarioNamed("credentials-rejected").alertLabels, job: "{{ alert.labels.secret }}", secret: "do-not-show" };
    const diagnosed = await diagnoseAlert(labels, shipped);
    const cause = diagnosed.causes[0];
    expect(cause?.id).toBe("authentication_failure");
    expect(cause?.summary).toContain("rejecting the credentials of {{ alert.labels.secret }}");
    expect(JSON.stringify(diagnosed.causes)).not.toContain("do-not-show");
    const queries = cluster.prometheus.queries.map((q) => q.query);
    expect(queries.some((q) => q.includes('job="{{ alert.labels.secret }}"'))).toBe(true);
    expect(queries.join("\n")).not.toContain("do-not-show");
  });
});

describe("labels in Kubernetes reads and remediation commands", () => {
  const base = { alertname: "InjectionProbe", instance: "10.244.1.17:8443", app: "web", pod: "web", namespace: "monitoring" };

  it("withholds the commands for a namespace with a command substitution, says why, and reads nothing with it", async () => {
    const diagnosed = await diagnoseAlert({ ...base, namespace: "$(rm -rf /)", pod: "web; reboot" }, [probePlaybook()]);
    const withheld = "# command withheld: '$(rm -rf /)' from label namespace is not a namespace name, a DNS-1123 label such as kube-system";
    expect(diagnosed.causes[0]?.remediation).toEqual([withheld, withheld]);
    expect(stepOf(diagnosed, "pods")?.status).toBe("skipped");
    expect(stepOf(diagnosed, "pods")?.summary).toBe('not run: "$(rm -rf /)" is not a valid Kubernetes object name');
    expect(cluster.kube.requests.map((r) => r.path).join("\n")).not.toMatch(/rm|reboot/);
  });

  it("refuses a namespace that climbs out of its path, skipping the step with the reason and requesting nothing under it", async () => {
    const diagnosed = await diagnoseAlert({ ...base, namespace: "kube-system/../../etc" }, [probePlaybook()]);
    for (const id of ["pods", "pod_logs"]) {
      expect(stepOf(diagnosed, id)?.status).toBe("skipped");
      expect(stepOf(diagnosed, id)?.summary).toBe('not run: "kube-system/../../etc" is not a valid Kubernetes object name');
    }
    const paths = cluster.kube.requests.map((r) => r.path);
    expect(paths.filter((p) => p.includes("..") || p.includes("etc") || p.includes("kube-system"))).toEqual([]);
    // The steps that do not use the namespace still ran.
    expect(stepOf(diagnosed, "pod")?.status).toBe("ok");
    expect(paths).toContain("/api/v1/namespaces/monitoring/pods/web");
  });

  it.each([
    ["a comma that would add a requirement", "web,tier!=frontend", "'web,tier!=frontend'"],
    ["an equals sign", "web=x", "'web=x'"],
    ["a set expression", "web) ,env in (prod", "'web) ,env in (prod'"],
  ])("refuses a label selector value with %s instead of sending a different selector", async (_what, app, quoted) => {
    const diagnosed = await diagnoseAlert({ ...base, app }, [probePlaybook()]);
    expect(stepOf(diagnosed, "pods")?.status).toBe("skipped");
    expect(stepOf(diagnosed, "pods")?.summary).toBe(`not run: ${JSON.stringify(app)} is not a valid label value`);
    expect(cluster.kube.requests.filter((r) => r.query.labelSelector !== undefined)).toEqual([]);
    // Nor is the command shown with it: a note says why.
    expect(diagnosed.causes[0]?.remediation[0]).toBe(`# command withheld: ${quoted} from label app is not a label value such as v1.2.3`);
  });

  it("escapes commas and equals signs in a field selector, so the value matches one name and adds no requirement", async () => {
    const diagnosed = await diagnoseAlert({ ...base, pod: "web,reason=Killing" }, [probePlaybook()]);
    const events = stepOf(diagnosed, "pod_events");
    expect(events?.status).toBe("ok");
    const sent = cluster.kube.requests.find((r) => r.path === "/api/v1/namespaces/monitoring/events");
    expect(sent?.query.fieldSelector).toBe("involvedObject.name=web\\,reason\\=Killing");
    // Unescaped it would have read the "Killing" event of pod web; escaped it reads the one event with that whole name.
    expect(events?.summary).toBe("1 Event");
    expect(stepOf(diagnosed, "pod")?.status).toBe("skipped");
  });
});
