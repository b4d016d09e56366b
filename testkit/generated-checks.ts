// Checks `rules test` builds from the written cases, so that a playbook that reasons wrongly fails even where every
// written case passes (issue #12, "Tests that can catch it"):
//
// - Refutation: a cause reached by some case, with the steps its symptom reads answering "nothing there" and all the
//   rest as the case has it, must be ruled out: a cause holds only while its symptom is present, never on its
//   explanations alone.
// - The fault matrix: each step of a case that read something made unknown (its read fails) must never create a
//   claim, must leave a cause that depended on it not checked rather than ruled out, and must be named in what could
//   not be read. Three-valued logic is monotone: what holds (or is ruled out) with a step unknown holds (or is ruled
//   out) whatever the step answers; a condition that tests for the step's absence (`has()`, `.orValue()`) breaks that,
//   and is caught by comparing with the step answering nothing there.
// - Whole backends: Prometheus refusing, the API server hanging, and both; the headline is then "could not check" or
//   a cause that holds on what did answer, never "no correlation found".
//
// Each case is run once against its live sources to record every answer; the variants replay those answers, so a
// variant costs a playbook evaluation, not a cluster.
import { referencedFacts, referencedSteps } from "../src/engine/expressions.ts";
import { type CompiledCause, type CompiledFact, type CompiledPlaybook, stepsBehind } from "../src/engine/load-playbooks.ts";
import type { StepSources } from "../src/engine/run-playbook.ts";
import type { AlertDiagnosis, Diagnosis, StepKind } from "../src/model/diagnosis.ts";
import type { SourceOutput } from "../src/sources/source.ts";
import { overrideReads, type ReadOverride, type ReadPlan, REFUSED } from "./faults.ts";

export interface GeneratedResult {
  kind: "refutation" | "fault";
  file: string;
  name: string;
  passed: boolean;
  problems: string[];
}

/** A case as its generated checks see it: served for its own run, or again. */
export interface OpenCase {
  playbook: CompiledPlaybook;
  file: string;
  /** "rules/tests/X.yaml:40", where the case starts. */
  where: string;
  name: string;
  /** The case's own reads, its own faults included. */
  sources: StepSources;
  /** The steps the case's own faults make hang. */
  hanging: ReadonlySet<string>;
  /** Runs the case's alert through `playbook` (default the case's) over `sources`, at the case's clock, as its cases run. */
  run(sources: StepSources, playbook?: CompiledPlaybook): Promise<Diagnosis>;
  close(): Promise<void>;
}

/** The timeout of a step whose read hangs on purpose: the verdict, not the wait, is what is checked. */
export const HANG_TIMEOUT_MS = 250;

/**
 * Records the answers of a case's first run and replays them to the variants: the same read (step and request) gets
 * the same answer. A read no earlier run made goes to the live sources; a failed read is not kept.
 */
export class Replay {
  private readonly answers = new Map<string, Promise<SourceOutput>>();
  /** The steps that made a read while recording (the first run). */
  readonly readers = new Set<string>();
  private recording = true;
  readonly sources: StepSources;

  constructor(live: StepSources) {
    const replay =
      <R>(kind: StepKind, call: (request: R, signal: AbortSignal, context: { stepId: string }) => Promise<SourceOutput>) =>
      (request: R, signal: AbortSignal, context: { stepId: string }): Promise<SourceOutput> => {
        if (this.recording) this.readers.add(context.stepId);
        const key = `${kind}\u0000${context.stepId}\u0000${JSON.stringify(request)}`;
        const known = this.answers.get(key);
        if (known) return known;
        const answer = call(request, signal, context);
        this.answers.set(key, answer);
        answer.catch(() => this.answers.delete(key));
        return answer;
      };
    const audit = live.audit;
    this.sources = {
      kubernetes: replay("kubernetes", (r, s, c) => live.kubernetes(r, s, c)),
      logs: replay("logs", (r, s, c) => live.logs(r, s, c)),
      prometheus: replay("prometheus", (r, s, c) => live.prometheus(r, s, c)),
      ...(audit ? { audit: replay("audit", (r, s, c) => audit.call(live, r, s, c)) } : {}),
    };
  }

  stopRecording(): void {
    this.recording = false;
  }
}

export type CauseState = "holds" | "ruled_out" | "not_checked";

const SAID: Record<CauseState, string> = { holds: "holds", ruled_out: "is ruled out", not_checked: "is not checked" };

interface States {
  get(id: string): CauseState;
  reason(id: string): string | undefined;
}

function statesOf(a: AlertDiagnosis): States {
  const holding = new Set(a.causes.map((c) => c.id));
  const notChecked = new Map((a.notChecked ?? []).map((n) => [n.id, n.reason]));
  return {
    get: (id) => (holding.has(id) ? "holds" : notChecked.has(id) ? "not_checked" : "ruled_out"),
    reason: (id) => notChecked.get(id),
  };
}

