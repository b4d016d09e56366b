// Runs rules/tests/*.yaml the way `promtool test rules` runs alert-rule tests: each case's cluster state (the base
// cluster, then the file's defaults, then the case's own objects) is served by an in-process Kubernetes API server and
// read through the real client, PromQL steps answer from the case's results, everything happens at the case's fixed
// clock, and the diagnosis must name the expected cause with the expected evidence. A fixture that takes no part in
// the case (fixture-checks.ts, and answers no step asked for) fails it: a misspelling must not pass silently.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { diagnose } from "../diagnosis/diagnose.ts";
import { atTime } from "../engine/expressions.ts";
import type { CompiledPlaybook } from "../engine/load-playbooks.ts";
import { parseDuration } from "../engine/playbook.ts";
import type { StepSources } from "../engine/run-playbook.ts";
import type { Alert, AlertmanagerPayload } from "../model/alertmanager.ts";
import type { AlertDiagnosis } from "../model/diagnosis.ts";
import type { PromQuery } from "../sources/prometheus.ts";
import { createKubernetesClient, loadKubeConfig } from "../sources/kubernetes-client.ts";
import { KubernetesSource } from "../sources/kubernetes.ts";
import { LogsSource } from "../sources/logs.ts";
import type { SourceOutput } from "../sources/source.ts";
import { baseCluster, completeMetadata, layerObjects } from "./base-cluster.ts";
import {
  checkAnswers,
  checkExpectation,
  checkLogs,
  checkObjects,
  checkRemove,
  describeProblem,
  type FixtureProblem,
  parseYaml,
  type Segments,
  type YamlSource,
} from "./fixture-checks.ts";
import { type ClusterState, type FakeKubeApi, type KubeObject, startFakeKubeApi } from "./fixture-cluster.ts";
import { type AlertFixture, DEFAULT_TEST_TIME, type PrometheusFixture, type TestCase, type TestFile, testFileSchema } from "./test-file.ts";

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

/** The case's clock: its own `at`, else its file's, else DEFAULT_TEST_TIME. */
export function caseTime(spec: TestFile, testCase: TestCase): Date {
  return new Date(testCase.at ?? spec.at ?? DEFAULT_TEST_TIME);
}

/** The objects a case starts from before its own: the base cluster (unless the file opts out), then the file's. */
function defaultObjects(
  spec: TestFile,
  testCase: TestCase | undefined,
  at: number,
): { objects: KubeObject[]; logs: Record<string, string> } {
  const fileObjects = resolveTimes(spec.cluster?.objects ?? [], at);
  if (spec.baseCluster === false) return { objects: fileObjects, logs: {} };
  const caseObjects = resolveTimes(testCase?.cluster?.objects ?? [], at);
  const base = baseCluster(at, [...fileObjects, ...caseObjects]);
  return { objects: layerObjects([base.objects, fileObjects]), logs: base.logs ?? {} };
}

/** The cluster a case runs against, at its clock. */
export function caseCluster(spec: TestFile, testCase: TestCase, at: number): ClusterState {
  return assembleCase(spec, testCase, at).state;
}

/** The case's cluster, and the defaults its `remove:` applies to. */
function assembleCase(spec: TestFile, testCase: TestCase, at: number): { state: ClusterState; defaults: KubeObject[] } {
  const defaults = defaultObjects(spec, testCase, at);
  const own = testCase.cluster;
  const removed = (object: KubeObject) =>
    (own?.remove ?? []).some(
      (r) =>
        r.kind === object.kind &&
        r.name === object.metadata.name &&
        (r.namespace ?? object.metadata.namespace) === object.metadata.namespace,
    );
  const objects = layerObjects([defaults.objects.filter((o) => !removed(o)), resolveTimes(own?.objects ?? [], at)]);
  return {
    state: {
      objects: spec.baseCluster === false ? objects : completeMetadata(objects, at),
      logs: { ...defaults.logs, ...spec.cluster?.logs, ...own?.logs },
    },
    defaults: defaults.objects,
  };
}

