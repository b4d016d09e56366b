// The bounds a playbook run keeps: the step timeout and deadline come from the configuration, the read caps are fixed.
import type { RunLimits } from "./step-kinds/step-kind.ts";

/** At most this much of one read: list items, log lines, log bytes. */
const READ_CAPS = { listLimit: 500, logTailLines: 2000, logLimitBytes: 1024 * 1024 } as const;

/** STEP_TIMEOUT_SECONDS and PLAYBOOK_DEADLINE_SECONDS as Config holds them (or a test's own values). */
export interface RunBudget {
  stepTimeoutMs: number;
  playbookDeadlineMs: number;
}

export function runLimitsFrom(budget: RunBudget): RunLimits {
  return { stepTimeoutMs: budget.stepTimeoutMs, deadlineMs: budget.playbookDeadlineMs, ...READ_CAPS };
}
