// The service's own Prometheus metrics (prefix enricher_), on a registry of its own so tests can build several apps.
// Node's process metrics keep prom-client's standard names (process_*, nodejs_*), so existing dashboards work.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SinkHealthState } from "./sinks/sink-health.ts";
import type { BackendState } from "./sources/backend-guard.ts";
import type { QueueDepth } from "./store/store.ts";
import { VERSION } from "./version.ts";

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
  /** By route pattern (never the raw URL: report links carry their token in the query), method and status code. */
  httpRequestDuration: Histogram<"route" | "method" | "status">;
  backendUp: Gauge<"backend">;
  backendCircuitOpen: Gauge<"backend">;
}

/**
 * `readBackends`: each backend's state by name ("kubernetes", "prometheus/prod-eu"), as /readyz gives it; `readSinks`:
 * each sink's last delivery state ("slack", "pagerduty"), which counts as up unless failing.
 */
export function createMetrics(
  readQueueDepth?: () => Promise<QueueDepth>,
  readBackends?: () => Record<string, BackendState>,
  readSinks?: () => Record<string, SinkHealthState>,
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "enricher_build_info",
    help: "Always 1; the version label says which alert-enricher is running.",
    labelNames: ["version"],
    registers: [registry],
  }).set({ version: VERSION }, 1);
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
    httpRequestDuration: new Histogram({
      name: "enricher_http_request_duration_seconds",
      help: "HTTP requests served, by route pattern, method and status code: time from the request to the response.",
      labelNames: ["route", "method", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
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
    backendUp: new Gauge({
      name: "enricher_backend_up",
      help:
        "1 while a backend the playbooks read (API server, Prometheus, audit log) answers, 0 while it fails or its circuit is open; " +
        "for a sink (slack, pagerduty…), 0 while its deliveries fail, else 1 (idle and rate-limited included).",
      labelNames: ["backend"],
      registers: [registry],
      collect() {
        for (const [backend, state] of Object.entries(readBackends?.() ?? {})) this.set({ backend }, state.state === "ok" ? 1 : 0);
        for (const [backend, state] of Object.entries(readSinks?.() ?? {})) this.set({ backend }, state.state === "failing" ? 0 : 1);
      },
    }),
    backendCircuitOpen: new Gauge({
      name: "enricher_backend_circuit_open",
      help: "1 while the circuit breaker of a backend is open: its reads are not sent, and diagnoses say so.",
      labelNames: ["backend"],
      registers: [registry],
      collect() {
        for (const [backend, state] of Object.entries(readBackends?.() ?? {}))
          this.set({ backend }, state.state === "circuit_open" ? 1 : 0);
      },
    }),
  };
}