function alertOf(playbook: CompiledPlaybook, defaults: AlertFixture | undefined, own: AlertFixture | undefined, at: number): Alert {
  const labels = { alertname: playbook.alertNames[0] ?? "", ...defaults?.labels, ...own?.labels };
  return {
    status: "firing",
    labels,
    annotations: { ...defaults?.annotations, ...own?.annotations },
    startsAt: own?.startsAt ?? defaults?.startsAt ?? new Date(at).toISOString(),
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "",
    fingerprint: "0000000000000000",
  };
}

/** A canned answer as Prometheus would give it at `end`: a range answer's values are one per step, the last at `end`. */
function prometheusOutput(fixture: PrometheusFixture | undefined, request: PromQuery, end: number): SourceOutput {
  const query = request.query;
  if (fixture === undefined) return { data: { series: [], count: 0, value: null }, request: query, summary: "no series" };
  if (Array.isArray(fixture)) {
    const series = fixture.map((s) => ({ labels: s.labels ?? {}, value: s.value }));
    return { data: { series, count: series.length, value: series[0]?.value ?? null }, request: query, summary: `${series.length} series` };
  }
  const stepMs = fixture.step ? parseDuration(fixture.step) : (request.stepMs ?? 60_000);
  const series = fixture.range.map((s) => {
    const points = s.values.map((v, i) => ({ t: new Date(end - (s.values.length - 1 - i) * stepMs).toISOString(), v }));
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
  /** The clock the case was prepared at: run the playbook inside atTime(at, …) so its time functions agree. */
  at: Date;
  /** The step ids whose canned answers were asked for, so far. */
  answered: { prometheus: Set<string>; audit: Set<string> };
  close(): Promise<void>;
}

export interface PrepareOptions {
  /**
   * The clock to serve the case at. `rules test` passes the case's own (caseTime); without it the case is served at
   * the real time, as `npm run demo` needs for a service that runs on the real clock.
   */
  at?: Date;
}

/** Serves a case's cluster state and answers its PromQL and audit steps: what a test, or the demo, runs a playbook against. */
export async function prepareCase(
  playbook: CompiledPlaybook,
  spec: TestFile,
  testCase: TestCase,
  userAgent: string,
  options: PrepareOptions = {},
): Promise<PreparedCase> {
  const at = options.at ?? new Date();
  return serveCase(playbook, spec, testCase, userAgent, at, caseCluster(spec, testCase, at.getTime()));
}

async function serveCase(
  playbook: CompiledPlaybook,
  spec: TestFile,
  testCase: TestCase,
  userAgent: string,
  at: Date,
  state: ClusterState,
): Promise<PreparedCase> {
  const now = at.getTime();
  const alert = resolveTimes(alertOf(playbook, spec.alert, testCase.alert, now), now);
  const prometheus = { ...spec.prometheus, ...testCase.prometheus };
  const cluster = await startFakeKubeApi(state, { now: () => new Date(now) });
  const client = createKubernetesClient(loadKubeConfig(cluster.kubeconfigPath), userAgent);
  const objects = new KubernetesSource(client);
  const logs = new LogsSource(client);
  const answered = { prometheus: new Set<string>(), audit: new Set<string>() };
  const sources: StepSources = {
    kubernetes: (request, signal) => objects.read(request, signal),
    logs: (request, signal) => logs.read(request, signal),
    prometheus: async (request, _signal, context) => {
      answered.prometheus.add(context.stepId);
      return prometheusOutput(prometheus[context.stepId], request, request.at ?? now);
    },
    ...(testCase.audit
      ? {
          audit: async (_request, _signal, context) => {
            answered.audit.add(context.stepId);
            const rows = testCase.audit?.[context.stepId] ?? [];
            return { data: { rows, count: rows.length }, request: context.stepId, summary: `${rows.length} rows` };
          },
        }
      : {}),
  };
  return { alert, sources, cluster, at, answered, close: () => cluster.close() };
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

interface CaseRun {
  result: CaseResult;
  /** The file-level answers this case used (or deliberately left unread with expect.notRun). */
  usedDefaults: Set<string>;
}

async function runCase(loaded: LoadedTestFile, index: number): Promise<CaseRun> {
  const { file, spec, playbook, source } = loaded;
  const testCase = spec.cases[index] as TestCase;
  const at = caseTime(spec, testCase);
  const where: Segments = ["cases", index];
  const located = (problems: FixtureProblem[]) => problems.map((p) => describeProblem(file, source, p));
  const { state, defaults } = assembleCase(spec, testCase, at.getTime());
  const prepared = await serveCase(playbook, spec, testCase, "alert-enricher/rules-test", at, state);
  try {
    const fixtureProblems = located([
      ...checkObjects(testCase.cluster?.objects, [...where, "cluster", "objects"]),
      ...checkRemove(testCase.cluster, defaults, [...where, "cluster", "remove"]),
      ...checkLogs(testCase.cluster?.logs, state.objects, [...where, "cluster", "logs"]),
      ...checkAnswers(playbook, "prometheus", testCase.prometheus, [...where, "prometheus"]),
      ...checkAnswers(playbook, "audit", testCase.audit, [...where, "audit"]),
      ...checkExpectation(playbook, testCase.expect, [...where, "expect"]),
    ]);
    const diagnosis = await atTime(at, () =>
      diagnose("rules-test", payloadFor(prepared.alert), {
        playbooks: [playbook],
        sources: prepared.sources,
        limits: { stepTimeoutMs: 5000, deadlineMs: 20_000, listLimit: 500, logTailLines: 2000, logLimitBytes: 1024 * 1024 },
        maxPlaybookRuns: 1,
      }),
    );
    const result = diagnosis.alerts[0] as AlertDiagnosis;
    const problems = [...fixtureProblems, ...compare(testCase, result)];
    const writes = prepared.cluster.requests.filter((r) => r.method !== "GET");
    if (writes.length > 0)
      problems.push(`the playbook tried to write to the cluster: ${writes.map((w) => `${w.method} ${w.path}`).join(", ")}`);

    problems.push(...located(usageProblems(playbook, testCase, prepared.answered, result, where)));

    const notRun = testCase.expect.notRun ?? [];
    const usedDefaults = new Set(
      Object.keys(spec.prometheus ?? {}).filter(
        (id) => testCase.prometheus?.[id] === undefined && (prepared.answered.prometheus.has(id) || notRun.includes(id)),
      ),
    );
    return { result: { file, name: testCase.name, passed: problems.length === 0, problems }, usedDefaults };
  } finally {
    await prepared.close();
  }
}

/**
 * Answers the run never asked for (the step did not run, so the case shows nothing about them) unless the case says
 * the step must not run, and steps the case says must not run that did.
 */
function usageProblems(
  playbook: CompiledPlaybook,
  testCase: TestCase,
  answered: PreparedCase["answered"],
  result: AlertDiagnosis,
  where: Segments,
): FixtureProblem[] {
  const problems: FixtureProblem[] = [];
  const notRun = testCase.expect.notRun ?? [];
  const record = (id: string) => result.steps.find((s) => s.id === id);
  for (const [kind, answers] of [
    ["prometheus", testCase.prometheus],
    ["audit", testCase.audit],
  ] as const) {
    for (const id of Object.keys(answers ?? {})) {
      // An answer for no step of this kind is reported by checkAnswers already.
      if (answered[kind].has(id) || notRun.includes(id) || !playbook.steps.some((s) => s.id === id && s.kind === kind)) continue;
      const step = record(id);
      const why = step ? `${step.status}: ${step.error ?? step.summary}` : "not run";
      problems.push({
        path: [...where, kind, id],
        message: `never used: step ${id} did not ask for it (${why}); if that is the point of the case, list it in expect.notRun`,
      });
    }
  }
  notRun.forEach((id, i) => {
    const step = record(id);
    if (step && step.status !== "skipped")
      problems.push({ path: [...where, "expect", "notRun", i], message: `step ${id} ran (${step.status}: ${step.summary})` });
  });
  return problems;
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
  /** Where each part of the file is, for file:line in every problem. */
  source: Pick<YamlSource, "lineAt">;
}

function schemaProblem(error: ErrorObject): FixtureProblem {
  const path: Segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, "/").replace(/~0/g, "~")));
  if (error.keyword === "additionalProperties") {
    const field = String(error.params.additionalProperty);
    return { path: [...path, field], message: `unknown field ${JSON.stringify(field)}` };
  }
  if (error.keyword === "pattern" && path.at(-1) === "at")
    return { path, message: "must be an RFC 3339 time such as 2026-11-23T10:00:00Z" };
  return { path, message: error.message ?? "is invalid" };
}

