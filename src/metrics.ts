// The service's own Prometheus metrics (prefix enricher_), on a registry of its own so tests can build several apps.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { QueueDepth } from "./store/store.ts";

export interface Metrics {
  registry: Registry;
  received: Counter<"status">;
  duplicates: Counter;
  rejected: Counter<"reason">;
  playbookRuns: Counter<"playbook" | "outcome">;
  playbookDuration: Histogram<"playbook">;
  stepFailures: Counter<"playbook" | "step" | "kind" | "status">;
  deliveries: Counter<"sink" | "outcome">;
  deliveryErrors: Counter<"sink" | "error">;
  retryAfterCapped: Counter<"sink">;
  queueDepth: Gauge<"queue">;
}

export function createMetrics(readQueueDepth?: () => Promise<QueueDepth>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "enricher_process_" });
  return {
    registry,
    received: new Counter({
      name: "enricher_notifications_received_total",
      help: "Webhook notifications accepted and stored, by group status.",
      labelNames: ["status"],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: "enricher_notifications_duplicate_total",
      help: "Notifications answered 200 but not processed again (same group key, status and alerts).",
      registers: [registry],
    }),
    rejected: new Counter({
      name: "enricher_notifications_rejected_total",
      help: "Webhook requests refused, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    }),
    playbookRuns: new Counter({
      name: "enricher_playbook_runs_total",
      help: "Playbook runs, by playbook and outcome (complete or partial).",
      labelNames: ["playbook", "outcome"],
      registers: [registry],
    }),
    playbookDuration: new Histogram({
      name: "enricher_playbook_duration_seconds",
      help: "Time from the start of a playbook run to its diagnosis.",
      labelNames: ["playbook"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
      registers: [registry],
    }),
    stepFailures: new Counter({
      name: "enricher_step_failures_total",
      help: "Playbook steps that failed or timed out.",
      labelNames: ["playbook", "step", "kind", "status"],
      registers: [registry],
    }),
    deliveries: new Counter({
      name: "enricher_deliveries_total",
      help: "Delivery attempts, by sink and outcome (delivered, retry, failed).",
      labelNames: ["sink", "outcome"],
      registers: [registry],
    }),
    deliveryErrors: new Counter({
      name: "enricher_delivery_errors_total",
      help: "Failed delivery attempts, by sink and the service's error name (channel_not_found, invalid_auth, http_503, timeout…).",
      labelNames: ["sink", "error"],
      registers: [registry],
    }),
    retryAfterCapped: new Counter({
      name: "enricher_retry_after_capped_total",
      help: "Retries whose Retry-After was longer than DELIVERY_RETRY_AFTER_MAX_SECONDS and was cut to it, by sink.",
      labelNames: ["sink"],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "enricher_queue_depth",
      help: "Work waiting in the store: notifications to diagnose and deliveries to make.",
      labelNames: ["queue"],
      registers: [registry],
      async collect() {
        if (!readQueueDepth) return;
        try {
          const depth = await readQueueDepth();
          this.set({ queue: "notifications" }, depth.notifications);
          this.set({ queue: "deliveries" }, depth.deliveries);
        } catch {
          // A store that cannot answer shows in /readyz; the gauge keeps its last value.
        }
      },
    }),
  };
}
