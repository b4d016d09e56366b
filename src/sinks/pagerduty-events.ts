// Delivers a Diagnosis to PagerDuty Events API v2: one event per Alertmanager group, or per storm of groups
// (PAGERDUTY_STORM_INCIDENT), one attempt per call.
import type { Diagnosis, StormMembership } from "../model/diagnosis.ts";
import { type PagerDutyEvent, renderPagerDutyEvent } from "../render/pagerduty-event.ts";
import { renderPagerDutyStormEvent, type StormView, stormViewFromMembership, stormViewFromStore } from "../render/pagerduty-storm-event.ts";
import { DestinationPacer } from "./destination-pacer.ts";
import { originOf, sendHttp } from "./http-delivery.ts";
import { judge, type ServiceApi } from "./outcome-table.ts";
import type { DeliveryContext, Sink, SinkOutcome } from "./sink.ts";

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

export interface PagerDutyEventsSinkOptions {
  /** The 32-character integration key: a secret, it never appears in an outcome. */
  routingKey: string;
  eventsUrl?: string;
  timeoutMs?: number;
  /** Events per routing key in any `windowMs` looking back: PagerDuty allows about 120 a minute (protocols.md 3.1). */
  rateLimit?: { limit: number; windowMs: number };
  /** `storm`: a group diagnosed in a storm pages the storm's incident instead of its own; `group` (the default here): never. */
  stormIncident?: PagerDutyStormIncident;
  /** The report link of another group's notification, for the storm's list of groups; absent when reports are off. */
  reportLink?: (notificationId: string) => string | undefined;
  /** The storm's own page, for the storm incident's links; absent when reports are off. */
  stormLink?: (stormId: string) => string | undefined;
}

export type PagerDutyStormIncident = "storm" | "group";

const DEFAULT_TIMEOUT_MS = 10_000;
export const PAGERDUTY_EVENTS_PACE = { limit: 120, windowMs: 60_000 };
/** PagerDuty counts from when an event arrives, the pacer from when it leaves: a second covers the way there. */
const WINDOW_MARGIN_MS = 1000;
const MAX_RESPONSE_BYTES = 64 * 1024;
/** A group firing on for hours may outlast a storm and join the next; the storms it paged that it still has to close. */
const MAX_REMEMBERED_STORMS = 10;

/**
 * What the sink remembers per group in storm mode: whether the group opened an incident of its own (the groups that
 * fired before the storm was one did), and the storms whose incident it paged and has not resolved out of.
 */
interface PagedState {
  ownIncident: boolean;
  storms: StormMembership[];
}

function pagedState(state: unknown): PagedState {
  if (typeof state !== "object" || state === null) return { ownIncident: false, storms: [] };
  const record = state as Record<string, unknown>;
  const storms = Array.isArray(record.storms)
    ? record.storms.filter(
        (storm): storm is StormMembership =>
          typeof storm === "object" &&
          storm !== null &&
          typeof (storm as Record<string, unknown>).id === "string" &&
          typeof (storm as Record<string, unknown>).cluster === "string" &&
          typeof (storm as Record<string, unknown>).openedAt === "string" &&
          typeof (storm as Record<string, unknown>).groups === "number",
      )
    : [];
  return { ownIncident: record.ownIncident === true, storms };
}

interface PagerDutyAnswer {
  status?: string;
  message?: string;
  errors?: string[];
  dedup_key?: string;
}

function parseAnswer(text: string): PagerDutyAnswer {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return {};
    const record = value as Record<string, unknown>;
    return {
      status: typeof record.status === "string" ? record.status : undefined,
      message: typeof record.message === "string" ? record.message : undefined,
      errors: Array.isArray(record.errors) ? record.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e))) : undefined,
      dedup_key: typeof record.dedup_key === "string" ? record.dedup_key : undefined,
    };
  } catch {
    return { message: text };
  }
}

/**
 * Any 2xx is PagerDuty's acceptance (202 "Event processed"); its body only adds the dedup key. A refusal carries a
 * message and a list of errors, no error name (protocols.md 3.1).
 */
export const PAGERDUTY_EVENTS_API: ServiceApi = {
  read({ status, body }) {
    if (status >= 200 && status < 300) return { accepted: true };
    const answer = parseAnswer(body);
    const parts: string[] = [];
    if (answer.message !== undefined && answer.message !== "") parts.push(answer.message);
    if (answer.errors !== undefined && answer.errors.length > 0) parts.push(`errors: ${answer.errors.join("; ")}`);
    return { accepted: false, said: parts.join(" - ") };
  },
  /** PagerDuty suggests retrying a 429 30 seconds apart (protocols.md 3.1, PDD 05-Rate-Limits.md). */
  rateLimitWaitMs: 30_000,
};

export class PagerDutyEventsSink implements Sink {
  readonly name = "pagerduty";
  readonly #routingKey: string;
  readonly #eventsUrl: string;
  readonly #timeoutMs: number;
  readonly #origin: string;
  /** Paces events to the routing key's limit, and holds every delivery loop for PagerDuty's advised 30 s after a 429. */
  readonly #pacer: DestinationPacer;
  readonly #stormIncident: PagerDutyStormIncident;
  readonly #reportLink: ((notificationId: string) => string | undefined) | undefined;
  readonly #stormLink: ((stormId: string) => string | undefined) | undefined;

  constructor(options: PagerDutyEventsSinkOptions) {
    const rate = options.rateLimit ?? PAGERDUTY_EVENTS_PACE;
    this.#pacer = new DestinationPacer({ kind: "window", limit: rate.limit, windowMs: rate.windowMs, marginMs: WINDOW_MARGIN_MS });
    this.#routingKey = options.routingKey;
    this.#eventsUrl = options.eventsUrl ?? PAGERDUTY_EVENTS_URL;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#origin = originOf(this.#eventsUrl);
    this.#stormIncident = options.stormIncident ?? "group";
    this.#reportLink = options.reportLink;
    this.#stormLink = options.stormLink;
  }

