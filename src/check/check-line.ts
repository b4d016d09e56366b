// One result of `enricher check`, as printed and as /readyz gives it: ok, FAIL or warn, what was checked, and what is
// wrong and how to fix it.

export type CheckStatus = "ok" | "FAIL" | "warn";

export interface CheckLine {
  status: CheckStatus;
  /** What was checked: "kubernetes", "prometheus (prod-eu)", "slack", … */
  check: string;
  detail: string;
}

export interface CheckSummary {
  /** When the check finished. */
  at: string;
  failed: number;
  warnings: number;
  lines: CheckLine[];
}

export function summarize(lines: CheckLine[], at = new Date()): CheckSummary {
  return {
    at: at.toISOString(),
    failed: lines.filter((l) => l.status === "FAIL").length,
    warnings: lines.filter((l) => l.status === "warn").length,
    lines,
  };
}

export function formatCheckLine(line: CheckLine): string {
  return `${line.status.padEnd(4)}  ${line.check}  ${line.detail}`;
}

/** "a, b, c and 4 more": a long list of steps kept to one line. */
export function listSome(items: readonly string[], shown = 4): string {
  if (items.length <= shown) return items.join(", ");
  return `${items.slice(0, shown).join(", ")} and ${items.length - shown} more`;
}
