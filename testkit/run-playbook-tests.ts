// Runs rules/tests/*.yaml the way `promtool test rules` runs alert-rule tests: each case's cluster state (the base
// cluster, then the file's defaults, then the case's own objects) is served by an in-process Kubernetes API server and
// read through the real client, PromQL steps answer from the case's results, everything happens at the case's fixed
// clock, and the diagnosis must name the expected cause with the expected evidence. A fixture that takes no part in
// the case (fixture-checks.ts, and answers no step asked for) fails it: a misspelling must not pass silently. A case
// may make reads fail (`faults:`, faults.ts) and expect what an honest diagnosis then says. runPlaybookTestSuite then
// builds checks of its own from the cases (generated-checks.ts): refutation cases and the fault matrix.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import { diagnose } from "../src/diagnosis/diagnose.ts";
import { atTime } from "../src/engine/expressions.ts";
import type { CompiledCause, CompiledPlaybook } from "../src/engine/load-playbooks.ts";
import { parseDuration } from "../src/engine/playbook.ts";
import { runLimitsFrom } from "../src/engine/run-limits.ts";
import type { StepSources } from "../src/engine/run-playbook.ts";
import type { Alert, AlertmanagerPayload } from "../src/model/alertmanager.ts";
import type { AlertDiagnosis, Diagnosis } from "../src/model/diagnosis.ts";
import type { PromQuery } from "../src/sources/prometheus.ts";
import { createKubernetesClient, loadKubeConfig } from "../src/sources/kubernetes-client.ts";
import { KubernetesSource } from "../src/sources/kubernetes.ts";
import { LogsSource } from "../src/sources/logs.ts";
import type { SourceOutput } from "../src/sources/source.ts";
import { baseCluster, completeMetadata, layerObjects } from "./base-cluster.ts";
import { checkCauseExpectations } from "./cause-expectations.ts";
import {
  checkAnswers,
  checkExpectation,
  checkFaults,
  checkLogs,
  checkObjects,
  checkRemove,
  describeProblem,
  type FixtureProblem,
  parseYaml,
  type Segments,
  type YamlSource,
} from "./fixture-checks.ts";
import type { KubeObject } from "./kube-object.ts";
import { type ClusterState, type FakeKubeApi, type FakeKubeOptions, startFakeKubeApi } from "./fixture-cluster.ts";
import { type CaseFaults, caseFaults, overrideReads, touchesAudit } from "./faults.ts";
import { backendFaults, faultMatrix, type GeneratedResult, type OpenCase, Replay, recordBase, refute } from "./generated-checks.ts";
import { checkFileSeries, useRealPrometheus } from "./real-prometheus.ts";
import { type AlertFixture, DEFAULT_TEST_TIME, type PrometheusFixture, type TestCase, type TestFile, testFileSchema } from "./test-file.ts";

export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  /** What differed, line by line, as a person would read a diff. */
  problems: string[];
}

const validateTestFile = new Ajv({ allErrors: true, strict: false }).compile(testFileSchema);

/** What every case runs with: a step answers within 5 s, the playbook within 20 s. */
export const TEST_LIMITS = runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 });

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

/**
 * The Kubernetes API server a case is read from: the in-process fake (the default), or a real kube-apiserver the case
 * has been loaded into (the tests' real-API-server suite).
 */
export interface CaseCluster {
  kubeconfigPath: string;
  /** The requests that tried to change the cluster while the case ran ("METHOD path"): there must be none. */
  writes(): string[];
  close(): Promise<void>;
}

/** Serves a case's cluster state at its clock. */
export type ServeCluster = (state: ClusterState, at: Date) => Promise<CaseCluster>;

