// Adds the diagnosis as a note on the PagerDuty incident of an alert group (REST API v2); a new note only when it changed.
import { createHash } from "node:crypto";
import type { Diagnosis } from "../model/diagnosis.ts";
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import { topCause } from "../render/alert-facts.ts";
import { verdictText } from "../diagnosis/storm.ts";
import { renderText } from "../render/text.ts";
import { type HttpExchange, originOf, sendHttp } from "./http-delivery.ts";
import { type Call, judge, type ServiceApi } from "./outcome-table.ts";
import type { DeliveryContext, Sink, SinkOutcome } from "./sink.ts";

export const PAGERDUTY_API_URL = "https://api.pagerduty.com";
/**
 * PagerDuty documents no maximum note length (protocols.md 3.3, UNCONFIRMED), so notes are cut well below any limit
 * a note would plausibly have; the cut says so and points at the full report.
 */
export const PAGERDUTY_NOTE_MAX_CHARS = 25_000;

export interface PagerDutyNotesSinkOptions {
  /** A REST API key: a secret, it never appears in an outcome. */
  apiToken: string;
  /** The PagerDuty user the notes are written as; PagerDuty requires it in the From header to add a note. */
  fromEmail: string;
  apiUrl?: string;
  /** The incident_key of the group's incident: ours in `both` mode, Alertmanager's in `notes` mode (pagerduty-sinks.ts). */
  incidentKey: (diagnosis: Diagnosis) => string;
  /**
   * Set in `both` mode with PAGERDUTY_STORM_INCIDENT=storm: the incident_key of a storm's incident (the events sink's
   * storm dedup key). A group in a storm, or that noted one before and still fires, notes the storm's incident instead.
   */
  stormIncidentKey?: (stormId: string) => string;
  timeoutMs?: number;
  /** How long after the diagnosis an incident may still appear; 30 min unless set. */
  incidentWaitMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * PagerDuty opens an incident some seconds after the event that causes it, and in `both` mode nothing orders this
 * sink after the events sink (the delivery worker orders deliveries per group and sink, not across sinks). So "no
 * incident yet" is a retry, a little later, until the incident wait below runs out.
 */
const INCIDENT_NOT_YET_RETRY_MS = 15_000;
/**
 * A group that is not routed to PagerDuty never gets an incident (in `notes` mode every group reaches this sink), so
 * the wait is bounded by the diagnosis' age, not only by the worker's attempts, which can stretch over hours. Half an
 * hour leaves room for the events sink's own retries through a PagerDuty outage.
 */
const DEFAULT_INCIDENT_WAIT_MS = 30 * 60_000;
const ACCEPT = "application/vnd.pagerduty+json;version=2";
const OPEN_STATUSES = ["triggered", "acknowledged"];
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * What this sink remembers per alert group: the incident it noted and the digest of the diagnosis it noted there, and
 * the storm whose incident that was, when it was one.
 */
interface NotedState {
  incidentId: string;
  digest: string;
  stormId?: string;
}

function notedState(state: unknown): NotedState | undefined {
  if (typeof state !== "object" || state === null) return undefined;
  const record = state as Record<string, unknown>;
  if (typeof record.incidentId !== "string" || typeof record.digest !== "string") return undefined;
  return {
    incidentId: record.incidentId,
    digest: record.digest,
    ...(typeof record.stormId === "string" ? { stormId: record.stormId } : {}),
  };
}

/**
 * What a responder acts on: which alerts, firing or not, and per alert the top cause and what to do. Evidence counts,
 * confidence and the report link change on every run of a playbook; a note for each of those would bury the timeline.
 */
export function diagnosisDigest(d: Diagnosis): string {
  const alerts = d.alerts
    .map((a) => {
      const cause = a.playbook !== null ? topCause(a) : undefined;
      return JSON.stringify([
        a.alert.fingerprint,
        a.alert.status,
        a.playbook,
        cause?.id ?? null,
        cause?.summary ?? a.alert.annotations.summary ?? null,
        cause?.remediation ?? [],
      ]);
    })
    .sort();
  return createHash("sha256").update(JSON.stringify(alerts)).digest("hex");
}

/** Cuts `text` to the cap, keeping the end marker inside it and never splitting a surrogate pair. */
export function capNote(text: string, reportUrl?: string): string {
  if (text.length <= PAGERDUTY_NOTE_MAX_CHARS) return text;
  const link = reportUrl !== undefined && reportUrl.length <= 2000 ? `; the full diagnosis: ${reportUrl}` : "";
  const marker = `\n\n[Note cut at ${PAGERDUTY_NOTE_MAX_CHARS.toLocaleString("en-US")} characters${link}]`;
  let kept = text.slice(0, PAGERDUTY_NOTE_MAX_CHARS - marker.length);
  if (/[\ud800-\udbff]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}${marker}`;
}

function noteContent(d: Diagnosis, replacesEarlierNote: boolean, onStormIncident: boolean): string {
  const body = renderText(d);
  const text = replacesEarlierNote ? `Updated diagnosis:\n\n${body}` : body;
  return capNote(
    onStormIncident ? `${stormNoteHeading(d, replacesEarlierNote)}\n\n${text}` : text,
    d.alerts.find((a) => a.links.report !== undefined)?.links.report,
  );
}

/** On a storm's incident, every note is one group's: which group, and its verdict in a line. */
function stormNoteHeading(d: Diagnosis, replacesEarlierNote: boolean): string {
  const verdict = groupVerdictOf(d);
  return `${replacesEarlierNote ? "Update from" : "Joined the storm:"} alert group ${verdict.name}: ${verdictText(verdict)}`;
}

interface PagerDutyError {
  message?: string;
  code?: number;
  errors?: string[];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseError(text: string): PagerDutyError {
  const value = parseJson(text);
  const error = typeof value === "object" && value !== null ? (value as Record<string, unknown>).error : undefined;
  if (typeof error !== "object" || error === null) return { message: text };
  const record = error as Record<string, unknown>;
  return {
    message: typeof record.message === "string" ? record.message : undefined,
    code: typeof record.code === "number" ? record.code : undefined,
    errors: Array.isArray(record.errors) ? record.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e))) : undefined,
  };
}

/**
 * Any 2xx is success (the errors doc lists 201 for creates, the spec 200 for a note). A refusal carries
 * `{"error":{"message","code","errors"}}` with a numeric code, no error name, so statuses name it (protocols.md 3.3).
 */
export const PAGERDUTY_REST_API: ServiceApi = {
  read({ status, body }) {
    if (status >= 200 && status < 300) return { accepted: true };
    const answer = parseError(body);
    const parts: string[] = [];
    if (answer.message !== undefined && answer.message !== "") parts.push(answer.message);
    if (answer.code !== undefined) parts.push(`(code ${answer.code})`);
    if (answer.errors !== undefined && answer.errors.length > 0) parts.push(`- ${answer.errors.join("; ")}`);
    return { accepted: false, said: parts.join(" ") };
  },
  /** A 429 may come without any header (protocols.md 3.3); the limit is per minute, so wait one. */
  rateLimitWaitMs: 60_000,
  rateLimitResetHeaders: ["ratelimit-reset"],
  statusNames: {
    401: { code: "unauthorized", hint: "check PAGERDUTY_API_TOKEN" },
    403: { code: "forbidden", hint: "the API token may not write incidents" },
    404: { code: "not_found" },
  },
};

interface IncidentSummary {
  id: string;
  createdAt: string;
}

/** The open incidents of a list answer, newest first; undefined when the answer is not an incident list at all. */
function openIncidents(text: string): IncidentSummary[] | undefined {
  const value = parseJson(text);
  const incidents = typeof value === "object" && value !== null ? (value as Record<string, unknown>).incidents : undefined;
  if (!Array.isArray(incidents)) return undefined;
  const open: IncidentSummary[] = [];
  for (const incident of incidents) {
    if (typeof incident !== "object" || incident === null) continue;
    const record = incident as Record<string, unknown>;
    if (typeof record.id !== "string" || typeof record.status !== "string" || !OPEN_STATUSES.includes(record.status)) continue;
    open.push({ id: record.id, createdAt: typeof record.created_at === "string" ? record.created_at : "" });
  }
  return open.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export class PagerDutyNotesSink implements Sink {
  readonly name = "pagerduty-notes";
  readonly #apiToken: string;
  readonly #fromEmail: string;
  readonly #apiUrl: string;
  readonly #incidentKey: (diagnosis: Diagnosis) => string;
  readonly #stormIncidentKey: ((stormId: string) => string) | undefined;
  readonly #timeoutMs: number;
  readonly #incidentWaitMs: number;
  readonly #origin: string;

  constructor(options: PagerDutyNotesSinkOptions) {
    this.#apiToken = options.apiToken;
    this.#fromEmail = options.fromEmail;
    this.#apiUrl = (options.apiUrl ?? PAGERDUTY_API_URL).replace(/\/+$/, "");
    this.#incidentKey = options.incidentKey;
    this.#stormIncidentKey = options.stormIncidentKey;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#incidentWaitMs = options.incidentWaitMs ?? DEFAULT_INCIDENT_WAIT_MS;
    this.#origin = originOf(this.#apiUrl);
  }

  async deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
    if (diagnosis.status === "resolved") {
      // The resolve event (ours or Alertmanager's) already puts the resolve on the incident's timeline, and the
      // incident is likely closed by the time this runs; a note would add nothing a responder needs.
      // A storm it noted is behind it now: if it fires again, it notes whatever incident it is paged in then.
      const noted = notedState(context?.state);
      if (noted?.stormId !== undefined)
        await context?.saveState({ incidentId: noted.incidentId, digest: noted.digest } satisfies NotedState);
      return { status: "delivered", detail: "no note: the group resolved" };
    }
    const noted = notedState(context?.state);
    // Like the events sink, a group that paged a storm stays with the storm's incident while it fires.
    const stormId = this.#stormIncidentKey !== undefined && context !== undefined ? (diagnosis.storm?.id ?? noted?.stormId) : undefined;
    const incidentKey =
      stormId !== undefined && this.#stormIncidentKey !== undefined ? this.#stormIncidentKey(stormId) : this.#incidentKey(diagnosis);
    const found = await this.#findOpenIncident(incidentKey);
    if (found === undefined) return this.#noIncidentYet(incidentKey, diagnosis);
    if ("status" in found) return found;
    const digest = diagnosisDigest(diagnosis);
    if (noted?.incidentId === found.id && noted.digest === digest) {
      return { status: "delivered", detail: `incident ${found.id} already has this diagnosis` };
    }
    const failure = await this.#addNote(found.id, noteContent(diagnosis, noted?.incidentId === found.id, stormId !== undefined));
    if (failure !== undefined) return failure;
    await context?.saveState({ incidentId: found.id, digest, ...(stormId !== undefined ? { stormId } : {}) } satisfies NotedState);
    return { status: "delivered", detail: `note on incident ${found.id}` };
  }

  /** The newest open incident for the key; undefined when there is none (yet). */
  async #findOpenIncident(incidentKey: string): Promise<IncidentSummary | SinkOutcome | undefined> {
    const query = new URLSearchParams({ incident_key: incidentKey, date_range: "all", limit: "25" });
    for (const status of OPEN_STATUSES) query.append("statuses[]", status);
    const what = `looking up the incident with incident_key ${incidentKey}`;
    const judged = judge(await this.#request("GET", `/incidents?${query.toString()}`), PAGERDUTY_REST_API, this.#call(what));
    if (!judged.delivered) return judged.outcome;
    const incidents = openIncidents(judged.response.body);
    if (incidents === undefined) {
      return {
        status: "failed",
        code: "invalid_response",
        error: `PagerDuty REST API at ${this.#origin} (${what}) answered HTTP ${judged.response.status} without an incident list`,
      };
    }
    return incidents[0];
  }

  #noIncidentYet(incidentKey: string, diagnosis: Diagnosis): SinkOutcome {
    const createdAt = Date.parse(diagnosis.createdAt);
    if (Number.isFinite(createdAt) && Date.now() - createdAt > this.#incidentWaitMs) {
      const minutes = Math.round(this.#incidentWaitMs / 60_000);
      return {
        status: "failed",
        code: "incident_not_found",
        error: `PagerDuty has no open incident with incident_key ${incidentKey} ${minutes} min after the diagnosis: is this alert group routed to PagerDuty?`,
      };
    }
    return {
      status: "retry",
      code: "incident_not_found",
      error: `PagerDuty has no open incident with incident_key ${incidentKey} yet`,
      retryAfterMs: INCIDENT_NOT_YET_RETRY_MS,
    };
  }

  /** Undefined when PagerDuty added the note; the outcome to report otherwise. */
  async #addNote(incidentId: string, content: string): Promise<SinkOutcome | undefined> {
    const exchange = await this.#request("POST", `/incidents/${encodeURIComponent(incidentId)}/notes`, { note: { content } });
    // A 404 here means the incident is gone (resolved and removed, or merged) since it was looked up.
    const call = this.#call(`adding a note to incident ${incidentId}`, { 404: { code: "incident_not_found" } });
    const judged = judge(exchange, PAGERDUTY_REST_API, call);
    return judged.delivered ? undefined : judged.outcome;
  }

  #call(what: string, statusNames?: Call["statusNames"]): Call {
    return { what: `PagerDuty REST API at ${this.#origin} (${what})`, secrets: [this.#apiToken], statusNames };
  }

  #request(method: "GET" | "POST", path: string, body?: unknown): Promise<HttpExchange> {
    const headers: Record<string, string> = { Authorization: `Token token=${this.#apiToken}`, Accept: ACCEPT };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers.From = this.#fromEmail;
    }
    return sendHttp({
      method,
      url: `${this.#apiUrl}${path}`,
      headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
  }
}