  async deliver(diagnosis: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
    // Without a store behind the delivery there is nothing to remember a storm's incident by: one incident per group.
    if (this.#stormIncident === "group" || context === undefined) return this.#send(renderPagerDutyEvent(diagnosis, this.#routingKey));
    const paged = pagedState(context.state);
    if (diagnosis.status === "resolved") return this.#resolve(diagnosis, context, paged);

    // A group that paged a storm keeps updating that storm's incident while it fires, even once the storm is quiet.
    const membership = diagnosis.storm ?? paged.storms.at(-1);
    if (membership === undefined) {
      const outcome = await this.#send(renderPagerDutyEvent(diagnosis, this.#routingKey));
      if (outcome.status === "delivered" && !paged.ownIncident)
        await context.saveState({ ...paged, ownIncident: true } satisfies PagedState);
      return outcome;
    }
    const view = await this.#stormView(membership, diagnosis, context);
    const outcome = await this.#send(renderPagerDutyStormEvent(view, diagnosis, this.#routingKey));
    if (outcome.status === "delivered" && !paged.storms.some((storm) => storm.id === membership.id)) {
      const storms = [...paged.storms, membership].slice(-MAX_REMEMBERED_STORMS);
      await context.saveState({ ownIncident: paged.ownIncident, storms } satisfies PagedState);
    }
    return outcome;
  }

  /**
   * The group's own incident resolves when it had one. A storm's incident resolves only when no other group of the
   * storm is still firing (or not diagnosed yet); otherwise the last of them to resolve closes it.
   */
  async #resolve(diagnosis: Diagnosis, context: DeliveryContext, paged: PagedState): Promise<SinkOutcome> {
    let outcome: SinkOutcome | undefined;
    if (paged.ownIncident || paged.storms.length === 0) {
      outcome = await this.#send(renderPagerDutyEvent(diagnosis, this.#routingKey));
      if (outcome.status !== "delivered") return outcome;
      if (paged.ownIncident) await context.saveState({ ownIncident: false, storms: paged.storms } satisfies PagedState);
    }
    const closed: string[] = [];
    for (const [index, membership] of paged.storms.entries()) {
      const remember = (): Promise<void> =>
        context.saveState({ ownIncident: false, storms: paged.storms.slice(index) } satisfies PagedState);
      let view: StormView;
      try {
        const stored = context.storms !== undefined ? await context.storms.read(membership.id) : null;
        const stillFiring =
          context.storms === undefined
            ? Number.POSITIVE_INFINITY
            : (stored?.members.filter((member) => member.groupKey !== diagnosis.groupKey && (member.latest?.firing ?? true)).length ?? 0);
        if (stillFiring > 0) continue;
        view =
          stored !== null
            ? stormViewFromStore(stored, diagnosis, this.#reportLink, this.#stormLink)
            : stormViewFromMembership(membership, diagnosis);
      } catch (error) {
        await remember();
        const reason = error instanceof Error ? error.message : String(error);
        return {
          status: "retry",
          code: "storm_unreadable",
          error: `could not read storm ${membership.id} to tell whether to resolve its incident: ${reason}`,
        };
      }
      const resolved = await this.#send(renderPagerDutyStormEvent(view, diagnosis, this.#routingKey, "resolve"));
      if (resolved.status !== "delivered") {
        await remember();
        return resolved;
      }
      closed.push(resolved.detail ?? membership.id);
    }
    if (paged.storms.length > 0) await context.saveState({ ownIncident: false, storms: [] } satisfies PagedState);
    const details = [outcome?.status === "delivered" ? outcome.detail : undefined, ...closed].filter((d): d is string => d !== undefined);
    return {
      status: "delivered",
      ...(details.length > 0 ? { detail: details.join(", ") } : { detail: "storm incident left open: other groups still fire" }),
    };
  }

  /** The storm as the store has it now; what the diagnosis saw of it when the store cannot say (never fails the page). */
  async #stormView(membership: StormMembership, diagnosis: Diagnosis, context: DeliveryContext): Promise<StormView> {
    try {
      const stored = await context.storms?.read(membership.id);
      if (stored !== undefined && stored !== null) return stormViewFromStore(stored, diagnosis, this.#reportLink, this.#stormLink);
    } catch {
      // The group's own view of the storm below still names the storm, its size and its shared cause.
    }
    return stormViewFromMembership(membership, diagnosis);
  }

  async #send(event: PagerDutyEvent): Promise<SinkOutcome> {
    await this.#pacer.acquire(ROUTING_KEY);
    const exchange = await sendHttp({
      method: "POST",
      url: this.#eventsUrl,
      headers: { "Content-Type": "application/json; charset=utf-8", Accept: "application/json, text/plain" },
      body: JSON.stringify(event),
      timeoutMs: this.#timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
    const judged = judge(exchange, PAGERDUTY_EVENTS_API, { what: `PagerDuty Events API at ${this.#origin}`, secrets: [this.#routingKey] });
    if (!judged.delivered) {
      if (judged.outcome.status === "retry" && judged.outcome.rateLimited === true) {
        this.#pacer.hold(ROUTING_KEY, judged.outcome.retryAfterMs ?? PAGERDUTY_EVENTS_API.rateLimitWaitMs);
      }
      return judged.outcome;
    }
    return { status: "delivered", detail: parseAnswer(judged.response.body).dedup_key ?? event.dedup_key };
  }
}

/** A sink sends with one routing key, so its pacer has one destination (the key itself stays out of it). */
const ROUTING_KEY = "routing key";
