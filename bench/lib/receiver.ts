// The receiver the ingest figures measure, alike in the ingest rows and the profile: buildApp on a SQLite store, with
// bearer auth, the schema check, a 10-minute deduplication window and info logs to `logger`.
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createMetrics } from "../../src/metrics.ts";
import { buildApp } from "../../src/server/app.ts";
import type { SqliteStore } from "../../src/store/sqlite.ts";
import { BENCH_TOKEN } from "./alerts.ts";

export function benchReceiver(store: SqliteStore, logger: Logger): FastifyInstance {
  return buildApp({
    store,
    metrics: createMetrics(() => store.queueDepth()),
    auth: { kind: "bearer", token: BENCH_TOKEN },
    bodyLimitBytes: 4 * 1024 * 1024,
    dedupWindowMs: 600_000,
    logger: logger.child({ component: "http" }),
  });
}
