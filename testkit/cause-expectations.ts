// The expectations about the diagnosis beyond its top cause's own text: which causes follow the top one (`ranked`),
// which it explains (`explains`), which the evidence ruled out (`ruledOut`), and text the top cause must not show
// (`notContains`). Each problem points at the entry of the test file that failed, so the runner reports it with
// file:line; an entry naming a cause the playbook does not have fails the case the same way.
import type { CompiledPlaybook } from "../src/engine/load-playbooks.ts";
import type { AlertDiagnosis } from "../src/model/diagnosis.ts";
import { didYouMean, type FixtureProblem, type Segments } from "./fixture-checks.ts";
import type { Expectation } from "./test-file.ts";

type TextField = keyof NonNullable<Expectation["notContains"]>;

const NO_CORRELATION = "no_correlation";

export function checkCauseExpectations(
  playbook: CompiledPlaybook,
  expected: Expectation,
  result: AlertDiagnosis,
  at: Segments,
): FixtureProblem[] {
  const causes = playbook.causes.map((c) => c.id);
  const unknown = (id: string, candidates: string[]) =>
    candidates.includes(id) ? undefined : `playbook ${playbook.name} has no cause ${id}${didYouMean(id, candidates)}`;
  const ranking = result.causes.map((c) => `${c.id} ${Math.round(c.confidence * 100)}%`).join(", ") || "none";
  const top = result.causes[0];
  const problems: FixtureProblem[] = [];
  /** A key about the top cause beside a headline that has none: reported, and the key is not checked. */
  const withoutTop = (key: string, what: string, headlines: string[]) => {
    if (!headlines.includes(expected.cause)) return false;
    problems.push({ path: [...at, key], message: `${what}: there is none when the headline is ${expected.cause}` });
    return true;
  };

  if (expected.ranked !== undefined) {
    const named = expected.ranked.map((id, i) => ({ id, i, problem: unknown(id, [...causes, NO_CORRELATION]) }));
    for (const { i, problem } of named) if (problem) problems.push({ path: [...at, "ranked", i], message: problem });
    if (expected.ranked[0] !== expected.cause) {
      problems.push({ path: [...at, "ranked", 0], message: `ranked starts with the top cause, ${expected.cause}` });
    } else if (named.every((n) => !n.problem)) {
      const got = result.causes.slice(0, expected.ranked.length).map((c) => c.id);
      if (got.join(",") !== expected.ranked.join(","))
        problems.push({
          path: [...at, "ranked"],
          message: `the causes should rank ${expected.ranked.join(", ")} first; causes ranked: ${ranking}`,
        });
    }
  }

  if (expected.explains !== undefined && !withoutTop("explains", "explains is about the top cause", [NO_CORRELATION, "could_not_check"])) {
    expected.explains.forEach((id, i) => {
      const path = [...at, "explains", i];
      const problem = unknown(
        id,
        causes.filter((c) => c !== expected.cause),
      );
      if (problem) return problems.push({ path, message: id === expected.cause ? "a cause does not explain itself" : problem });
      if (top?.explains?.includes(id)) return;
      const held = result.causes.some((c) => c.id === id) ? "holds" : "does not hold";
      problems.push({
        path,
        message: `the top cause ${top?.id ?? "none"} should explain ${id}, but ${top?.id ?? "it"} explains ${top?.explains?.join(", ") || "nothing"} and ${id} ${held} (causes ranked: ${ranking})`,
      });
    });
  }

  (expected.ruledOut ?? []).forEach((id, i) => {
    const path = [...at, "ruledOut", i];
    const problem = unknown(id, causes);
    if (problem) return problems.push({ path, message: problem });
    const cause = playbook.causes.find((c) => c.id === id);
    if (!cause || (result.ruledOut ?? []).includes(cause.title)) return;
    const notChecked = (result.notChecked ?? []).find((n) => n.id === id);
    const state = result.causes.some((c) => c.id === id)
      ? "it holds"
      : notChecked
        ? `it was not checked (${notChecked.reason})`
        : "it was not ruled out";
    problems.push({
      path,
      message: `cause ${id} ("${cause.title}") should be ruled out, but ${state} (ruled out: ${(result.ruledOut ?? []).join("; ") || "none"})`,
    });
  });

  if (expected.notContains !== undefined && !withoutTop("notContains", "notContains is about the top cause's text", ["could_not_check"])) {
    const lines: Record<TextField, string[]> = {
      summary: top ? [top.summary] : [],
      evidence: top?.evidence.map((e) => e.text) ?? [],
      remediation: top?.remediation ?? [],
    };
    for (const field of ["summary", "evidence", "remediation"] as const) {
      (expected.notContains[field] ?? []).forEach((unwanted, i) => {
        const line = lines[field].find((text) => text.includes(unwanted));
        if (line !== undefined)
          problems.push({
            path: [...at, "notContains", field, i],
            message: `the top cause's ${field} should not contain ${JSON.stringify(unwanted)}, but has ${JSON.stringify(line)}`,
          });
      });
    }
  }
  return problems;
}
