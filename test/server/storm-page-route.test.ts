// The storm page over HTTP: opened only with a storm link (never a report's), naming every group of the storm with a
// working link to its own report.
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { buildApp } from "../../src/server/app.ts";
import { signReportToken, stormLinkFor, stormTokenId, verifyReportToken } from "../../src/server/report-links.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { alertPayload } from "../store/store-conformance.ts";
import { makeAlertDiagnosis, makeCause, makeDiagnosis } from "../support/diagnosis-fixtures.ts";

const SECRET = "0123456789abcdef0123456789abcdef-report-secret";
const HOUR = 3_600_000;
const API_SERVER_FAILING = { id: "apiserver_side_errors", title: "The API server is failing the requests" };

describe("storm links", () => {
  it("sign the storm's page for storm:<id>, so a report's token is no storm token and a storm's no report token", () => {
    const now = new Date("2026-12-04T10:00:00Z");
    const link = stormLinkFor({ publicUrl: "https://enricher.example.com/", secret: SECRET, ttlHours: 168, now: () => now })("s-1");
    expect(link).toMatch(/^https:\/\/enricher\.example\.com\/reports\/storms\/s-1\?token=[A-Za-z0-9_-]+$/);
    const token = new URL(link!).searchParams.get("token")!;
    expect(verifyReportToken(token, stormTokenId("s-1"), SECRET, now)).toBe("valid");
    expect(verifyReportToken(token, "s-1", SECRET, now)).toBe("invalid");
    expect(verifyReportToken(token, stormTokenId("s-1"), SECRET, new Date(now.getTime() + 168 * HOUR))).toBe("expired");
    expect(stormLinkFor({ publicUrl: "https://enricher.example.com", ttlHours: 168 })("s-1")).toBeUndefined();
    expect(stormLinkFor({ secret: SECRET, ttlHours: 168 })("s-1")).toBeUndefined();
  });
});