function alertOf(d: Diagnosis): AlertDiagnosis {
  return d.alerts[0] as AlertDiagnosis;
}

function describeVerdict(a: AlertDiagnosis): string {
  if (a.verdict === "could_not_check") return "could not check";
  const top = a.causes[0];
  return top ? (top.id === "no_correlation" ? "no correlation found" : `${top.id} holds`) : "nothing";
}

/** The playbook with the steps in `hanging` timing out after HANG_TIMEOUT_MS; the others keep theirs. */
function withHangs(open: OpenCase, hanging: ReadonlySet<string> = new Set()): CompiledPlaybook | undefined {
  const hung = (id: string) => hanging.has(id) || open.hanging.has(id);
  if (!open.playbook.steps.some((s) => hung(s.id))) return undefined;
  return {
    ...open.playbook,
    steps: open.playbook.steps.map((s) =>
      hung(s.id) ? { ...s, timeoutMs: Math.min(s.timeoutMs ?? HANG_TIMEOUT_MS, HANG_TIMEOUT_MS) } : s,
    ),
  };
}

async function runVariant(open: OpenCase, replay: Replay, plan: ReadPlan, hanging?: ReadonlySet<string>): Promise<Diagnosis> {
  const sources = overrideReads(replay.sources, plan, { audit: replay.sources.audit !== undefined });
  return open.run(sources, withHangs(open, hanging));
}

/** Runs the case once, recording what it reads: the base every variant is compared with. */
export async function recordBase(open: OpenCase): Promise<{ replay: Replay; base: Diagnosis }> {
  const replay = new Replay(open.sources);
  const base = await open.run(replay.sources, withHangs(open));
  replay.stopRecording();
  return { replay, base };
}

function factMap(playbook: CompiledPlaybook): Map<string, CompiledFact> {
  return new Map(playbook.facts.map((f) => [f.name, f]));
}

/** The steps an expression reads, directly or through the facts it reads. */
function stepsRead(playbook: CompiledPlaybook, sources: string[]): string[] {
  const facts = factMap(playbook);
  const ids = new Set(playbook.steps.map((s) => s.id));
  const read = sources.flatMap((source) => [
    ...referencedSteps(source),
    ...referencedFacts(source).flatMap((name) => {
      const fact = facts.get(name);
      return fact ? stepsBehind(fact, facts) : [];
    }),
  ]);
  return [...new Set(read)].filter((id) => ids.has(id));
}

/** The steps a cause's symptom reads, directly or through facts. */
export function symptomSteps(playbook: CompiledPlaybook, cause: CompiledCause): string[] {
  return cause.symptom ? stepsRead(playbook, [cause.symptom.when.source]) : [];
}

/** What decides a cause: its symptom and its condition. */
function decidingSources(cause: CompiledCause): string[] {
  return [cause.symptom?.when.source, cause.when?.source].filter((s): s is string => s !== undefined);
}

/** The steps and facts whose value can change with step `id`'s: it, what reads it, what reads those, and so on. */
function downstreamOf(playbook: CompiledPlaybook, id: string): { steps: Set<string>; facts: Set<string> } {
  const steps = new Set([id]);
  const facts = new Set<string>();
  for (let grown = true; grown;) {
    grown = false;
    for (const step of playbook.steps) {
      if (!steps.has(step.id) && (step.dependsOn.some((d) => steps.has(d)) || step.dependsOnFacts.some((f) => facts.has(f)))) {
        steps.add(step.id);
        grown = true;
      }
    }
    for (const fact of playbook.facts) {
      if (!facts.has(fact.name) && (fact.steps.some((s) => steps.has(s)) || fact.facts.some((f) => facts.has(f)))) {
        facts.add(fact.name);
        grown = true;
      }
    }
  }
  return { steps, facts };
}

function readsAnyOf(cause: CompiledCause, downstream: { steps: Set<string>; facts: Set<string> }): boolean {
  return decidingSources(cause).some(
    (source) =>
      referencedSteps(source).some((s) => downstream.steps.has(s)) || referencedFacts(source).some((f) => downstream.facts.has(f)),
  );
}

function stepsOfKinds(playbook: CompiledPlaybook, kinds: StepKind[]): Set<string> {
  return new Set(playbook.steps.filter((s) => kinds.includes(s.kind)).map((s) => s.id));
}

// ---------------------------------------------------------------------------------------------------------------
// Refutation

/**
 * With the steps `cause`'s symptom reads answering nothing there (and everything else as the case has it), the cause
 * must be ruled out. Where "nothing there" keeps the symptom true (a symptom that is an absence), a get the symptom
 * reads and no explanation does answers a bare object of its name instead.
 */
