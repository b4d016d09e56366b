// A stand-in for PagerDuty's REST API v2 (incident lookup by key, incident notes, the account's abilities) that checks and rate-limits what
// PagerDuty does (protocols.md 3.3).
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { PagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { type ScriptedFailure, type StandInReply, startHttpStandIn } from "./http-standin.ts";
import { fixedWindow, type LimitSetting, masked, RateLimitLedger, type RateLimitRecord, wholeSeconds } from "./standin-rate-limits.ts";

export const PAGERDUTY_STANDIN_API_TOKEN = "y_NbAkKc66ryYTWUXYEu";
export const PAGERDUTY_STANDIN_FROM_EMAIL = "alert-enricher@example.com";
/** "A maximum of 2000 notes can be added to an incident." */
export const PAGERDUTY_MAX_NOTES = 2000;
/**
 * "Each Account API Key is allowed 960 requests per minute"; every evaluated answer carries `ratelimit-limit`,
 * `ratelimit-remaining` and `ratelimit-reset` ("the number of seconds until the limit is reset"), and a 429 has the body
 * `{"error":{"message":"Rate Limit Exceeded","code":2020}}` (PagerDuty developer-docs, REST-API/04-Rate-Limits.md).
 * Modelled as a fixed one-minute window per token that starts with its first request.
 */
export const PAGERDUTY_REST_RATE_LIMIT = { perMinute: 960 };
const RATE_LIMITED_BODY = { error: { message: "Rate Limit Exceeded", code: 2020 } };
const ACCEPT = "application/vnd.pagerduty+json;version=2";
const MONTH_MS = 30 * 24 * 60 * 60 * 1000;

export type IncidentStatus = "triggered" | "acknowledged" | "resolved";

export interface StandInNote {
  content: string;
  /** The From header it was added with. */
  from: string;
}

export interface StandInIncident {
  id: string;
  incident_key: string;
  status: IncidentStatus;
  created_at: string;
  notes: StandInNote[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
}

export interface PagerDutyRestStandIn {
  /** The base URL to configure the sink with (PAGERDUTY_API_URL). */
  apiUrl: string;
  incidents: StandInIncident[];
  /** Every request that reached the handler, answered or not (scripted failures excluded). */
  requests: RecordedRequest[];
  addIncident(incident: { incident_key: string; id?: string; status?: IncidentStatus; createdAt?: Date }): StandInIncident;
  /** Every note, incident by incident. */
  notes(): StandInNote[];
  /** The next `count` note creations that pass the checks get this answer instead, e.g. 404 for an incident deleted meanwhile. */
  failNotesNext(count: number, failure: { status: number; body: unknown; headers?: Record<string, string> }): void;
  /** The next `count` requests get a 429 with PagerDuty's body; `resetSeconds` sends `ratelimit-reset`, else no header at all. */
  rateLimitNext(count: number, options?: { resetSeconds?: number }): void;
  /** Scripted failures at the HTTP level (status, Retry-After, hang); these run before rateLimitNext's. */
  failNext(count: number, failure: ScriptedFailure): void;
  /** The 429s the per-token limit sent (rateLimitNext's are not counted), and the requests that came before `ratelimit-reset`. */
  rateLimits: RateLimitRecord;
  close(): Promise<void>;
}

export interface PagerDutyRestStandInOptions {
  apiToken?: string;
  /**
   * The Events API stand-in's accepted events: triggers open an incident per dedup_key and resolves close it, the way
   * PagerDuty turns events into incidents. They are read when the REST API is next asked, so the incident appears later.
   */
  events?: PagerDutyEvent[];
  /** The limit per API token, on by default. A test that needs more may raise it, saying why. */
  rateLimit?: LimitSetting<{ perMinute: number }>;
}

function json(status: number, body: unknown, headers?: Record<string, string>): StandInReply {
  return { status, body: JSON.stringify(body), contentType: "application/json", headers };
}

function error(status: number, message: string, code: number, errors?: string[]): StandInReply {
  return json(status, { error: { message, code, ...(errors !== undefined ? { errors } : {}) } });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export async function startPagerDutyRestStandIn(options: PagerDutyRestStandInOptions = {}): Promise<PagerDutyRestStandIn> {
  const token = options.apiToken ?? PAGERDUTY_STANDIN_API_TOKEN;
  const incidents: StandInIncident[] = [];
  const requests: RecordedRequest[] = [];
  const rateLimits: Array<{ resetSeconds?: number }> = [];
  const noteFailures: Array<{ status: number; body: unknown; headers?: Record<string, string> }> = [];
  let eventsSeen = 0;
  const limit = options.rateLimit ?? PAGERDUTY_REST_RATE_LIMIT;
  const limiter = limit === "off" ? undefined : fixedWindow(limit.perMinute, 60_000);
  const ledger = new RateLimitLedger();

  const addIncident: PagerDutyRestStandIn["addIncident"] = (incident) => {
    const added: StandInIncident = {
      id: incident.id ?? `Q${randomUUID().replace(/-/g, "").slice(0, 13).toUpperCase()}`,
      incident_key: incident.incident_key,
      status: incident.status ?? "triggered",
      created_at: (incident.createdAt ?? new Date()).toISOString(),
      notes: [],
    };
    incidents.push(added);
    return added;
  };

  const openIncident = (key: string) => incidents.find((i) => i.incident_key === key && i.status !== "resolved");

  const applyEvents = () => {
    const events = options.events ?? [];
    for (; eventsSeen < events.length; eventsSeen += 1) {
      const event = events[eventsSeen];
      if (event === undefined) continue;
      const open = openIncident(event.dedup_key);
      if (event.event_action === "trigger" && open === undefined) addIncident({ incident_key: event.dedup_key });
      if (event.event_action === "resolve" && open !== undefined) open.status = "resolved";
    }
  };

  const listIncidents = (query: URLSearchParams): StandInReply => {
    const key = query.get("incident_key");
    const statuses = query.getAll("statuses[]");
    // Without date_range=all, PagerDuty only looks at incidents created in the last month.
    const since = query.get("date_range") === "all" ? 0 : Date.now() - MONTH_MS;
    const limit = Math.min(100, Number(query.get("limit") ?? "25") || 25);
    const matching = incidents.filter(
      (i) =>
        (key === null || i.incident_key === key) &&
        (statuses.length === 0 || statuses.includes(i.status)) &&
        Date.parse(i.created_at) >= since,
    );
    const page = matching.slice(0, limit).map(({ notes: _notes, ...incident }) => ({ type: "incident", ...incident }));
    return json(200, { incidents: page, limit, offset: 0, more: matching.length > limit, total: null });
  };

  const addNote = (request: IncomingMessage, id: string, raw: Buffer): StandInReply => {
    const from = header(request, "from");
    // The wording PagerDuty answers with (seen in client issues: pdpyras #78, quintoandar/airflow-pagerduty-plugin #1).
    if (from === undefined || from === "") {
      return error(400, `You must specify a user's email address in the "From" header to perform this action`, 2016);
    }
    if (!/^[^\s@]+@[^\s@]+$/.test(from)) return error(400, `Malformed "From" header`, 1028);
    if (!(header(request, "content-type") ?? "").startsWith("application/json")) {
      return error(400, "Invalid Input Provided", 2001, ["Content-Type must be application/json"]);
    }
    const failure = noteFailures.shift();
    if (failure !== undefined) return json(failure.status, failure.body, failure.headers);
    const incident = incidents.find((i) => i.id === id);
    if (incident === undefined) return error(404, "Not Found", 2100);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      return error(400, "Invalid Input Provided", 2001, ["Request body is not valid JSON"]);
    }
    const note = isObject(body) ? body.note : undefined;
    if (!isObject(note) || typeof note.content !== "string" || note.content.trim() === "") {
      return error(400, "Invalid Input Provided", 2001, ["Note content can't be blank"]);
    }
    if (incident.notes.length >= PAGERDUTY_MAX_NOTES) {
      return error(400, "Invalid Input Provided", 2001, [`A maximum of ${PAGERDUTY_MAX_NOTES} notes can be added to an incident`]);
    }
    incident.notes.push({ content: note.content, from });
    const createdAt = new Date().toISOString();
    return json(201, {
      note: {
        id: `N${randomUUID().replace(/-/g, "").slice(0, 13).toUpperCase()}`,
        user: { id: "PBOT001", type: "user_reference", summary: from },
        channel: { summary: "The PagerDuty REST API" },
        content: note.content,
        created_at: createdAt,
        updated_at: createdAt,
      },
    });
  };

  const route = (request: IncomingMessage, url: URL, raw: Buffer): StandInReply => {
    // PagerDuty marks the versioned Accept header as required; what it does without one is not documented, so be strict.
    if ((header(request, "accept") ?? "").replace(/\s/g, "") !== ACCEPT) {
      return error(400, "Invalid Input Provided", 2001, [`Accept must be ${ACCEPT}`]);
    }
    if (request.method === "GET" && url.pathname === "/incidents") return listIncidents(url.searchParams);
    // "List all of your account's abilities, by name" (REST API reference, Abilities): reads nothing but the account.
    if (request.method === "GET" && url.pathname === "/abilities") {
      return json(200, { abilities: ["teams", "read_only_users", "service_support_hours", "urgencies"] });
    }
    const notePath = /^\/incidents\/([^/]+)\/notes$/.exec(url.pathname);
    if (request.method === "POST" && notePath?.[1] !== undefined) return addNote(request, decodeURIComponent(notePath[1]), raw);
    return error(404, "Not Found", 2100);
  };

  const server = await startHttpStandIn(
    (request, raw) => {
      const url = new URL(request.url ?? "/", "http://standin");
      requests.push({ method: request.method ?? "", path: url.pathname, query: url.searchParams, headers: request.headers });
      applyEvents();
      const rateLimit = rateLimits.shift();
      if (rateLimit !== undefined) {
        const headers = rateLimit.resetSeconds !== undefined ? { "ratelimit-reset": String(rateLimit.resetSeconds) } : undefined;
        return json(429, RATE_LIMITED_BODY, headers);
      }
      if (header(request, "authorization") !== `Token token=${token}`) return error(401, "Authentication failed", 2006);
      if (limiter === undefined) return route(request, url, raw);
      const bucket = `API token ${masked(token)}`;
      const now = Date.now();
      const decision = ledger.check(bucket, limiter, (ms) => wholeSeconds(ms) * 1000, {
        now,
        request: `${request.method ?? ""} ${request.url ?? ""} ${raw.toString("utf8")}`,
      });
      const window = limiter.state(bucket, now);
      const headers = {
        "ratelimit-limit": String(window.limit),
        "ratelimit-remaining": String(window.remaining),
        "ratelimit-reset": String(wholeSeconds(window.resetMs)),
      };
      const reply = decision.allowed ? route(request, url, raw) : json(429, RATE_LIMITED_BODY);
      // A scripted answer (failNotesNext) keeps the headers it was given.
      return { ...reply, headers: { ...headers, ...reply.headers } };
    },
    (status) => ({
      body: JSON.stringify(
        status === 429
          ? RATE_LIMITED_BODY
          : status >= 500
            ? { error: { message: "Internal Server Error", code: 2000 } }
            : { error: { message: "Invalid Input Provided", code: 2001, errors: ["scripted failure"] } },
      ),
      contentType: "application/json",
    }),
  );

  return {
    apiUrl: server.url,
    incidents,
    requests,
    addIncident,
    notes: () => incidents.flatMap((i) => i.notes),
    failNotesNext(count, failure) {
      for (let i = 0; i < count; i += 1) noteFailures.push(failure);
    },
    rateLimitNext(count, rateLimit = {}) {
      for (let i = 0; i < count; i += 1) rateLimits.push(rateLimit);
    },
    failNext: server.failNext,
    rateLimits: ledger,
    close: server.close,
  };
}
