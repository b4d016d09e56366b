// Tests for the report pages over HTTP: who can open them (signed, unexpired links), what they answer, and the list.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { buildApp } from "../../src/server/app.ts";
import { LIST_TOKEN_ID, reportLinkFor, signReportToken, verifyReportToken } from "../../src/server/report-links.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { alertPayload } from "../store/store-conformance.ts";
import { FIXTURE_CAUSE, makeAlert, makeAlertDiagnosis, makeCause, makeDiagnosis } from "../support/diagnosis-fixtures.ts";

const SECRET = "0123456789abcdef0123456789abcdef-report-secret";
const HOUR = 3_600_000;

describe("report tokens", () => {
  it("a token opens only the report it was signed for, until it expires", () => {
    const now = new Date("2026-08-20T10:00:00Z");
    const token = signReportToken("n-1", new Date(now.getTime() + HOUR), SECRET);
    expect(verifyReportToken(token, "n-1", SECRET, now)).toBe("valid");
    expect(verifyReportToken(token, "n-2", SECRET, now)).toBe("invalid");
    expect(verifyReportToken(token, "n-1", `${SECRET}x`, now)).toBe("invalid");
    expect(verifyReportToken(token, "n-1", SECRET, new Date(now.getTime() + HOUR))).toBe("expired");
    expect(verifyReportToken(undefined, "n-1", SECRET, now)).toBe("invalid");
    expect(verifyReportToken("not a token!", "n-1", SECRET, now)).toBe("invalid");
  });

  it("a link carries the report path and a token, and there is none without a secret or a public URL", () => {
    const link = reportLinkFor({ publicUrl: "https://enricher.example.com/", secret: SECRET, ttlHours: 168 })("n-1");
    expect(link).toMatch(/^https:\/\/enricher\.example\.com\/reports\/n-1\?token=[A-Za-z0-9_-]+$/);
    expect(reportLinkFor({ publicUrl: "https://enricher.example.com", ttlHours: 168 })("n-1")).toBeUndefined();
    expect(reportLinkFor({ secret: SECRET, ttlHours: 168 })("n-1")).toBeUndefined();
  });
});