/** Problems a file has whatever its cases do: its schema, playbook, shared objects, logs and answers. */
function checkFile(file: string, text: string, playbooks: CompiledPlaybook[]): { loaded?: LoadedTestFile; problems: string[] } {
  const parsed = parseYaml(text);
  if ("errors" in parsed) return { problems: parsed.errors.map((e) => `${file}:${e.line}: ${e.message}`) };
  const describe = (problems: FixtureProblem[]) => problems.map((p) => describeProblem(file, parsed, p));
  if (!validateTestFile(parsed.data)) {
    // anyOf reports every branch that failed; the one that matters is usually the first.
    const errors = (validateTestFile.errors ?? []).filter((e) => e.keyword !== "anyOf");
    return { problems: describe(errors.map(schemaProblem)) };
  }
  const spec = parsed.data as TestFile;
  const playbook = playbooks.find((p) => p.name === spec.playbook || p.alertNames.includes(spec.playbook));
  if (!playbook) return { problems: describe([{ path: ["playbook"], message: `no playbook ${spec.playbook} in the rules` }]) };
  const times: Array<[Segments, string | undefined]> = [
    [["at"], spec.at],
    ...spec.cases.map((c, i): [Segments, string | undefined] => [["cases", i, "at"], c.at]),
  ];
  const badTimes = times
    .filter(([, t]) => t !== undefined && Number.isNaN(Date.parse(t)))
    .map(([path]) => ({ path, message: "is not a valid time" }));
  if (badTimes.length > 0) return { problems: describe(badTimes) };
  const at = new Date(spec.at ?? DEFAULT_TEST_TIME).getTime();
  const problems = describe([
    ...checkObjects(spec.cluster?.objects, ["cluster", "objects"]),
    ...checkLogs(spec.cluster?.logs, defaultObjects(spec, undefined, at).objects, ["cluster", "logs"]),
    ...checkAnswers(playbook, "prometheus", spec.prometheus, ["prometheus"]),
  ]);
  return { loaded: { file, spec, playbook, source: parsed }, problems };
}

