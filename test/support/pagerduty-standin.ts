// A stand-in for PagerDuty's Events API v2 enqueue endpoint that validates and rate-limits events the way PagerDuty
// documents (protocols.md 3.1).
import { randomUUID } from "node:crypto";
import type { PagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { type ScriptedFailure, type StandInReply, startHttpStandIn } from "./http-standin.ts";
import { type LimitSetting, masked, RateLimitLedger, type RateLimitRecord, slidingWindow } from "./standin-rate-limits.ts";

/**
 * "The Events v2 API has a limit of approximately 120 calls/minute per integration key. The limit is calculated over
 * a 60 second window looking back from the current time" (PagerDuty developer-docs, events-API-v2/05-Rate-Limits.md).
 * PagerDuty sends no Retry-After; it advises "retrying 3 times with each request being 30 seconds apart", so a
 * request for the same key within 30 s of a 429 counts as ignoring it.
 */
export const PAGERDUTY_EVENTS_RATE_LIMIT: PagerDutyEventsRateLimit = { perMinute: 120, advisedWaitMs: 30_000 };

export interface PagerDutyEventsRateLimit {
  /** Events per routing key in any 60 s looking back. */
  perMinute: number;
  /** How long after a 429 a client should leave the key alone (PagerDuty's advice; no header says it). */
  advisedWaitMs: number;
}

export interface PagerDutyStandInOptions {
  /** The limit per routing key, on by default. A test that needs more may raise it, saying why. */
  rateLimit?: LimitSetting<PagerDutyEventsRateLimit>;
}

export interface PagerDutyStandIn {
  /** The enqueue URL to configure the sink with. */
  eventsUrl: string;
  /** Events PagerDuty would have accepted, in order. */
  events: PagerDutyEvent[];
  /** The `errors` list of each rejected request. */
  rejections: string[][];
  /** Requests that reached the handler, accepted or not (scripted failures excluded). */
  requests: number;
  /** The 429s the limit sent, and the requests that came back within PagerDuty's advised wait. */
  rateLimits: RateLimitRecord;
  failNext(count: number, failure: ScriptedFailure): void;
  close(): Promise<void>;
}

export const PAGERDUTY_MAX_BODY_BYTES = 512_000;
const ACTIONS = ["trigger", "acknowledge", "resolve"];
const SEVERITIES = ["critical", "error", "warning", "info"];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function json(status: number, body: Json): StandInReply {
  return { status, body: JSON.stringify(body), contentType: "application/json" };
}

function eventErrors(event: Json): string[] {
  const errors: string[] = [];
  if (typeof event.routing_key !== "string" || event.routing_key.length !== 32)
    errors.push("'routing_key' must be a 32 character Integration Key");
  const action = event.event_action;
  if (typeof action !== "string" || !ACTIONS.includes(action)) errors.push("'event_action' must be one of trigger, acknowledge, resolve");
  if (event.dedup_key !== undefined && (typeof event.dedup_key !== "string" || event.dedup_key.length > 255)) {
    errors.push("'dedup_key' must be a string of at most 255 characters");
  }
  if ((action === "resolve" || action === "acknowledge") && (typeof event.dedup_key !== "string" || event.dedup_key === "")) {
    errors.push(`'dedup_key' is required for ${action}`);
  }
  if (action === "trigger") {
    const payload = event.payload;
    if (!isObject(payload)) {
      errors.push("'payload' is required for trigger");
    } else {
      if (typeof payload.summary !== "string" || payload.summary === "") errors.push("'payload.summary' is required");
      else if (payload.summary.length > 1024) errors.push("'payload.summary' must be at most 1024 characters");
      if (typeof payload.source !== "string" || payload.source === "") errors.push("'payload.source' is required");
      if (typeof payload.severity !== "string" || !SEVERITIES.includes(payload.severity)) {
        errors.push("'payload.severity' must be one of critical, error, warning, info");
      }
      if (payload.timestamp !== undefined && (typeof payload.timestamp !== "string" || Number.isNaN(Date.parse(payload.timestamp)))) {
        errors.push("'payload.timestamp' must be an ISO 8601 timestamp");
      }
      if (payload.custom_details !== undefined && !isObject(payload.custom_details))
        errors.push("'payload.custom_details' must be an object");
    }
  }
  if (event.links !== undefined) {
    if (!Array.isArray(event.links)) errors.push("'links' must be an array");
    else {
      for (const [i, link] of event.links.entries()) {
        if (!isObject(link) || typeof link.href !== "string" || link.href === "") errors.push(`'links[${i}].href' is required`);
      }
    }
  }
  if (event.images !== undefined) {
    if (!Array.isArray(event.images)) errors.push("'images' must be an array");
    else {
      for (const [i, image] of event.images.entries()) {
        if (!isObject(image) || typeof image.src !== "string" || !image.src.startsWith("https://"))
          errors.push(`'images[${i}].src' must be an HTTPS URL`);
      }
    }
  }
  return errors;
}

/** PagerDuty documents only "429 - Request Limit Exceeded"; the body takes the shape of its other errors. */
const RATE_LIMITED_BODY = { status: "throttle event", message: "Request Limit Exceeded" };

export async function startPagerDutyStandIn(options: PagerDutyStandInOptions = {}): Promise<PagerDutyStandIn> {
  const events: PagerDutyEvent[] = [];
  const rejections: string[][] = [];
  let requests = 0;
  const setting = options.rateLimit ?? PAGERDUTY_EVENTS_RATE_LIMIT;
  const limit = setting === "off" ? undefined : { window: slidingWindow(setting.perMinute, 60_000), advisedWaitMs: setting.advisedWaitMs };
  const ledger = new RateLimitLedger();
  const invalid = (errors: string[]): StandInReply => {
    rejections.push(errors);
    return json(400, { status: "invalid event", message: "Event object is invalid", errors });
  };

  const server = await startHttpStandIn(
    (request, raw) => {
      requests += 1;
      if (request.method !== "POST" || new URL(request.url ?? "/", "http://standin").pathname !== "/v2/enqueue") {
        return json(404, { status: "not found", message: "Not Found" });
      }
      if (raw.length > PAGERDUTY_MAX_BODY_BYTES) return invalid([`Event is ${raw.length} bytes; the limit is 512 KB`]);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        rejections.push(["JSON parse error"]);
        return json(400, { status: "Unrecognized object", message: "Event object format is unrecognized", errors: ["JSON parse error"] });
      }
      if (!isObject(body)) return invalid(["Event must be a JSON object"]);
      if (limit !== undefined && typeof body.routing_key === "string") {
        const decision = ledger.check(`routing key ${masked(body.routing_key)}`, limit.window, () => limit.advisedWaitMs, {
          request: raw.toString("utf8"),
        });
        if (!decision.allowed) return json(429, RATE_LIMITED_BODY);
      }
      const errors = eventErrors(body);
      if (errors.length > 0) return invalid(errors);
      const dedupKey = typeof body.dedup_key === "string" && body.dedup_key !== "" ? body.dedup_key : randomUUID().replace(/-/g, "");
      events.push(body as unknown as PagerDutyEvent);
      return json(202, { status: "success", message: "Event processed", dedup_key: dedupKey });
    },
    (status) => ({
      body: JSON.stringify(
        status === 429
          ? { status: "throttle event", message: "Requests for this service are arriving too quickly. Please retry later." }
          : status >= 500
            ? { status: "error", message: "Internal Server Error" }
            : { status: "invalid event", message: "Event object is invalid", errors: ["scripted failure"] },
      ),
      contentType: "application/json",
    }),
  );

  return {
    eventsUrl: `${server.url}/v2/enqueue`,
    events,
    rejections,
    get requests() {
      return requests;
    },
    rateLimits: ledger,
    failNext: server.failNext,
    close: server.close,
  };
}
