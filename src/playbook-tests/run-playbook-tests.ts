// Runs rules/tests/*.yaml the way `promtool test rules` runs alert-rule tests: each case's cluster state is served by
// an in-process Kubernetes API server and read through the real client, PromQL steps answer from the case's results,
// and the diagnosis must name the expected cause with the expected evidence.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { diagnose } from "../diagnosis/diagnose.ts";
import type { CompiledPlaybook } from "../engine/load-playbooks.ts";
import { parseDuration } from "../engine/playbook.ts";
import type { StepSources } from "../engine/run-playbook.ts";
import type { Alert, AlertmanagerPayload } from "../model/alertmanager.ts";
import type { AlertDiagnosis } from "../model/diagnosis.ts";
import { createKubernetesClient, loadKubeConfig } from "../sources/kubernetes-client.ts";
import { KubernetesSource } from "../sources/kubernetes.ts";
import { LogsSource } from "../sources/logs.ts";
import type { SourceOutput } from "../sources/source.ts";
import { type ClusterState, type FakeKubeApi, type KubeObject, startFakeKubeApi } from "./fixture-cluster.ts";
import {
  type AlertFixture,
  type ClusterFixture,
  type PrometheusFixture,
  type TestCase,
  type TestFile,
  testFileSchema,
} from "./test-file.ts";

export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  /** What differed, line by line, as a person would read a diff. */
  problems: string[];
}

const validateTestFile = new Ajv({ allErrors: true, strict: false }).compile(testFileSchema);

/** "now-5m" → an RFC 3339 time that far before `now`, anywhere in the fixture; other values are left as they are. */
function resolveTimes<T>(value: T, now: number): T {
  if (typeof value === "string") {
    const match = /^now(?:([-+])(\d+(?:ms|s|m|h)))?$/.exec(value);
    if (!match) return value;
    const offset = match[2] ? parseDuration(match[2]) * (match[1] === "-" ? -1 : 1) : 0;
    return new Date(now + offset).toISOString() as T;
  }
  if (Array.isArray(value)) return value.map((v) => resolveTimes(v, now)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTimes(v, now)])) as T;
  }
  return value;
}

function clusterState(defaults: ClusterFixture | undefined, own: ClusterFixture | undefined): ClusterState {
  const removed = (object: KubeObject) =>
    (own?.remove ?? []).some(
      (r) =>
        r.kind === object.kind &&
        r.name === object.metadata.name &&
        (r.namespace ?? object.metadata.namespace) === object.metadata.namespace,
    );
  return {
    objects: [...(defaults?.objects ?? []).filter((o) => !removed(o)), ...(own?.objects ?? [])],
    logs: { ...defaults?.logs, ...own?.logs },
  };
}

function alertOf(playbook: CompiledPlaybook, defaults: AlertFixture | undefined, own: AlertFixture | undefined): Alert {
  const labels = { alertname: playbook.alertNames[0] ?? "", ...defaults?.labels, ...own?.labels };
  return {
    status: "firing",
    labels,
    annotations: { ...defaults?.annotations, ...own?.annotations },
    startsAt: own?.startsAt ?? defaults?.startsAt ?? new Date().toISOString(),
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "",
    fingerprint: "0000000000000000",
  };
}

function prometheusOutput(fixture: PrometheusFixture | undefined, query: string, now: number): SourceOutput {
  if (fixture === undefined) return { data: { series: [], count: 0, value: null }, request: query, summary: "no series" };
  if (Array.isArray(fixture)) {
    const series = fixture.map((s) => ({ labels: s.labels ?? {}, value: s.value }));
    return { data: { series, count: series.length, value: series[0]?.value ?? null }, request: query, summary: `${series.length} series` };
  }
  const stepMs = parseDuration(fixture.step ?? "1m");
  const series = fixture.range.map((s) => {
    const points = s.values.map((v, i) => ({ t: new Date(now - (s.values.length - 1 - i) * stepMs).toISOString(), v }));
    const values = s.values;
    return {
      labels: s.labels ?? {},
      points,
      min: Math.min(...values),
      max: Math.max(...values),
      avg: values.reduce((a, b) => a + b, 0) / (values.length || 1),
      last: values.at(-1) ?? 0,
    };
  });
  return { data: { series, count: series.length }, request: query, summary: `${series.length} series` };
}