export async function refute(open: OpenCase, replay: Replay, cause: CompiledCause): Promise<GeneratedResult> {
  const playbook = open.playbook;
  const label = `${playbook.name}: ${cause.id} with its symptom absent (from "${open.name}", ${open.where})`;
  const result = (problems: string[]): GeneratedResult => ({
    kind: "refutation",
    file: open.file,
    name: label,
    passed: problems.length === 0,
    problems,
  });
  const reads = symptomSteps(playbook, cause);
  if (reads.length === 0)
    return result([`its symptom (${cause.symptom?.when.source ?? "none"}) reads no step, so no answer can make it absent`]);
  const explanationSteps = new Set(
    cause.evidence.flatMap((e) => [e.step, ...stepsRead(playbook, [e.when?.source ?? "", e.each?.source ?? "", e.text.source])]),
  );
  const gets = reads.filter((id) => {
    const step = playbook.steps.find((s) => s.id === id);
    return step?.spec.kubernetes?.name !== undefined && !explanationSteps.has(id);
  });
  const strategies: Array<{ plan: ReadPlan; said: string }> = [
    {
      plan: (id) => (reads.includes(id) ? { kind: "absent" } : undefined),
      said: reads.map((id) => `${id} ${nothing(playbook, id)}`).join(", "),
    },
  ];
  if (gets.length > 0) {
    strategies.push({
      plan: (id) => (gets.includes(id) ? { kind: "found" } : reads.includes(id) ? { kind: "absent" } : undefined),
      said: reads.map((id) => `${id} ${gets.includes(id) ? "answering a bare object" : nothing(playbook, id)}`).join(", "),
    });
  }
  const outcomes: string[] = [];
  for (const { plan, said } of strategies) {
    const a = alertOf(await runVariant(open, replay, plan));
    const states = statesOf(a);
    const state = states.get(cause.id);
    if (state === "ruled_out") return result([]);
    outcomes.push(
      state === "holds"
        ? `with ${said}, ${cause.id} still holds: its symptom (${short(cause.symptom?.when.source ?? "")}) is true with nothing there`
        : `with ${said}, ${cause.id} could not be decided (${states.reason(cause.id) ?? "unknown"}): nothing there must rule it out`,
    );
  }
  const unread = reads.filter((id) => !replay.readers.has(id));
  if (unread.length === reads.length)
    outcomes.push(`(none of ${reads.join(", ")} made a read in this case, so its answer could not be replaced)`);
  return result(outcomes);
}

