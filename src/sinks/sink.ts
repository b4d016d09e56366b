// The one interface every delivery target implements. The retry policy lives in one place (queue/delivery-worker.ts);
// a sink only says whether a failure is worth retrying.
import type { Diagnosis } from "../model/diagnosis.ts";

export type SinkOutcome =
  | { status: "delivered"; detail?: string }
  | { status: "retry"; error: string; retryAfterMs?: number }
  | { status: "failed"; error: string };

export interface Sink {
  /** Stable name, used in the store, logs and metrics: "console", "slack", "pagerduty". */
  readonly name: string;
  deliver(diagnosis: Diagnosis): Promise<SinkOutcome>;
}