export interface PreparedCase {
  alert: Alert;
  /** Kubernetes reads go to the case's cluster through the real client; PromQL and audit steps answer from the case. */
  sources: StepSources;
  cluster: FakeKubeApi;
  close(): Promise<void>;
}

/** Serves a case's cluster state and answers its PromQL and audit steps: what a test, or the demo, runs a playbook against. */
export async function prepareCase(
  playbook: CompiledPlaybook,
  spec: TestFile,
  testCase: TestCase,
  userAgent: string,
): Promise<PreparedCase> {
  const now = Date.now();
  const state = resolveTimes(clusterState(spec.cluster, testCase.cluster), now);
  const alert = resolveTimes(alertOf(playbook, spec.alert, testCase.alert), now);
  const prometheus = { ...spec.prometheus, ...testCase.prometheus };
  const cluster = await startFakeKubeApi(state);
  const client = createKubernetesClient(loadKubeConfig(cluster.kubeconfigPath), userAgent);
  const objects = new KubernetesSource(client);
  const logs = new LogsSource(client);
  const sources: StepSources = {
    kubernetes: (request, signal) => objects.read(request, signal),
    logs: (request, signal) => logs.read(request, signal),
    prometheus: async (request, _signal, context) => prometheusOutput(prometheus[context.stepId], request.query, now),
    ...(testCase.audit
      ? {
          audit: async (_request, _signal, context) => {
            const rows = testCase.audit?.[context.stepId] ?? [];
            return { data: { rows, count: rows.length }, request: context.stepId, summary: `${rows.length} rows` };
          },
        }
      : {}),
  };
  return { alert, sources, cluster, close: () => cluster.close() };
}

export function payloadFor(alert: Alert): AlertmanagerPayload {
  return {
    version: "4",
    groupKey: `{}:{alertname="${alert.labels.alertname}"}`,
    truncatedAlerts: 0,
    status: "firing",
    receiver: "rules-test",
    groupLabels: { alertname: alert.labels.alertname ?? "" },
    commonLabels: alert.labels,
    commonAnnotations: alert.annotations,
    externalURL: "",
    alerts: [alert],
  };
}

async function runCase(file: string, playbook: CompiledPlaybook, spec: TestFile, testCase: TestCase): Promise<CaseResult> {
  const prepared = await prepareCase(playbook, spec, testCase, "alert-enricher/rules-test");
  try {
    const diagnosis = await diagnose("rules-test", payloadFor(prepared.alert), {
      playbooks: [playbook],
      sources: prepared.sources,
      limits: { stepTimeoutMs: 5000, deadlineMs: 20_000, listLimit: 500, logTailLines: 2000, logLimitBytes: 1024 * 1024 },
      maxPlaybookRuns: 1,
    });
    const problems = compare(testCase, diagnosis.alerts[0] as AlertDiagnosis);
    const writes = prepared.cluster.requests.filter((r) => r.method !== "GET");
    if (writes.length > 0)
      problems.push(`the playbook tried to write to the cluster: ${writes.map((w) => `${w.method} ${w.path}`).join(", ")}`);
    return { file, name: testCase.name, passed: problems.length === 0, problems };
  } finally {
    await prepared.close();
  }
}

