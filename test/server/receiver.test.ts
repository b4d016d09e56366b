import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { buildApp } from "../../src/server/app.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { kubeClientErrorsPayload, realPayload } from "../support/payloads.ts";

const TOKEN = "s3cret-token-for-tests-0123456789";

describe("POST /alerts", () => {
  let dir: string;
  let store: SqliteStore;
  let metrics: Metrics;
  let app: FastifyInstance;
  let woken: number;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-receiver-"));
    store = openSqliteStore(join(dir, "enricher.db"));
    await store.migrate();
    metrics = createMetrics(() => store.queueDepth());
    woken = 0;
    app = buildApp({
      store,
      metrics,
      auth: { kind: "bearer", token: TOKEN },
      bodyLimitBytes: 1024 * 1024,
      dedupWindowMs: 600_000,
      onStored: () => woken++,
    });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: string | object, headers: Record<string, string> = {}) =>
    request(app.server)
      .post("/alerts")
      .set({ "content-type": "application/json", authorization: `Bearer ${TOKEN}`, ...headers })
      .send(typeof body === "string" ? body : JSON.stringify(body));

  const stored = async () => (await store.queueDepth()).notifications;

  it("stores a real Alertmanager 0.25 payload and answers 200 with its id", async () => {
    const response = await post(realPayload());
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: "stored", duplicate: false });
    expect(await stored()).toBe(1);
    const claimed = await store.claimNotification("test", 1000);
    expect(claimed?.payload.alerts[0]?.labels.alertname).toBe("KubernetesApiClientErrors");
    expect(woken).toBe(1);
  });

  it("accepts unknown extra fields, as newer Alertmanagers send (notification_reason, routeLabels)", async () => {
    const response = await post({ ...realPayload(), notification_reason: "first notification", routeLabels: {}, somethingNew: [1, 2] });
    expect(response.status).toBe(200);
  });

  it("accepts a regex-escaped receiver and the Go zero time as endsAt", async () => {
    const response = await post({ ...realPayload(), receiver: "team\\.enricher" });
    expect(response.status).toBe(200);
  });

  it("answers 401 without a token, names the variable to check, and stores nothing", async () => {
    const response = await request(app.server).post("/alerts").set("content-type", "application/json").send(JSON.stringify(realPayload()));
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toContain("Bearer");
    expect(response.body.message).toContain("WEBHOOK_BEARER_TOKEN");
    expect(await stored()).toBe(0);
  });

  it("answers 401 to a wrong token of the same length and to basic credentials", async () => {
    const wrong = TOKEN.replace(/.$/, "X");
    expect((await post(realPayload(), { authorization: `Bearer ${wrong}` })).status).toBe(401);
    expect((await post(realPayload(), { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` })).status).toBe(401);
    expect(await stored()).toBe(0);
  });

  it("answers 400 to a body that is not JSON", async () => {
    const response = await post("{not json");
    expect(response.status).toBe(400);
    expect(response.body.error).toBe("invalid JSON");
    expect(await stored()).toBe(0);
  });

  it("answers 400 naming the missing field when alerts is absent", async () => {
    const { alerts: _, ...withoutAlerts } = realPayload();
    const response = await post(withoutAlerts);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "invalid payload", field: "/alerts" });
    expect(response.body.message).toContain("alerts is required");
    expect(await stored()).toBe(0);
  });

  it("answers 400 naming the field with the wrong type", async () => {
    const payload = realPayload();
    const broken = { ...payload, alerts: [{ ...payload.alerts[0], labels: { alertname: 42 } }] };
    const response = await post(broken);
    expect(response.status).toBe(400);
    expect(response.body.field).toBe("/alerts/0/labels/alertname");
    expect(response.body.message).toContain("must be string");
  });

  it("answers 400 to an unknown status and to a version other than 4", async () => {
    const status = await post({ ...realPayload(), status: "exploded" });
    expect(status.status).toBe(400);
    expect(status.body.field).toBe("/status");
    expect(status.body.message).toContain("firing, resolved");
    const version = await post({ ...realPayload(), version: "3" });
    expect(version.status).toBe(400);
    expect(version.body.field).toBe("/version");
  });

  it("answers 413 to a 5 MB body and stores nothing", async () => {
    const payload = realPayload();
    const huge = { ...payload, commonAnnotations: { description: "x".repeat(5 * 1024 * 1024) } };
    const response = await post(huge);
    expect(response.status).toBe(413);
    expect(response.body.message).toContain("BODY_LIMIT_BYTES");
    expect(await stored()).toBe(0);
  });

  it("answers 200 to the same notification sent twice but stores it once", async () => {
    const payload = kubeClientErrorsPayload();
    const first = await post(payload);
    const second = await post(payload);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ duplicate: true, id: first.body.id });
    expect(await stored()).toBe(1);
    const metricsText = await metrics.registry.getSingleMetricAsString("enricher_notifications_duplicate_total");
    expect(metricsText).toMatch(/enricher_notifications_duplicate_total 1/);
  });

  it("stores the resolve of a group as a new notification", async () => {
    const firing = kubeClientErrorsPayload();
    const resolved = {
      ...firing,
      status: "resolved" as const,
      alerts: firing.alerts.map((a) => ({ ...a, status: "resolved" as const, endsAt: new Date().toISOString() })),
    };
    await post(firing);
    const response = await post(resolved);
    expect(response.body.duplicate).toBe(false);
    expect(await stored()).toBe(2);
  });

  it("answers 503 when the store cannot take the write, so that Alertmanager retries", async () => {
    await store.close();
    const response = await post(realPayload());
    expect(response.status).toBe(503);
    expect(response.headers["retry-after"]).toBeDefined();
    store = openSqliteStore(join(dir, "enricher.db"));
  });

  it("counts rejections by reason in /metrics", async () => {
    await post("{nope");
    await post(realPayload(), { authorization: "Bearer nope" });
    const response = await request(app.server).get("/metrics");
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/enricher_notifications_rejected_total\{reason="invalid_json"\} 1/);
    expect(response.text).toMatch(/enricher_notifications_rejected_total\{reason="unauthorized"\} 1/);
    expect(response.text).toContain("enricher_queue_depth");
  });
});

describe("health endpoints", () => {
  it("/healthz is 200 and /readyz is 503 with the reason when the store is read-only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "enricher-ready-"));
    const path = join(dir, "enricher.db");
    const writable = openSqliteStore(path);
    await writable.migrate();
    await writable.close();
    const store = openSqliteStore(path, { readOnly: true });
    const app = buildApp({ store, metrics: createMetrics(), auth: { kind: "none" }, bodyLimitBytes: 1024, dedupWindowMs: 0 });
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().reason).toMatch(/^store: /);
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("/readyz is 200 when the store is writable and the rules are loaded, 503 naming the rules problem otherwise", async () => {
    const store = openSqliteStore(":memory:");
    await store.migrate();
    let rulesProblem: string | undefined = undefined;
    const app = buildApp({
      store,
      metrics: createMetrics(),
      auth: { kind: "none" },
      bodyLimitBytes: 1024,
      dedupWindowMs: 0,
      readiness: async () => rulesProblem,
    });
    expect((await app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
    rulesProblem = "no playbooks loaded from ./rules";
    const notReady = await app.inject({ method: "GET", url: "/readyz" });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().reason).toContain("no playbooks");
    await app.close();
    await store.close();
  });
});

describe("basic auth", () => {
  it("accepts the configured user:password and refuses another", async () => {
    const store = openSqliteStore(":memory:");
    await store.migrate();
    const app = buildApp({
      store,
      metrics: createMetrics(),
      auth: { kind: "basic", user: "am", password: "pa:ss" },
      bodyLimitBytes: 1024 * 1024,
      dedupWindowMs: 0,
    });
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    const ok = await app.inject({
      method: "POST",
      url: "/alerts",
      headers: { authorization: basic("am", "pa:ss"), "content-type": "application/json" },
      payload: realPayload(),
    });
    expect(ok.statusCode).toBe(200);
    const wrong = await app.inject({
      method: "POST",
      url: "/alerts",
      headers: { authorization: basic("am", "pass"), "content-type": "application/json" },
      payload: realPayload(),
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers["www-authenticate"]).toContain("Basic");
    await app.close();
    await store.close();
  });
});

describe("what Alertmanager can send", () => {
  it("stores a 2,000-character label name, 300 labels and a 1,001-alert group: a 4xx would lose them, Alertmanager never retries it", async () => {
    const store = openSqliteStore(":memory:");
    await store.migrate();
    const app = buildApp({ store, metrics: createMetrics(), auth: { kind: "none" }, bodyLimitBytes: 4 << 20, dedupWindowMs: 0 });
    const payload = realPayload();
    const first = payload.alerts[0];
    if (!first) throw new Error("the sample has an alert");
    const wide = { ...first, labels: { ...first.labels, ["x".repeat(2000)]: "v" } };
    for (let k = 0; k < 300; k++) wide.labels[`l${k}`] = "v";
    payload.alerts = [wide, ...Array.from({ length: 1000 }, (_, n) => ({ ...first, fingerprint: `f${n}` }))];
    const response = await app.inject({ method: "POST", url: "/alerts", headers: { "content-type": "application/json" }, payload });
    expect(response.statusCode).toBe(200);
    const stored = await store.claimNotification("w", 60_000);
    expect(stored?.payload.alerts).toHaveLength(1001);
    expect(Object.keys(stored?.payload.alerts[0]?.labels ?? {})).toContain("x".repeat(2000));
    await app.close();
    await store.close();
  });
});
