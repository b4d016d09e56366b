// /readyz on a full disk: webhooks answered 503 because the store has no space must show in readiness, even though
// the heartbeat (one small row rewritten in place) still fits; and readiness must come back once there is space.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import { buildApp } from "../../src/server/app.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

describe("/readyz when the disk is full", () => {
  let dir: string;
  let store: SqliteStore;
  let app: FastifyInstance;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-readiness-"));
    store = openSqliteStore(join(dir, "enricher.db"));
    await store.migrate();
    app = buildApp({ store, metrics: createMetrics(), auth: { kind: "none" }, bodyLimitBytes: 1024 * 1024, dedupWindowMs: 600_000 });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (n: number) =>
    app.inject({
      method: "POST",
      url: "/alerts",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify(kubeClientErrorsPayload({ instance: `10.0.0.${n}:8443` }, { groupKey: `{}:{instance="10.0.0.${n}:8443"}` })),
    });

  it("answers 503 naming the full disk once a webhook could not be stored, and 200 again when space is back", async () => {
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
    store.simulateFullDisk(true);

    // The first few still fit in pages the file already has; send until the store refuses one, as in issue #11.
    const statuses: number[] = [];
    for (let n = 1; n <= 50 && !statuses.includes(503); n++) statuses.push((await post(n)).statusCode);
    expect(statuses.at(-1)).toBe(503);

    const notReady = await app.inject({ url: "/readyz" });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ status: "not ready" });
    expect(notReady.json().reason).toMatch(/^store: .*storing a notification failed \d+ s ago \(database or disk is full\)/);
    // It stays not ready while the disk is full: each probe tries a write as large as the one refused.
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(503);
    expect((await post(100)).statusCode).toBe(503);
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(503);

    store.simulateFullDisk(false);
    const ready = await app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready" });
    expect((await post(100)).statusCode).toBe(200);
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
  });
});