/** Reads every test file in `testsDir`; any file failing its schema or naming what does not exist is an error, all reported. */
export function loadTestFiles(testsDir: string, playbooks: CompiledPlaybook[]): LoadedTestFile[] {
  const files = readdirSync(testsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const loaded: LoadedTestFile[] = [];
  const problems: string[] = [];
  for (const name of files) {
    const file = join(testsDir, name);
    const checked = checkFile(file, readFileSync(file, "utf8"), playbooks);
    problems.push(...checked.problems);
    if (checked.loaded) loaded.push(checked.loaded);
  }
  if (problems.length > 0) throw new PlaybookTestFileError(problems.join("\n"));
  return loaded;
}

/** Runs every case of every test file in `testsDir` against `playbooks`. */
export async function runPlaybookTests(testsDir: string, playbooks: CompiledPlaybook[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const loaded of loadTestFiles(testsDir, playbooks)) {
    const used = new Set<string>();
    for (let i = 0; i < loaded.spec.cases.length; i++) {
      const run = await runCase(loaded, i);
      results.push(run.result);
      for (const id of run.usedDefaults) used.add(id);
    }
    // A file-level answer is a default: a case may not run its step. One that no case uses shows nothing.
    const unused = Object.keys(loaded.spec.prometheus ?? {}).filter((id) => !used.has(id));
    if (unused.length > 0) {
      results.push({
        file: loaded.file,
        name: "the file's shared answers",
        passed: false,
        problems: unused.map((id) =>
          describeProblem(loaded.file, loaded.source, {
            path: ["prometheus", id],
            message: `no case uses this answer: every case either gives its own for step ${id} or does not run it`,
          }),
        ),
      });
    }
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