function short(source: string): string {
  const line = source.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function nothing(playbook: CompiledPlaybook, id: string): string {
  const step = playbook.steps.find((s) => s.id === id);
  switch (step?.kind) {
    case "prometheus":
      return "answering no series";
    case "kubernetes":
      return step.spec.kubernetes?.name !== undefined ? "answering not found" : "answering no objects";
    case "logs":
      return "answering an empty log";
    default:
      return "answering no rows";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The fault matrix

/** Problems of a variant in which `unknownWhat` could not be read, against the base where it was. */
function monotonicity(
  playbook: CompiledPlaybook,
  base: AlertDiagnosis,
  variant: AlertDiagnosis,
  unknownWhat: string,
  absent?: { states: States; what: string },
  only?: (cause: CompiledCause) => boolean,
): string[] {
  const before = statesOf(base);
  const after = statesOf(variant);
  const problems: string[] = [];
  for (const cause of playbook.causes) {
    const b = before.get(cause.id);
    const u = after.get(cause.id);
    if (u === "not_checked") continue;
    if (u !== b) {
      problems.push(
        u === "holds"
          ? `${cause.id} holds with ${unknownWhat}, but ${SAID[b]} when it is read: a read that failed created a claim`
          : `${cause.id} is ruled out with ${unknownWhat}, but ${SAID[b]} when it is read: a failed read must leave it not checked`,
      );
      continue;
    }
    if (!absent || (only && !only(cause))) continue;
    const e = absent.states.get(cause.id);
    if (e !== u) {
      const why = e === "not_checked" ? ` (${absent.states.reason(cause.id) ?? "unknown"})` : "";
      problems.push(
        `${cause.id} ${SAID[u]} with ${unknownWhat} and when it is read, but ${SAID[e]}${why} with ${absent.what}: ` +
          "its condition takes the unknown step for a value (has(), orValue()); it must be not checked",
      );
    }
  }
  return problems;
}

/** Whether the diagnosis says it could not make the check: the failure among what could not be read, or a reason. */
function names(a: AlertDiagnosis, text: string): boolean {
  return (a.couldNotRead ?? []).some((l) => l.includes(text)) || (a.notChecked ?? []).some((n) => n.reason.includes(text));
}

/** Each step that made a read in the case, made unknown (its read fails), one result per step. */
export async function faultMatrix(open: OpenCase, replay: Replay, base: Diagnosis): Promise<GeneratedResult[]> {
  const playbook = open.playbook;
  const baseAlert = alertOf(base);
  const results: GeneratedResult[] = [];
  for (const step of playbook.steps) {
    if (!replay.readers.has(step.id)) continue;
    const message = `rules test: step ${step.id} could not be read (fault matrix)`;
    const variant = alertOf(await runVariant(open, replay, (id) => (id === step.id ? { kind: "error", message } : undefined)));
    const downstream = downstreamOf(playbook, step.id);
    const after = statesOf(variant);
    const decided = playbook.causes.filter((c) => after.get(c.id) !== "not_checked" && readsAnyOf(c, downstream));
    let absent: { states: States; what: string } | undefined;
    if (decided.length > 0) {
      const emptied = alertOf(await runVariant(open, replay, (id) => (id === step.id ? { kind: "absent" } : undefined)));
      absent = { states: statesOf(emptied), what: `${step.id} ${nothing(playbook, step.id)}` };
    }
    const problems = monotonicity(playbook, baseAlert, variant, `step ${step.id} unknown`, absent, (c) => decided.includes(c));
    if (variant.verdict === "no_cause" && baseAlert.verdict !== "no_cause")
      problems.push(
        `the headline is "no correlation found" with step ${step.id} unknown, though it was ${describeVerdict(baseAlert)} when it is read`,
      );
    if (!names(variant, message)) problems.push(`nothing in the diagnosis says step ${step.id} could not be read`);
    results.push({
      kind: "fault",
      file: open.file,
      name: `${playbook.name}: step ${step.id} unknown (in "${open.name}", ${open.where})`,
      passed: problems.length === 0,
      problems,
    });
  }
  return results;
}

/** Prometheus refusing, the API server hanging, and both, in the case: the headline must say what it could not check. */
export async function backendFaults(open: OpenCase, replay: Replay, base: Diagnosis): Promise<GeneratedResult[]> {
  const playbook = open.playbook;
  const baseAlert = alertOf(base);
  const prometheus = stepsOfKinds(playbook, ["prometheus"]);
  const apiServer = stepsOfKinds(playbook, ["kubernetes", "logs"]);
  const refused: ReadOverride = { kind: "error", message: REFUSED.prometheus };
  const none = new Set<string>();
  const variants: Array<{ what: string; unread: string; plan: ReadPlan; hanging: Set<string>; expect: Array<[Set<string>, string]> }> = [
    {
      what: "Prometheus refusing",
      unread: "Prometheus",
      plan: (_id, kind) => (kind === "prometheus" ? refused : undefined),
      hanging: none,
      expect: [[prometheus, "Prometheus"]],
    },
    {
      what: "the API server hanging",
      unread: "the API server",
      plan: (_id, kind) => (kind === "kubernetes" || kind === "logs" ? { kind: "hang" } : undefined),
      hanging: apiServer,
      expect: [[apiServer, "the API server did not answer"]],
    },
    {
      what: "Prometheus refusing and the API server hanging",
      unread: "Prometheus or the API server",
      plan: (_id, kind) => (kind === "prometheus" ? refused : kind === "kubernetes" || kind === "logs" ? { kind: "hang" } : undefined),
      hanging: apiServer,
      expect: [
        [prometheus, "Prometheus"],
        [apiServer, "the API server did not answer"],
      ],
    },
  ];
  const runs = await Promise.all(variants.map((v) => runVariant(open, replay, v.plan, v.hanging)));
  return variants.map((v, i) => {
    const a = alertOf(runs[i] as Diagnosis);
    const problems = monotonicity(playbook, baseAlert, a, v.what);
    const failed = v.expect.some(([steps]) => [...steps].some((id) => replay.readers.has(id)));
    if (a.verdict === "no_cause" && failed)
      problems.push(
        `the headline is "no correlation found" with ${v.what}: it must be "could not check" or a cause that holds on what did answer`,
      );
    const fallback = a.causes.find((c) => c.id === "no_correlation");
    if (failed && fallback)
      problems.push(
        `the message gives the no-correlation remediation (${JSON.stringify(fallback.remediation)}) though ${v.unread} could not be read`,
      );
    for (const [steps, text] of v.expect) {
      if ([...steps].some((id) => replay.readers.has(id)) && !(a.couldNotRead ?? []).some((l) => l.includes(text)))
        problems.push(`what could not be read does not mention ${JSON.stringify(text)}: ${JSON.stringify(a.couldNotRead ?? [])}`);
    }
    return {
      kind: "fault" as const,
      file: open.file,
      name: `${playbook.name}: ${v.what} (in "${open.name}", ${open.where})`,
      passed: problems.length === 0,
      problems,
    };
  });
}