/** The in-process fake; `groupVersions` serves built-in groups in an older server's versions. */
const serveFake =
  (options: Pick<FakeKubeOptions, "groupVersions"> = {}): ServeCluster =>
  async (state, at) => {
    const fake: FakeKubeApi = await startFakeKubeApi(state, { ...options, now: () => at });
    return {
      kubeconfigPath: fake.kubeconfigPath,
      writes: () => fake.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`),
      close: () => fake.close(),
    };
  };

export interface PreparedCase {
  alert: Alert;
  /** Kubernetes reads go to the case's cluster through the real client; PromQL and audit steps answer from the case. */
  sources: StepSources;
  cluster: CaseCluster;
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
  /** The versions the fake API server serves built-in groups in (an older server's), as FakeKubeOptions.groupVersions. */
  groupVersions?: FakeKubeOptions["groupVersions"];
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
  const state = caseCluster(spec, testCase, at.getTime());
  const prepared = await serveCase(playbook, spec, testCase, userAgent, at, state, serveFake({ groupVersions: options.groupVersions }));
  prepared.sources = withCaseFaults(playbook, testCase, prepared.sources).sources;
  return prepared;
}

/** The case's `faults:` over `sources` (faults.ts): the reads they name fail or hang, whatever would answer them. */
function withCaseFaults(
  playbook: CompiledPlaybook,
  testCase: TestCase,
  sources: StepSources,
): { sources: StepSources; faults: CaseFaults } {
  const faults = caseFaults(testCase.faults, new Set(playbook.steps.map((s) => s.id)));
  if (!testCase.faults) return { sources, faults };
  const auditSteps = playbook.steps.filter((s) => s.kind === "audit").map((s) => s.id);
  return { sources: overrideReads(sources, faults.plan, { audit: touchesAudit(testCase.faults, auditSteps) }), faults };
}

async function serveCase(
  playbook: CompiledPlaybook,
  spec: TestFile,
  testCase: TestCase,
  userAgent: string,
  at: Date,
  state: ClusterState,
  serve: ServeCluster = serveFake(),
): Promise<PreparedCase> {
  const now = at.getTime();
  const alert = resolveTimes(alertOf(playbook, spec.alert, testCase.alert, now), now);
  const prometheus = { ...spec.prometheus, ...testCase.prometheus };
  const cluster = await serve(state, at);
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
  /** What the playbook concluded, when it ran. */
  diagnosis?: AlertDiagnosis;
}

/** Checks to build from a case while it is served, from its recorded run (generated-checks.ts). */
type Generate = (open: OpenCase, replay: Replay, base: Diagnosis) => Promise<void>;

async function runCase(
  loaded: LoadedTestFile,
  index: number,
  generate?: Generate,
  on: { serve: ServeCluster } = { serve: serveFake() },
): Promise<CaseRun> {
  const { file, spec, playbook, source } = loaded;
  const testCase = spec.cases[index] as TestCase;
  const at = caseTime(spec, testCase);
  const where: Segments = ["cases", index];
  const located = (problems: FixtureProblem[]) => problems.map((p) => describeProblem(file, source, p));
  const { state, defaults } = assembleCase(spec, testCase, at.getTime());
  const prepared = await serveCase(playbook, spec, testCase, "alert-enricher/rules-test", at, state, on.serve);
  // A case with series: its PromQL steps go to a real Prometheus over them (real-prometheus.ts).
  const real = await useRealPrometheus(loaded, index, prepared, at);
  // The case's faults go over whatever answers a step, a canned answer or a real Prometheus.
  const { sources, faults } = withCaseFaults(playbook, testCase, prepared.sources);
  // Every answer is recorded, so that the checks built from the case can replay them.
  const replay = new Replay(sources);
  try {
    const fixtureProblems = located([
      ...checkObjects(testCase.cluster?.objects, [...where, "cluster", "objects"]),
      ...checkRemove(testCase.cluster, defaults, [...where, "cluster", "remove"]),
      ...checkLogs(testCase.cluster?.logs, state.objects, [...where, "cluster", "logs"]),
      ...checkAnswers(playbook, "prometheus", testCase.prometheus, [...where, "prometheus"]),
      ...checkAnswers(playbook, "audit", testCase.audit, [...where, "audit"]),
      ...checkExpectation(playbook, testCase.expect, [...where, "expect"]),
      ...checkFaults(playbook, testCase.faults, [...where, "faults"]),
    ]);
    const diagnosis = await atTime(at, () =>
      diagnose("rules-test", payloadFor(prepared.alert), {
        playbooks: [playbook],
        sources: replay.sources,
        limits: TEST_LIMITS,
        maxPlaybookRuns: 1,
      }),
    );
    replay.stopRecording();
    const result = diagnosis.alerts[0] as AlertDiagnosis;
    const problems = [
      ...fixtureProblems,
      ...compare(testCase, result, faults.faulted),
      ...located(checkCauseExpectations(playbook, testCase.expect, result, [...where, "expect"])),
    ];
    const writes = prepared.cluster.writes();
    if (writes.length > 0) problems.push(`the playbook tried to write to the cluster: ${writes.join(", ")}`);

    problems.push(
      ...located(usageProblems(playbook, testCase, prepared.answered, result, where)),
      ...located(unusedFaults(playbook, testCase, faults, result, where)),
      ...located(real.problems()),
    );

    const notRun = testCase.expect.notRun ?? [];
    const usedDefaults = new Set(
      Object.keys(spec.prometheus ?? {}).filter(
        (id) => testCase.prometheus?.[id] === undefined && (prepared.answered.prometheus.has(id) || notRun.includes(id)),
      ),
    );
    // After the case's own checks: the variants' reads must not count as the case's.
    await generate?.(
      caseHandle(loaded, index, prepared.alert, sources, faults, async () => {}),
      replay,
      diagnosis,
    );
    return { result: { file, name: testCase.name, passed: problems.length === 0, problems }, usedDefaults, diagnosis: result };
  } finally {
    await real.close();
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
    // Not run by its own choice (its when was false), not because a read it needed failed or time ran out.
    if (step && step.outcome !== "not_needed")
      problems.push({
        path: [...where, "expect", "notRun", i],
        message: `step ${id} was not left out by its own when (${step.status}: ${step.summary})`,
      });
  });
  return problems;
}

/** Faults no read met: the step did not read (unless the case says it must not run), or no step read that backend. */
function unusedFaults(
  playbook: CompiledPlaybook,
  testCase: TestCase,
  faults: CaseFaults,
  result: AlertDiagnosis,
  where: Segments,
): FixtureProblem[] {
  const notRun = testCase.expect.notRun ?? [];
  return Object.keys(testCase.faults ?? {}).flatMap((key) => {
    if (faults.used.has(key) || notRun.includes(key)) return [];
    const isStep = playbook.steps.some((s) => s.id === key);
    // A key that is neither a step nor a backend the playbook reads is reported by checkFaults already.
    if (!isStep && !playbook.steps.some((s) => faultBackendOf(s.kind) === key)) return [];
    const step = result.steps.find((s) => s.id === key);
    const message = isStep
      ? `never used: step ${key} made no read (${step ? `${step.status}: ${step.error ?? step.summary}` : "not run"}), so its fault shows nothing; if that is the point of the case, list it in expect.notRun`
      : `never used: no step read from ${key} in this case, so its fault shows nothing`;
    return [{ path: [...where, "faults", key], message }];
  });
}

function faultBackendOf(kind: CompiledPlaybook["steps"][number]["kind"]): string {
  return kind === "logs" ? "kubernetes" : kind;
}

/** The headline as `expect.cause` names it: a cause's id, no_correlation or could_not_check. */
function headlineOf(result: AlertDiagnosis): string {
  return result.verdict === "could_not_check" ? "could_not_check" : (result.causes[0]?.id ?? "none");
}

function compare(testCase: TestCase, result: AlertDiagnosis, faulted: ReadonlySet<string> = new Set()): string[] {
  const expected = testCase.expect;
  const problems: string[] = [];
  const top = result.causes[0];
  const ranking = result.causes.map((c) => `${c.id} ${Math.round(c.confidence * 100)}%`).join(", ");
  if (headlineOf(result) !== expected.cause) {
    const unread = result.verdict === "could_not_check" ? `could not check (${(result.couldNotRead ?? []).join("; ")})` : undefined;
    problems.push(
      `expected top cause: ${expected.cause}`,
      `     got top cause: ${unread ?? (top ? `${top.id} — ${top.summary}` : "none")}`,
      `  causes ranked: ${ranking || "none"}`,
    );
    if ((result.notChecked ?? []).length > 0)
      problems.push(`  not checked: ${(result.notChecked ?? []).map((n) => `${n.id} (${n.reason})`).join(", ")}`);
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
  const notChecked = result.notChecked ?? [];
  for (const id of expected.notChecked ?? []) {
    if (!notChecked.some((n) => n.id === id)) {
      const state = result.causes.some((c) => c.id === id) ? "it holds" : "it was ruled out";
      problems.push(`cause ${id} should be not checked, but ${state} (not checked: ${notChecked.map((n) => n.id).join(", ") || "none"})`);
    }
  }
  const unread = result.couldNotRead ?? [];
  for (const wanted of expected.couldNotRead ?? []) {
    if (!unread.some((line) => line.includes(wanted)))
      problems.push(`missing could-not-read line: ${JSON.stringify(wanted)} (was: ${JSON.stringify(unread)})`);
  }
  if (expected.checks !== undefined) {
    const checks = top?.checks ? `${top.checks.made} of ${top.checks.total}` : "none";
    if (checks !== expected.checks) problems.push(`expected checks: ${expected.checks}, got ${checks}`);
  }
  // A step that failed reads nothing, so a case could pass for the wrong reason: unless the case is about a partial
  // diagnosis, every step must have read what it asked for, but for those the case makes fail (faults:).
  const failed = result.steps.filter((s) => (s.status === "failed" || s.status === "timeout") && !faulted.has(s.id));
  if (failed.length > 0 && expected.partial !== true) {
    problems.push(
      "steps that failed (fix the fixture, make the failure a fault of the case, or expect partial: true):",
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
  if (error.keyword === "pattern" && path.at(-1) === "checks") return { path, message: 'must be "<made> of <total>", such as "3 of 4"' };
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
    ...checkFileSeries(playbook, spec),
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
  return (await runCases(loadTestFiles(testsDir, playbooks))).results;
}

/**
 * Runs every case once, one after the other, at its own clock, against the cluster `serve` gives each (a real API
 * server the case is loaded into): no generated checks, no shared-answer bookkeeping.
 */
export async function runCasesOn(
  files: LoadedTestFile[],
  serve: ServeCluster,
): Promise<Array<CaseResult & { diagnosis?: AlertDiagnosis }>> {
  const results: Array<CaseResult & { diagnosis?: AlertDiagnosis }> = [];
  for (const loaded of files) {
    for (let i = 0; i < loaded.spec.cases.length; i++) {
      const run = await runCase(loaded, i, undefined, { serve });
      results.push({ ...run.result, ...(run.diagnosis ? { diagnosis: run.diagnosis } : {}) });
    }
  }
  return results;
}

interface RanCase {
  loaded: LoadedTestFile;
  index: number;
  run: CaseRun;
}

/**
 * Runs the cases, file by file, in order. A case whose faults make a read hang waits out the step's timeout: those
 * start first and wait beside the others.
 */
async function runCases(
  files: LoadedTestFile[],
  generate?: (loaded: LoadedTestFile, index: number) => Generate,
): Promise<{ results: CaseResult[]; ran: RanCase[] }> {
  const results: CaseResult[] = [];
  const ran: RanCase[] = [];
  const waiting = new Map<string, Promise<CaseRun>>();
  files.forEach((loaded, f) =>
    loaded.spec.cases.forEach((testCase, i) => {
      if (!Object.values(testCase.faults ?? {}).some((v) => v === "timeout" || v === "hang")) return;
      const run = runCase(loaded, i);
      run.catch(() => {}); // awaited in its turn below, which rethrows
      waiting.set(`${f}:${i}`, run);
    }),
  );
  for (const [f, loaded] of files.entries()) {
    const used = new Set<string>();
    for (let i = 0; i < loaded.spec.cases.length; i++) {
      // A case started early builds nothing while served: its checks wait for it to be served again.
      const run = await (waiting.get(`${f}:${i}`) ?? runCase(loaded, i, generate?.(loaded, i)));
      results.push(run.result);
      ran.push({ loaded, index: i, run });
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
  return { results, ran };
}

export interface PlaybookTestOptions {
  /** Refutation cases for every cause with a symptom that some case reaches (default true). */
  refutation?: boolean;
  /**
   * The fault matrix (each step that read something made unknown) over the demo case of each playbook ("demo", the
   * default) or over every case ("all"); "none" leaves it and the whole-backend cases out.
   */
  faultMatrix?: "demo" | "all" | "none";
}

export interface PlaybookTestReport {
  cases: CaseResult[];
  refutations: GeneratedResult[];
  faults: GeneratedResult[];
  /**
   * Every cause of the playbooks (a shared fragment's once, as "shared/<fragment>/<id>", a playbook's own as
   * "<playbook>/<id>"), and those some case's diagnosis holds.
   */
  causes: { all: string[]; reached: string[] };
}

function causeKey(playbook: CompiledPlaybook, cause: CompiledCause): string {
  return cause.fragment ? `shared/${cause.fragment}/${cause.id}` : `${playbook.name}/${cause.id}`;
}

/** A case as the generated checks see it, served with `sources` (its own, faults included). */
function caseHandle(
  loaded: LoadedTestFile,
  index: number,
  alert: Alert,
  sources: StepSources,
  faults: CaseFaults,
  close: () => Promise<void>,
): OpenCase {
  const { file, spec, playbook, source } = loaded;
  const testCase = spec.cases[index] as TestCase;
  const at = caseTime(spec, testCase);
  return {
    playbook,
    file,
    where: `${file}:${source.lineAt(["cases", index])}`,
    name: testCase.name,
    sources,
    hanging: faults.hanging(playbook.steps),
    run: (runSources, variant) =>
      atTime(at, () =>
        diagnose("rules-test", payloadFor(alert), {
          playbooks: [variant ?? playbook],
          sources: runSources,
          limits: TEST_LIMITS,
          maxPlaybookRuns: 1,
          charts: false,
        }),
      ),
    close,
  };
}

/** Serves a case again for its generated checks: its cluster, its answers (real Prometheus included) and its faults. */
async function openCase(loaded: LoadedTestFile, index: number): Promise<OpenCase> {
  const { spec, playbook } = loaded;
  const testCase = spec.cases[index] as TestCase;
  const at = caseTime(spec, testCase);
  const prepared = await serveCase(playbook, spec, testCase, "alert-enricher/rules-test", at, caseCluster(spec, testCase, at.getTime()));
  const real = await useRealPrometheus(loaded, index, prepared, at);
  const { sources, faults } = withCaseFaults(playbook, testCase, prepared.sources);
  return caseHandle(loaded, index, prepared.alert, sources, faults, async () => {
    await real.close();
    await prepared.close();
  });
}

/**
 * Runs every case, then the checks built from them (generated-checks.ts): a refutation case for every cause with a
 * symptom that some case reaches, and the fault matrix and whole-backend faults over the demo case of each playbook
 * (or every case). Each check runs while its case is served for the case itself, from the answers the case's run
 * recorded; a cause no case ranks first, and a case whose faults hang (run beside the others), are served again after.
 */
export async function runPlaybookTestSuite(
  testsDir: string,
  playbooks: CompiledPlaybook[],
  options: PlaybookTestOptions = {},
): Promise<PlaybookTestReport> {
  const files = loadTestFiles(testsDir, playbooks);
  const mode = options.faultMatrix ?? "demo";
  const refuting = options.refutation !== false;
  const all = new Map<string, CompiledCause>();
  for (const playbook of playbooks)
    for (const cause of playbook.causes) if (!all.has(causeKey(playbook, cause))) all.set(causeKey(playbook, cause), cause);

  // The case each playbook's matrix and whole-backend faults run on: its demo case, else its first case whose
  // headline is a cause (known once run).
  const demos = new Map<CompiledPlaybook, RanCaseKey>();
  files.forEach((loaded, f) =>
    loaded.spec.cases.forEach((c, i) => {
      if (c.demo && !demos.has(loaded.playbook)) demos.set(loaded.playbook, `${f}:${i}`);
    }),
  );
  const fileOf = new Map(files.map((loaded, f) => [loaded, f]));
  const keyOf = (loaded: LoadedTestFile, index: number): RanCaseKey => `${fileOf.get(loaded) ?? -1}:${index}`;
  const isDemo = (loaded: LoadedTestFile, index: number, base: AlertDiagnosis | undefined) => {
    const known = demos.get(loaded.playbook);
    if (known === undefined && base?.verdict === "cause") demos.set(loaded.playbook, keyOf(loaded, index));
    return demos.get(loaded.playbook) === keyOf(loaded, index);
  };

  const refuted = new Set<string>();
  const built = new Map<RanCaseKey, { refutations: GeneratedResult[]; faults: GeneratedResult[]; matrix: boolean }>();
  const build = async (loaded: LoadedTestFile, index: number, open: OpenCase, replay: Replay, base: Diagnosis, causes: CompiledCause[]) => {
    const key = keyOf(loaded, index);
    const done = built.get(key) ?? { refutations: [], faults: [], matrix: false };
    built.set(key, done);
    for (const cause of causes) {
      refuted.add(causeKey(loaded.playbook, cause));
      done.refutations.push(await refute(open, replay, cause));
    }
    if (done.matrix || mode === "none") return;
    const demo = isDemo(loaded, index, base.alerts[0]);
    if (mode === "all" || demo) done.faults.push(...(await faultMatrix(open, replay, base)));
    if (demo) done.faults.push(...(await backendFaults(open, replay, base)));
    done.matrix = true;
  };
  // While each case is served: the causes it is the first to rank first.
  const generate =
    (loaded: LoadedTestFile, index: number): Generate =>
    async (open, replay, base) => {
      const top = base.alerts[0]?.causes[0];
      const cause = loaded.playbook.causes.find((c) => c.id === top?.id);
      const first = refuting && cause?.symptom !== undefined && !refuted.has(causeKey(loaded.playbook, cause));
      await build(loaded, index, open, replay, base, first && cause ? [cause] : []);
    };
  const { results, ran } = await runCases(files, generate);

  // Where each cause is reached: preferably where it ranks first, then a case with canned answers (a case with
  // series starts a Prometheus again).
  const reached = new Map<string, { at: RanCase; cause: CompiledCause; preference: number }>();
  for (const at of ran) {
    const playbook = at.loaded.playbook;
    const testCase = at.loaded.spec.cases[at.index];
    const series = (testCase?.series ?? at.loaded.spec.series ?? []).length > 0;
    (at.run.diagnosis?.causes ?? []).forEach((held, rank) => {
      const cause = playbook.causes.find((c) => c.id === held.id);
      if (!cause) return;
      const key = causeKey(playbook, cause);
      const preference = (rank === 0 ? 0 : 2) + (series ? 1 : 0);
      const known = reached.get(key);
      if (!known || preference < known.preference) reached.set(key, { at, cause, preference });
    });
  }

  // Served again: the refutations no case could make while served, and the matrix of cases that were run early.
  const again = new Map<RanCase, CompiledCause[]>();
  for (const [key, { at, cause }] of reached) {
    if (refuting && cause.symptom && !refuted.has(key)) again.set(at, [...(again.get(at) ?? []), cause]);
  }
  for (const at of ran) {
    const wanted = mode === "all" ? at.run.diagnosis !== undefined : mode === "demo" && isDemo(at.loaded, at.index, at.run.diagnosis);
    if (wanted && !built.get(keyOf(at.loaded, at.index))?.matrix && !again.has(at)) again.set(at, []);
  }
  for (const at of ran.filter((r) => again.has(r))) {
    const open = await openCase(at.loaded, at.index);
    try {
      const { replay, base } = await recordBase(open);
      await build(at.loaded, at.index, open, replay, base, again.get(at) ?? []);
    } finally {
      await open.close();
    }
  }
  const inOrder = ran.map((r) => built.get(keyOf(r.loaded, r.index))).filter((b) => b !== undefined);
  return {
    cases: results,
    refutations: inOrder.flatMap((b) => b.refutations),
    faults: inOrder.flatMap((b) => b.faults),
    causes: {
      all: [...all.keys()],
      reached: [...all.keys()].filter((key) => reached.has(key)),
    },
  };
}

/** A case by the position of its file and its own: "0:3". */
type RanCaseKey = string;