describe("GET /reports/storms/:id", () => {
  let store: SqliteStore;
  let app: FastifyInstance;
  let now: Date;
  let counter = 0;

  /** Stores a notification of `groupKey` and completes it with a diagnosis naming `job` and `cause`. */
  async function diagnosed(
    groupKey: string,
    job: string,
    cause: { id: string; title: string; summary?: string },
    resolved = false,
  ): Promise<string> {
    const receivedAt = new Date(now.getTime() - 60_000 + counter * 1000);
    const payload = { ...alertPayload(groupKey), ...(resolved ? { status: "resolved" as const } : {}) };
    const { id } = await store.insertNotification({ dedupKey: `k${++counter}`, payload, receivedAt, dedupWindowMs: 0 });
    await store.claimNotification("w", 60_000, receivedAt);
    const diagnosis: Diagnosis = makeDiagnosis({
      notificationId: id,
      groupKey,
      status: resolved ? "resolved" : "firing",
      commonLabels: { alertname: "KubeClientErrors", cluster: "prod-eu", job },
      alerts: [makeAlertDiagnosis({ verdict: "cause", causes: [makeCause({ summary: `${job} gets 5xx`, ...cause })] })],
    });
    await store.completeNotification(id, diagnosis, []);
    return id;
  }

  async function storm(groupKeys: string[]): Promise<string> {
    const { id } = await store.joinStorm({
      cluster: "prod-eu",
      groups: groupKeys.map((groupKey) => ({ groupKey, firstReceivedAt: new Date(now.getTime() - 60_000) })),
      at: now,
      windowMs: 120_000,
    });
    return id;
  }

  const token = (id: string, hours = 1) => signReportToken(id, new Date(now.getTime() + hours * HOUR), SECRET);
  const stormToken = (stormId: string, hours = 1) => token(stormTokenId(stormId), hours);

  beforeEach(async () => {
    now = new Date();
    counter = 0;
    store = openSqliteStore(":memory:");
    await store.migrate();
    app = buildApp({
      store,
      metrics: createMetrics(() => store.queueDepth()),
      auth: { kind: "bearer", token: "a-webhook-token-of-16+" },
      bodyLimitBytes: 1024 * 1024,
      dedupWindowMs: 0,
      reports: { store, secret: SECRET, now: () => now },
    });
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
  });

  it("opens with a storm link: the shared cause first, every group named and linked to a report that opens", async () => {
    const reports = new Map<string, string>();
    for (const job of ["checkout", "payments", "search"]) reports.set(job, await diagnosed(`{}:{job="${job}"}`, job, API_SERVER_FAILING));
    reports.set(
      "report-exporter",
      await diagnosed('{}:{job="report-exporter"}', "report-exporter", {
        id: "authorization_failure",
        title: "Client not allowed by RBAC (403)",
      }),
    );
    reports.set("cart", await diagnosed('{}:{job="cart"}', "cart", API_SERVER_FAILING, true));
    const stormId = await storm([...reports.keys()].map((job) => `{}:{job="${job}"}`));

    const response = await app.inject({ url: `/reports/storms/${stormId}?token=${stormToken(stormId)}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(response.headers["cache-control"]).toBe("private, no-store");
    expect(response.headers["content-security-policy"]).toMatch(/default-src 'none'.*script-src 'sha256-/);
    expect(response.headers["referrer-policy"]).toBe("no-referrer");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    const body = response.body;
    expect(body).toContain("Storm in prod-eu: 5 alert groups");
    expect(body).toContain("4 firing, 1 resolved");
    const shared = body.indexOf("Shared cause: the API server");
    expect(shared).toBeGreaterThan(0);
    expect(body).toContain("It explains 4 of the 5 groups.");
    expect(shared).toBeLessThan(body.indexOf("4 groups: The API server is failing the requests"));
    expect(body.indexOf("4 groups: The API server is failing the requests")).toBeLessThan(
      body.indexOf("1 group: Client not allowed by RBAC"),
    );

    for (const [job, reportId] of reports) {
      const href = new RegExp(`<a href="\\.\\./${reportId}\\?token=([A-Za-z0-9_-]+)">${job}</a>`).exec(body)?.[1];
      expect(href, job).toBeDefined();
      // The relative link resolves to the group's report, and its token opens it.
      expect(new URL(`../${reportId}?token=${href}`, `https://e.example/reports/storms/${stormId}`).pathname).toBe(`/reports/${reportId}`);
      expect((await app.inject({ url: `/reports/${reportId}?token=${href}` })).statusCode, job).toBe(200);
    }
    expect(body).toMatch(/>cart<\/a> — <strong>resolved<\/strong>/);
    expect(body).not.toMatch(/>checkout<\/a> — <strong>resolved/);
  });

  it("refuses a storm page without a token, with a tampered one, with a report's, or with another storm's; an expired one says so", async () => {
    const reportId = await diagnosed('{}:{job="checkout"}', "checkout", API_SERVER_FAILING);
    const stormId = await storm(['{}:{job="checkout"}']);
    const valid = stormToken(stormId);
    const tampered = `${valid.slice(0, -2)}${valid.endsWith("AA") ? "BB" : "AA"}`;
    for (const url of [
      `/reports/storms/${stormId}`,
      `/reports/storms/${stormId}?token=${tampered}`,
      `/reports/storms/${stormId}?token=${token(stormId)}`,
      `/reports/storms/${stormId}?token=${token(reportId)}`,
      `/reports/storms/${stormId}?token=${stormToken("another-storm")}`,
      `/reports/storms/${stormId}?token=${stormToken(stormId, -1)}`,
    ]) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(401);
      expect(response.body).not.toContain("checkout");
    }
    expect((await app.inject({ url: `/reports/storms/${stormId}?token=${stormToken(stormId, -1)}` })).json().message).toContain("expired");
  });

  it("does not open a report with a storm's token", async () => {
    const reportId = await diagnosed('{}:{job="checkout"}', "checkout", API_SERVER_FAILING);
    expect((await app.inject({ url: `/reports/${reportId}?token=${stormToken(reportId)}` })).statusCode).toBe(401);
    expect((await app.inject({ url: `/reports/${reportId}?token=${token(reportId)}` })).statusCode).toBe(200);
  });

  it("answers 404 for a validly signed storm that the store does not have (or pruned)", async () => {
    const stormId = await storm(['{}:{job="checkout"}']);
    await store.pruneBefore(new Date(now.getTime() + HOUR));
    for (const id of ["no-such-storm", stormId]) {
      const response = await app.inject({ url: `/reports/storms/${id}?token=${stormToken(id)}` });
      expect(response.statusCode, id).toBe(404);
      expect(response.json().message).toContain("no storm");
    }
  });

  it("shows hostile alert data as text", async () => {
    const hostile = '"><script>alert(1)</script>';
    await diagnosed('{}:{job="x"}', hostile, { id: "x", title: `<img src=x onerror=alert(2)>`, summary: "<b>bold</b>" });
    const stormId = await storm(['{}:{job="x"}']);
    const body = (await app.inject({ url: `/reports/storms/${stormId}?token=${stormToken(stormId)}` })).body;
    // The page's own script is the only one.
    expect(body.match(/<script>/g)).toHaveLength(1);
    expect(body).not.toContain("<img");
    expect(body).not.toContain("<b>bold");
    expect(body).toContain("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(body).toContain("&lt;img src=x onerror=alert(2)&gt;");
  });
});
