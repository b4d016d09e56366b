// /metrics as a dashboard reads it: Node's process metrics under their standard names, the running version, and the
// latency of every request by route pattern, never by URL (a report link carries its bearer token in the query).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import { buildApp } from "../../src/server/app.ts";
import { reportLinkFor } from "../../src/server/report-links.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";

const SECRET = "http-metrics-test-signing-secret-0123456789";
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as { version: string })
  .version;

describe("GET /metrics", () => {
  let dir: string;
  let store: SqliteStore;
  let app: FastifyInstance;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-http-metrics-"));
    store = openSqliteStore(join(dir, "enricher.db"));
    await store.migrate();
    app = buildApp({
      store,
      metrics: createMetrics(() => store.queueDepth()),
      auth: { kind: "none" },
      bodyLimitBytes: 1024 * 1024,
      dedupWindowMs: 600_000,
      reports: { store, secret: SECRET },
    });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async () => (await app.inject({ method: "GET", url: "/metrics" })).body;

  it("has the process and Node.js metrics under their standard names, and none under the old enricher_process_ prefix", async () => {
    const text = await scrape();
    for (const name of [
      "process_cpu_seconds_total",
      "process_start_time_seconds",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_heap_size_used_bytes",
    ])
      expect(text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? `, "m"));
    expect(text).not.toContain("enricher_process_");
  });

  it("says which version runs: enricher_build_info{version} 1, the version of package.json", async () => {
    expect(await scrape()).toContain(`enricher_build_info{version="${PACKAGE_VERSION}"} 1\n`);
  });

  it("times each request by route pattern, method and status, and never writes a report link's id or token", async () => {
    const link = new URL(reportLinkFor({ publicUrl: "https://enricher.example.com", secret: SECRET, ttlHours: 24 })("n-secret-id") ?? "");
    const token = link.searchParams.get("token") ?? "";
    expect(token).not.toBe("");
    expect((await app.inject({ method: "GET", url: `${link.pathname}${link.search}` })).statusCode).toBe(404);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/wp-login.php?user=admin" })).statusCode).toBe(404);
    expect(
      (await app.inject({ method: "POST", url: "/alerts", headers: { "content-type": "application/json" }, payload: "{}" })).statusCode,
    ).toBe(400);

    const text = await scrape();
    const count = (labels: string) => {
      const match = new RegExp(`^enricher_http_request_duration_seconds_count\\{${labels}\\} (\\d+)$`, "m").exec(text);
      return match ? Number(match[1]) : undefined;
    };
    expect(count('route="/healthz",method="GET",status="200"')).toBe(2);
    expect(count('route="/reports/:id",method="GET",status="404"')).toBe(1);
    expect(count('route="unmatched",method="GET",status="404"')).toBe(1);
    expect(count('route="/alerts",method="POST",status="400"')).toBe(1);
    expect(text).toMatch(/^enricher_http_request_duration_seconds_bucket\{le="\+Inf",route="\/healthz",method="GET",status="200"\} 2$/m);
    expect(text).not.toContain(token);
    expect(text).not.toContain("n-secret-id");
    expect(text).not.toContain("wp-login");
  });
});