function compare(testCase: TestCase, result: AlertDiagnosis): string[] {
  const expected = testCase.expect;
  const problems: string[] = [];
  const top = result.causes[0];
  const ranking = result.causes.map((c) => `${c.id} ${Math.round(c.confidence * 100)}%`).join(", ");
  if (top?.id !== expected.cause) {
    problems.push(
      `expected top cause: ${expected.cause}`,
      `     got top cause: ${top ? `${top.id} — ${top.summary}` : "none"}`,
      `  causes ranked: ${ranking}`,
    );
  }
  if (expected.summary && !top?.summary.includes(expected.summary)) {
    problems.push(
      `summary should contain: ${JSON.stringify(expected.summary)}`,
      `          summary was: ${JSON.stringify(top?.summary ?? "")}`,
    );
  }
  const evidence = top?.evidence.map((e) => e.text) ?? [];
  for (const wanted of expected.evidence ?? []) {
    if (!evidence.some((text) => text.includes(wanted))) problems.push(`missing evidence: ${JSON.stringify(wanted)}`);
  }
  if ((expected.evidence ?? []).some((wanted) => !evidence.some((text) => text.includes(wanted)))) {
    problems.push("  evidence was:", ...evidence.map((text) => `    - ${text}`));
  }
  const remediation = top?.remediation ?? [];
  for (const wanted of expected.remediation ?? []) {
    if (!remediation.some((text) => text.includes(wanted)))
      problems.push(`missing remediation: ${JSON.stringify(wanted)} (was: ${JSON.stringify(remediation)})`);
  }
  for (const absent of expected.absent ?? []) {
    if (result.causes.some((c) => c.id === absent))
      problems.push(`cause ${absent} should not be in the diagnosis (causes ranked: ${ranking})`);
  }
  if (expected.partial !== undefined && result.partial !== expected.partial)
    problems.push(`expected partial: ${expected.partial}, got ${result.partial}`);
  // A step that failed reads nothing, so a case could pass for the wrong reason: unless the case is about a partial
  // diagnosis, every step must have read what it asked for.
  const failed = result.steps.filter((s) => s.status === "failed" || s.status === "timeout");
  if (failed.length > 0 && expected.partial !== true) {
    problems.push(
      "steps that failed (fix the fixture, or expect partial: true):",
      ...failed.map((s) => `  - ${s.id}: ${s.error ?? s.summary}`),
    );
  }
  return problems;
}

export class PlaybookTestFileError extends Error {}

export interface LoadedTestFile {
  file: string;
  spec: TestFile;
  playbook: CompiledPlaybook;
}

/** Reads every test file in `testsDir`; a file naming an unknown playbook or failing its schema is an error. */
export function loadTestFiles(testsDir: string, playbooks: CompiledPlaybook[]): LoadedTestFile[] {
  const files = readdirSync(testsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const loaded: LoadedTestFile[] = [];
  for (const name of files) {
    const file = join(testsDir, name);
    let spec: unknown;
    try {
      spec = parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new PlaybookTestFileError(`${file}: ${(error as Error).message.split("\n")[0]}`);
    }
    if (!validateTestFile(spec)) {
      const error = validateTestFile.errors?.[0];
      throw new PlaybookTestFileError(`${file}: ${error?.instancePath || "/"} ${error?.message ?? "is invalid"}`);
    }
    const testFile = spec as TestFile;
    const playbook = playbooks.find((p) => p.name === testFile.playbook || p.alertNames.includes(testFile.playbook));
    if (!playbook) throw new PlaybookTestFileError(`${file}: no playbook ${testFile.playbook} in the rules`);
    loaded.push({ file, spec: testFile, playbook });
  }
  return loaded;
}

/** Runs every case of every test file in `testsDir` against `playbooks`. */
export async function runPlaybookTests(testsDir: string, playbooks: CompiledPlaybook[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const { file, spec, playbook } of loadTestFiles(testsDir, playbooks)) {
    for (const testCase of spec.cases) results.push(await runCase(file, playbook, spec, testCase));
  }
  return results;
}

export function formatResults(results: CaseResult[]): string {
  const lines: string[] = [];
  let file = "";
  for (const result of results) {
    if (result.file !== file) {
      file = result.file;
      lines.push(file);
    }
    lines.push(`  ${result.passed ? "✓" : "✗"} ${result.name}`);
    for (const problem of result.problems) lines.push(`      ${problem}`);
  }
  const passed = results.filter((r) => r.passed).length;
  lines.push("", `${passed} passed, ${results.length - passed} failed`);
  return lines.join("\n");
}
