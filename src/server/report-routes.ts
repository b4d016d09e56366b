// The report pages: GET /reports/:id, GET /reports/storms/:id and GET /reports, each opened only with a signed, unexpired
// token.
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ReportListFilters } from "../render/report-list.ts";
import type { Store } from "../store/store.ts";
import { LIST_TOKEN_ID, reportTokenExpiry, signReportToken, stormTokenId, verifyReportToken } from "./report-links.ts";

export interface ReportRoutesOptions {
  store: Pick<Store, "getDiagnosis" | "listDiagnoses" | "readStorm">;
  /** REPORT_SIGNING_SECRET, at least 32 characters. */
  secret: string;
  now?: () => Date;
  /** How far back the list looks (default 7 days) and how many it lists at most (default 200). */
  listWindowMs?: number;
  listLimit?: number;
}

const DAY_MS = 24 * 3_600_000;

function pageHeaders(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header("Content-Type", "text/html; charset=utf-8")
    .header("Cache-Control", "private, no-store")
    .header("Content-Security-Policy", csp)
    .header("Referrer-Policy", "no-referrer")
    .header("X-Content-Type-Options", "nosniff");
}

function refuse(reply: FastifyReply, status: 401 | 404, message: string): FastifyReply {
  return reply
    .code(status)
    .header("Cache-Control", "no-store")
    .send({ error: status === 401 ? "unauthorized" : "not found", message });
}

function queryText(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim().slice(0, 200) : undefined;
}

export async function reportRoutes(app: FastifyInstance, options: ReportRoutesOptions): Promise<void> {
  // The page renderers are loaded only where reports are served (REPORT_SIGNING_SECRET set), before the server is ready.
  const [{ REPORT_CSP, renderReportPage }, { renderStormPage }, { matchesFilters, renderReportList }] = await Promise.all([
    import("../render/report-page.ts"),
    import("../render/storm-page.ts"),
    import("../render/report-list.ts"),
  ]);
  const now = () => options.now?.() ?? new Date();
  const check = (token: string | undefined, id: string) => verifyReportToken(token, id, options.secret, now());
  const tokenMessage = (result: "invalid" | "expired") =>
    result === "expired" ? "this report link has expired: open the newer one from the alert" : "this report needs a valid link (?token=…)";

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>("/reports/:id", async (request, reply) => {
    const result = check(queryText(request.query.token), request.params.id);
    if (result !== "valid") return refuse(reply, 401, tokenMessage(result));
    const diagnosis = await options.store.getDiagnosis(request.params.id);
    if (diagnosis === null) return refuse(reply, 404, "no diagnosis with this id (it may have been pruned)");
    return pageHeaders(reply, REPORT_CSP)
      .code(200)
      .send(renderReportPage(diagnosis, { generatedAt: now() }));
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>("/reports/storms/:id", async (request, reply) => {
    const token = queryText(request.query.token);
    const result = check(token, stormTokenId(request.params.id));
    if (result !== "valid" || token === undefined) return refuse(reply, 401, tokenMessage(result === "valid" ? "invalid" : result));
    const storm = await options.store.readStorm(request.params.id);
    if (storm === null) return refuse(reply, 404, "no storm with this id (it may have been pruned)");
    // Each group's report link lasts as long as the storm link that shows it, no longer.
    const expiresAt = reportTokenExpiry(token) ?? now();
    const reportHref = (notificationId: string) =>
      `../${encodeURIComponent(notificationId)}?token=${signReportToken(notificationId, expiresAt, options.secret)}`;
    return pageHeaders(reply, REPORT_CSP)
      .code(200)
      .send(renderStormPage(storm, { reportHref, generatedAt: now() }));
  });

  app.get<{ Querystring: Record<string, unknown> }>("/reports", async (request, reply) => {
    const token = queryText(request.query.token);
    const result = check(token, LIST_TOKEN_ID);
    if (result !== "valid" || token === undefined) return refuse(reply, 401, tokenMessage(result === "valid" ? "invalid" : result));
    const filters: ReportListFilters = {
      alert: queryText(request.query.alert),
      status: queryText(request.query.status),
      cause: queryText(request.query.cause),
    };
    const windowMs = options.listWindowMs ?? 7 * DAY_MS;
    // A day more than the window, so the oldest listed entries still count what fired in the 24 h before them.
    const listed = await options.store.listDiagnoses({
      since: new Date(now().getTime() - windowMs - DAY_MS),
      limit: (options.listLimit ?? 200) * 4,
    });
    const inWindow = listed.filter((l) => Date.parse(l.receivedAt) >= now().getTime() - windowMs);
    // Each report link lasts as long as the list link that shows it, no longer.
    const expiresAt = reportTokenExpiry(token) ?? now();
    const shown = inWindow
      .filter((l) => matchesFilters(l.diagnosis, filters))
      .slice(0, options.listLimit ?? 200)
      .map((l) => ({ ...l, href: `reports/${encodeURIComponent(l.id)}?token=${signReportToken(l.id, expiresAt, options.secret)}` }));
    return pageHeaders(reply, REPORT_CSP)
      .code(200)
      .send(renderReportList(shown, listed, filters, token));
  });
}
