// Evaluates a playbook's causes over a run's known evidence. Each cause holds, is ruled out, or is not checked (a read
// it depends on failed). A holding cause is scored from its evidence; a cause that explains another holding cause
// leads it. When none holds, the verdict says whether that is because nothing matched or because it could not check.
import type { Scope } from "../engine/expressions.ts";
import type { CompiledCause, CompiledEvidence, CompiledPlaybook } from "../engine/load-playbooks.ts";
import { RejectedValue, type Template } from "../engine/template.ts";
import { unknownReason, type Unknowns } from "../engine/run-playbook.ts";
import type { Cause, Evidence, NotChecked, Verdict } from "../model/diagnosis.ts";

export interface Ranking {
  verdict: Verdict;
  /** Holding causes, deepest first then strongest; the no-correlation branch when none holds and all was checked. */
  causes: Cause[];
  /** Causes that could not be decided, each with the read that stopped it. */
  notChecked: NotChecked[];
  /** Titles of the causes the evidence ruled out. */
  ruledOut: string[];
  /** What was seen of the causes that could not be checked (their explanations that were read), at most five. */
  stillKnown: string[];
  /** Conditions that failed on their own account (a rule bug or data of an unexpected shape): for rule authors. */
  unevaluated: Array<{ cause: string; error: string }>;
}

type Truth = true | false | "unknown";

const STILL_KNOWN = 5;

interface Decision {
  value: Truth;
  /** Why it is unknown: the read that failed, or the expression's own error. */
  reason?: string;
  /** Unknown only because this installation cannot read what it needs (no audit log configured). */
  unavailable?: boolean;
  /** Set when the expression failed without reading anything unknown. */
  error?: string;
}

/** Evaluates a condition three-valued: an error caused by an unknown step or fact is "unknown", not false. */
function decide(expression: { source: string; evaluate(scope: Scope): unknown }, scope: Scope, unknown: Unknowns): Decision {
  try {
    return { value: expression.evaluate(scope) === true };
  } catch (error) {
    const unread = unknownReason(expression.source, unknown);
    if (unread !== undefined) return { value: "unknown", reason: unread.reason, ...(unread.unavailable ? { unavailable: true } : {}) };
    const message = (error as Error).message;
    return { value: "unknown", reason: `its condition could not be evaluated (${message})`, error: message };
  }
}

/** Kleene's AND: false wins, then unknown. */
function both(a: Decision, b: Decision): Decision {
  if (a.value === false) return a;
  if (b.value === false) return b;
  if (a.value === "unknown") return a;
  return b;
}

export function rankCauses(playbook: CompiledPlaybook, scope: Scope, unknown: Unknowns = new Map()): Ranking {
  const unevaluated: Ranking["unevaluated"] = [];
  const holding: Array<{ spec: CompiledCause; cause: Cause }> = [];
  const notChecked: NotChecked[] = [];
  const ruledOut: string[] = [];
  const stillKnown = new Set<string>();
  for (const spec of playbook.causes) {
    const symptom = spec.symptom ? decide(spec.symptom.when, scope, unknown) : undefined;
    const own = spec.when ? decide(spec.when, scope, unknown) : undefined;
    const decision = symptom && own ? both(symptom, own) : (symptom ?? own ?? { value: false });
    for (const d of [symptom, own]) if (d?.error !== undefined) unevaluated.push({ cause: spec.id, error: d.error });
    if (decision.value === true) holding.push({ spec, cause: renderCause(spec, scope, unknown) });
    else if (decision.value === false) ruledOut.push(spec.title);
    else {
      for (const line of spec.evidence.flatMap((e) => renderEvidence(e, scope, unknown).lines)) stillKnown.add(line.text);
      notChecked.push({
        id: spec.id,
        title: spec.title,
        reason: decision.reason ?? "unknown",
        ...(decision.unavailable ? { unavailable: true } : {}),
      });
    }
  }
  const causes = order(holding);
  const known = [...stillKnown].slice(0, STILL_KNOWN);
  if (causes.length > 0) return { verdict: "cause", causes, notChecked, ruledOut, stillKnown: known, unevaluated };
  // "Nothing matched" is only said when every read that could decide a cause succeeded. A check this installation
  // cannot make at all (no audit log) does not stop it; it is listed as not checked beside the verdict.
  if (notChecked.some((n) => !n.unavailable)) {
    return { verdict: "could_not_check", causes: [], notChecked, ruledOut, stillKnown: known, unevaluated };
  }
  const noCause = renderCause(playbook.noCorrelation, scope, unknown);
  return { verdict: "no_cause", causes: [noCause], notChecked, ruledOut, stillKnown: known, unevaluated };
}

/**
 * Deepest first: a cause that explains another holding cause goes before it, whatever the scores; otherwise the higher
 * confidence first. Each keeps the holding causes it explains, for the one-line chain.
 */