describe("GET /reports", () => {
  let store: SqliteStore;
  let app: FastifyInstance;
  let now: Date;
  let counter = 0;

  /** Stores a notification received `hoursAgo` and completes it with `diagnosis`. */
  async function done(hoursAgo: number, diagnosis: (id: string) => Diagnosis): Promise<string> {
    const receivedAt = new Date(now.getTime() - hoursAgo * HOUR);
    const { id } = await store.insertNotification({
      dedupKey: `k${++counter}`,
      payload: alertPayload(`g${counter}`),
      receivedAt,
      dedupWindowMs: 0,
    });
    await store.claimNotification("w", 60_000, receivedAt);
    await store.completeNotification(id, diagnosis(id), []);
    return id;
  }

  function buildWith(reports: boolean): FastifyInstance {
    return buildApp({
      store,
      metrics: createMetrics(() => store.queueDepth()),
      auth: { kind: "bearer", token: "a-webhook-token-of-16+" },
      bodyLimitBytes: 1024 * 1024,
      dedupWindowMs: 0,
      ...(reports ? { reports: { store, secret: SECRET, now: () => now } } : {}),
    });
  }

  const token = (id: string, hours = 1) => signReportToken(id, new Date(now.getTime() + hours * HOUR), SECRET);

  beforeEach(async () => {
    now = new Date();
    store = openSqliteStore(":memory:");
    await store.migrate();
    app = buildWith(true);
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
    await store.close();
  });

  it("opens a report with a valid link: HTML that is not cached and may run only its own style and script", async () => {
    const id = await done(1, (n) => makeDiagnosis({ notificationId: n }));
    const response = await app.inject({ url: `/reports/${id}?token=${token(id)}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(response.headers["cache-control"]).toBe("private, no-store");
    expect(response.headers["content-security-policy"]).toMatch(/default-src 'none'.*script-src 'sha256-/);
    expect(response.body).toContain(FIXTURE_CAUSE);
    expect(response.body).not.toContain(token(id));
  });

  it("refuses a report without a token, with a tampered one, with another report's, or an expired one", async () => {
    const id = await done(1, (n) => makeDiagnosis({ notificationId: n }));
    const other = await done(1, (n) => makeDiagnosis({ notificationId: n }));
    const valid = token(id);
    const tampered = `${valid.slice(0, -2)}${valid.endsWith("AA") ? "BB" : "AA"}`;
    for (const url of [
      `/reports/${id}`,
      `/reports/${id}?token=${tampered}`,
      `/reports/${id}?token=${token(other)}`,
      `/reports/${id}?token=${token(id, -1)}`,
    ]) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(401);
      expect(response.body).not.toContain(FIXTURE_CAUSE);
    }
    expect((await app.inject({ url: `/reports/${id}?token=${token(id, -1)}` })).json().message).toContain("expired");
  });

  it("answers 404 for a validly signed id that has no diagnosis", async () => {
    const response = await app.inject({ url: `/reports/no-such-id?token=${token("no-such-id")}` });
    expect(response.statusCode).toBe(404);
  });

  it("answers 404 for every report when reports are not configured", async () => {
    const plain = buildWith(false);
    const id = await done(1, (n) => makeDiagnosis({ notificationId: n }));
    expect((await plain.inject({ url: `/reports/${id}?token=${token(id)}` })).statusCode).toBe(404);
    expect((await plain.inject({ url: `/reports?token=${token(LIST_TOKEN_ID)}` })).statusCode).toBe(404);
    await plain.close();
  });

  it("lists recent diagnoses only with a list token, each linking to its report", async () => {
    const id = await done(1, (n) => makeDiagnosis({ notificationId: n }));
    expect((await app.inject({ url: `/reports?token=${token(id)}` })).statusCode).toBe(401);
    const response = await app.inject({ url: `/reports?token=${token(LIST_TOKEN_ID)}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers["cache-control"]).toBe("private, no-store");
    const href = new RegExp(`href="reports/${id}\\?token=([A-Za-z0-9_-]+)"`).exec(response.body)?.[1];
    expect(href).toBeDefined();
    expect((await app.inject({ url: `/reports/${id}?token=${href}` })).statusCode).toBe(200);
  });

  it("says how often an alert fired in 24 h and whether the cause was the same each time", async () => {
    for (const hoursAgo of [1, 3, 5, 7]) await done(hoursAgo, (n) => makeDiagnosis({ notificationId: n }));
    const body = (await app.inject({ url: `/reports?token=${token(LIST_TOKEN_ID)}` })).body;
    expect(body).toContain("fired 4 times in 24 h, same cause each time");

    const other = makeAlertDiagnosis({ causes: [makeCause({ id: "network", title: "Network errors reaching the API server" })] });
    await done(0.5, (n) => makeDiagnosis({ notificationId: n, alerts: [other] }));
    const after = (await app.inject({ url: `/reports?token=${token(LIST_TOKEN_ID)}` })).body;
    expect(after).toContain("fired 5 times in 24 h, 2 different causes");
  });

  it("filters the list by alert, status and cause", async () => {
    const withAlert = (name: string) => makeAlertDiagnosis({ alert: makeAlert({ labels: { alertname: name, severity: "warning" } }) });
    await done(1, (n) => makeDiagnosis({ notificationId: n, alerts: [withAlert("KubeAPIDown")] }));
    await done(2, (n) => makeDiagnosis({ notificationId: n, alerts: [withAlert("KubeClientErrors")], status: "resolved" }));
    await done(3, (n) =>
      makeDiagnosis({
        notificationId: n,
        alerts: [makeAlertDiagnosis({ causes: [makeCause({ id: "network", title: "Network errors" })] })],
      }),
    );
    const rows = async (query: string) => {
      const body = (await app.inject({ url: `/reports?token=${token(LIST_TOKEN_ID)}&${query}` })).body;
      return [...body.matchAll(/<tr><th scope="row"><a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1]);
    };
    expect(await rows("")).toHaveLength(3);
    expect(await rows("alert=KubeAPIDown")).toEqual(["KubeAPIDown"]);
    expect(await rows("status=resolved")).toEqual(["KubeClientErrors"]);
    expect(await rows("cause=network")).toEqual(["KubeClientErrors"]);
    expect(await rows("cause=nothing-like-this")).toEqual([]);
  });

  it("shows a hostile filter value as text in the list page", async () => {
    const body = (
      await app.inject({ url: `/reports?token=${token(LIST_TOKEN_ID)}&alert=${encodeURIComponent('"><script>alert(1)</script>')}` })
    ).body;
    expect(body.match(/<script>/g)).toHaveLength(1);
    expect(body).toContain("&quot;&gt;&lt;script&gt;");
  });
});

describe("request logs", () => {
  it("never carry a report link's token, and keep healthy probes out of the info log", async () => {
    const store = openSqliteStore(":memory:");
    await store.migrate();
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const app = buildApp({
      store,
      metrics: createMetrics(() => store.queueDepth()),
      auth: { kind: "bearer", token: "a-webhook-token-of-16+" },
      bodyLimitBytes: 1024 * 1024,
      dedupWindowMs: 0,
      logger,
      reports: { store, secret: SECRET },
    });
    const { id } = await store.insertNotification({ dedupKey: "k", payload: alertPayload("g"), receivedAt: new Date(), dedupWindowMs: 0 });
    await store.claimNotification("w", 60_000);
    await store.completeNotification(id, makeDiagnosis({ notificationId: id }), []);
    const token = signReportToken(id, new Date(Date.now() + HOUR), SECRET);
    const listToken = signReportToken(LIST_TOKEN_ID, new Date(Date.now() + HOUR), SECRET);

    expect((await app.inject({ url: `/reports/${id}?token=${token}` })).statusCode).toBe(200);
    expect((await app.inject({ url: `/reports?token=${listToken}&alert=x` })).statusCode).toBe(200);
    expect((await app.inject({ url: `/reports/${id}?token=${token}x` })).statusCode).toBe(401);
    for (const probe of ["/healthz", "/readyz", "/metrics"]) expect((await app.inject({ url: probe })).statusCode).toBe(200);
    await app.close();
    await store.close();

    const log = lines.join("");
    expect(log).toContain(`/reports/${id}`);
    expect(log).not.toContain(token);
    expect(log).not.toContain(listToken);
    expect(log).not.toContain("token=");
    expect(log).not.toMatch(/healthz|readyz|\/metrics/);
    const requests = lines
      .map((l) => JSON.parse(l) as { msg: string; path?: string; statusCode?: number })
      .filter((l) => l.msg === "request");
    expect(requests.map((r) => [r.path, r.statusCode])).toEqual([
      [`/reports/${id}`, 200],
      ["/reports", 200],
      [`/reports/${id}`, 401],
    ]);
  });
});
