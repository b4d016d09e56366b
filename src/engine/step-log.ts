// With LOG_LEVEL=debug, one line per playbook step as it ran: what it asked, how it went, how long it took, and why it
// failed. The request is the line the report shows (an API path, the PromQL), redacted again in case a templated value
// carried a credential; the Prometheus and API server URLs and their tokens are never part of it.
import type { Logger } from "pino";
import type { StepRecord } from "../model/diagnosis.ts";
import { redact } from "../sources/redact.ts";

export interface StepLogContext {
  notification: string;
  playbook: string;
  alertname?: string;
}

export function logSteps(logger: Logger, context: StepLogContext, steps: readonly StepRecord[]): void {
  if (!logger.isLevelEnabled("debug")) return;
  for (const step of steps) {
    logger.debug(
      {
        ...context,
        step: step.id,
        kind: step.kind,
        target: redact(step.request),
        status: step.status,
        ...(step.outcome !== undefined ? { outcome: step.outcome } : {}),
        durationMs: step.durationMs,
        summary: step.summary,
        ...(step.error !== undefined ? { reason: redact(step.error) } : {}),
      },
      "playbook step",
    );
  }
}