function order(holding: Array<{ spec: CompiledCause; cause: Cause }>): Cause[] {
  const held = new Map(holding.map((h) => [h.spec.id, h]));
  const explainedBy = new Map<string, string[]>();
  for (const h of holding) {
    const explains = h.spec.explains.filter((id) => held.has(id));
    if (explains.length > 0) h.cause.explains = explains;
    for (const id of explains) explainedBy.set(id, [...(explainedBy.get(id) ?? []), h.spec.id]);
  }
  // Depth: how many holding causes stand behind this one. A root has none and sorts first.
  const depth = (id: string, seen: Set<string> = new Set()): number => {
    if (seen.has(id)) return 0;
    seen.add(id);
    const behind = explainedBy.get(id) ?? [];
    return behind.length === 0 ? 0 : 1 + Math.max(...behind.map((b) => depth(b, seen)));
  };
  return holding
    .map((h) => ({ cause: h.cause, depth: depth(h.spec.id) }))
    .sort((a, b) => a.depth - b.depth || b.cause.confidence - a.cause.confidence)
    .map((h) => h.cause);
}

/**
 * confidence = ceiling × (0.6 + 0.4 × strength) × (0.7 + 0.3 × seen ÷ explanations) × (1 − 0.4 × unchecked ÷ checks).
 * The ceiling is the playbook's number; strength the symptom's (1 when not given); an explanation is an evidence entry,
 * seen when it yields a line, unchecked when what it reads is unknown; checks are the symptom, the condition and the
 * explanations. rules/README.md explains the choice.
 */
export function computeConfidence(input: {
  ceiling: number;
  strength: number;
  explanations: number;
  seen: number;
  unchecked: number;
  checks: number;
}): number {
  const strength = Math.min(1, Math.max(0, Number.isFinite(input.strength) ? input.strength : 1));
  const support = input.explanations === 0 ? 1 : input.seen / input.explanations;
  const coverage = input.checks === 0 ? 1 : 1 - (0.4 * input.unchecked) / input.checks;
  return Math.round(input.ceiling * (0.6 + 0.4 * strength) * (0.7 + 0.3 * support) * coverage * 100) / 100;
}

function renderCause(cause: CompiledCause, scope: Scope, unknown: Unknowns): Cause {
  const symptomLine = cause.symptom ? tryRender(() => cause.symptom?.text.render(scope)) : undefined;
  const explanations = cause.evidence.map((e) => renderEvidence(e, scope, unknown));
  const seen = explanations.filter((e) => e.state === "seen").length;
  const unchecked = explanations.filter((e) => e.state === "unknown").length;
  const strength = cause.symptom?.strength ? tryRender(() => Number(cause.symptom?.strength?.evaluate(scope))) : undefined;
  const checks = (cause.symptom ? 1 : 0) + (cause.when ? 1 : 0) + explanations.length;
  const evidence: Evidence[] = [
    ...(symptomLine ? [{ step: cause.symptom?.step ?? "", text: symptomLine }] : []),
    ...explanations.flatMap((e) => e.lines),
  ];
  return {
    id: cause.id,
    title: cause.title,
    summary: tryRender(() => cause.summary.render(scope)) ?? cause.title,
    confidence: computeConfidence({
      ceiling: cause.confidence,
      strength: strength ?? 1,
      explanations: explanations.length,
      seen,
      unchecked,
      checks,
    }),
    checks: { made: checks - unchecked, total: checks },
    evidence,
    remediation: cause.remediation.flatMap((r) =>
      r.when && tryRender(() => r.when?.evaluate(scope)) !== true ? [] : command(r.command, scope),
    ),
    ...(cause.runbookRef ? { runbookRef: cause.runbookRef } : {}),
  };
}

function renderEvidence(
  evidence: CompiledEvidence,
  scope: Scope,
  unknown: Unknowns,
): { state: "seen" | "not_seen" | "unknown"; lines: Evidence[] } {
  // An explanation this installation cannot read at all (no audit log) is not a check left undone: it is not seen.
  const unread = unknown.get(`steps.${evidence.step}`);
  if (unread !== undefined) return { state: unread.unavailable ? "not_seen" : "unknown", lines: [] };
  if (evidence.when) {
    const d = decide(evidence.when, scope, unknown);
    if (d.value === "unknown") return { state: d.error === undefined ? "unknown" : "not_seen", lines: [] };
    if (!d.value) return { state: "not_seen", lines: [] };
  }
  let scopes: Scope[] = [scope];
  if (evidence.each) {
    const each = evidence.each;
    let list: unknown;
    try {
      list = each.evaluate(scope);
    } catch {
      return { state: unknownReason(each.source, unknown) !== undefined ? "unknown" : "not_seen", lines: [] };
    }
    if (!Array.isArray(list)) return { state: "not_seen", lines: [] };
    scopes = list.slice(0, evidence.max).map((item) => ({ ...scope, item }));
  }
  const lines = scopes.flatMap((s) => {
    const text = tryRender(() => evidence.text.render(s));
    if (!text) return [];
    const at = evidence.at ? tryRender(() => evidence.at?.render(s)) : undefined;
    return [{ step: evidence.step, text, ...(at ? { at } : {}) }];
  });
  return { state: lines.length > 0 ? "seen" : "not_seen", lines };
}

/**
 * A remediation command with its values filled in; none when its data is not there. A value the command cannot take
 * (one that would become an option, or is no valid name) shows a note saying so instead of the command.
 */
function command(template: Template, scope: Scope): string[] {
  try {
    return [template.render(scope)];
  } catch (error) {
    return error instanceof RejectedValue ? [error.note] : [];
  }
}

function tryRender<T>(render: () => T): T | undefined {
  try {
    return render();
  } catch {
    return undefined;
  }
}
