// Evaluates a playbook's causes over the step results: the ones whose condition holds, strongest first, each with
// its evidence and remediation filled in. When none holds, the playbook's "no correlation found" branch.
import type { Scope } from "../engine/expressions.ts";
import type { CompiledCause, CompiledEvidence, CompiledPlaybook } from "../engine/load-playbooks.ts";
import { RejectedValue, type Template } from "../engine/template.ts";
import type { Cause, Evidence } from "../model/diagnosis.ts";

export interface Ranking {
  causes: Cause[];
  /** Conditions that could not be evaluated (usually because a step they read failed): shown to rule authors, not on-call. */
  unevaluated: Array<{ cause: string; error: string }>;
}

export function rankCauses(playbook: CompiledPlaybook, scope: Scope): Ranking {
  const unevaluated: Ranking["unevaluated"] = [];
  const matched: Cause[] = [];
  for (const cause of playbook.causes) {
    let holds = false;
    try {
      holds = cause.when?.evaluate(scope) === true;
    } catch (error) {
      unevaluated.push({ cause: cause.id, error: (error as Error).message });
    }
    if (holds) matched.push(renderCause(cause, scope));
  }
  matched.sort((a, b) => b.confidence - a.confidence);
  return { causes: matched.length > 0 ? matched : [renderCause(playbook.noCorrelation, scope)], unevaluated };
}

function renderCause(cause: CompiledCause, scope: Scope): Cause {
  return {
    id: cause.id,
    title: cause.title,
    summary: tryRender(() => cause.summary.render(scope)) ?? cause.title,
    confidence: cause.confidence,
    evidence: cause.evidence.flatMap((e) => renderEvidence(e, scope)),
    remediation: cause.remediation.flatMap((r) =>
      r.when && tryRender(() => r.when?.evaluate(scope)) !== true ? [] : command(r.command, scope),
    ),
    ...(cause.runbookRef ? { runbookRef: cause.runbookRef } : {}),
  };
}

function renderEvidence(evidence: CompiledEvidence, scope: Scope): Evidence[] {
  try {
    if (evidence.when && evidence.when.evaluate(scope) !== true) return [];
  } catch {
    return [];
  }
  let scopes: Scope[] = [scope];
  if (evidence.each) {
    const list = tryRender(() => evidence.each?.evaluate(scope));
    if (!Array.isArray(list)) return [];
    scopes = list.slice(0, evidence.max).map((item) => ({ ...scope, item }));
  }
  return scopes.flatMap((s) => {
    const text = tryRender(() => evidence.text.render(s));
    if (!text) return [];
    const at = evidence.at ? tryRender(() => evidence.at?.render(s)) : undefined;
    return [{ step: evidence.step, text, ...(at ? { at } : {}) }];
  });
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
