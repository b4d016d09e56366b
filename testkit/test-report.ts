// What `enricher rules test` prints: each case on a line, the refutation and fault cases, the causes no case reaches,
// and the totals.
import type { CaseResult, PlaybookTestReport } from "./run-playbook-tests.ts";

export function formatResults(results: CaseResult[]): string {
  const lines = caseLines(results);
  const passed = results.filter((r) => r.passed).length;
  lines.push("", `${passed} passed, ${results.length - passed} failed`);
  return lines.join("\n");
}

function caseLines(results: CaseResult[]): string[] {
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
  return lines;
}

function count(results: Array<{ passed: boolean }>): { passed: number; failed: number } {
  const passed = results.filter((r) => r.passed).length;
  return { passed, failed: results.length - passed };
}

/** Lists, grouped: "KubeClientErrors: a, b; shared/client-go-client: c". */
function groupedCauses(keys: string[]): string {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const at = key.lastIndexOf("/");
    const group = key.slice(0, at);
    groups.set(group, [...(groups.get(group) ?? []), key.slice(at + 1)]);
  }
  return [...groups.entries()].map(([group, ids]) => `${group}: ${ids.join(", ")}`).join("; ");
}

/**
 * The cases one line each, then every refutation case, the fault cases that failed, the causes no case reaches, one
 * summary line, and last the plain "N passed, N failed" of everything together.
 */
export function formatReport(report: PlaybookTestReport): string {
  const lines = caseLines(report.cases);
  if (report.refutations.length > 0) {
    lines.push("", "refutation: with the steps its symptom reads answering nothing there, each cause is ruled out");
    for (const r of report.refutations) {
      lines.push(`  ${r.passed ? "✓" : "✗"} ${r.name}`);
      for (const problem of r.problems) lines.push(`      ${problem}`);
    }
  }
  const faultsFailed = report.faults.filter((r) => !r.passed);
  if (report.faults.length > 0) {
    lines.push(
      "",
      `faults: each step that read something made unknown, and Prometheus refusing / the API server hanging / both (${faultsFailed.length === 0 ? "all passed" : "failures"})`,
    );
    for (const r of faultsFailed) {
      lines.push(`  ✗ ${r.name}`);
      for (const problem of r.problems) lines.push(`      ${problem}`);
    }
  }
  const unreached = report.causes.all.filter((key) => !report.causes.reached.includes(key));
  if (unreached.length > 0) lines.push("", `causes no case reaches (${unreached.length}): ${groupedCauses(unreached)}`);
  const cases = count(report.cases);
  const refutations = count(report.refutations);
  const faults = count(report.faults);
  lines.push(
    "",
    `${cases.passed} cases passed, ${cases.failed} failed; ${report.causes.reached.length} of ${report.causes.all.length} causes reached; ` +
      `${refutations.passed} refutation cases passed, ${refutations.failed} failed; ${faults.passed} fault cases passed, ${faults.failed} failed`,
    `${cases.passed + refutations.passed + faults.passed} passed, ${cases.failed + refutations.failed + faults.failed} failed`,
  );
  return lines.join("\n");
}
