// The two Event APIs over one storage, as the API server has them: events.k8s.io/v1 Events are stored as core/v1
// Events and each API serves its own view, with the fields Go's encoding writes even when unset (an unset time as
// null, an unset source or reference as {}, the core reportingComponent/reportingInstance as "").
import type { KubeObject } from "./kube-object.ts";

/** Drops the fields a Go `omitempty` leaves out: unset, "" and 0. */
function omitEmpty<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== "" && v !== 0)) as T;
}

function orEmpty(value: unknown): unknown {
  return value === undefined || value === null ? {} : value;
}

function orNull(value: unknown): unknown {
  return value === undefined ? null : value;
}

export function isCoreEvent(o: KubeObject): boolean {
  return o.kind === "Event" && o.apiVersion === "v1";
}

export function isEventsV1Event(o: KubeObject): boolean {
  return o.kind === "Event" && o.apiVersion === "events.k8s.io/v1";
}

/** A core Event as stored and served by /api/v1. */
export function storedCoreEvent(e: KubeObject): KubeObject {
  const {
    apiVersion,
    kind,
    metadata,
    involvedObject,
    source,
    firstTimestamp,
    lastTimestamp,
    eventTime,
    reportingComponent,
    reportingInstance,
    ...rest
  } = e;
  return {
    apiVersion,
    kind,
    metadata,
    involvedObject: orEmpty(involvedObject),
    ...omitEmpty({ reason: rest.reason, message: rest.message }),
    source: orEmpty(source),
    firstTimestamp: orNull(firstTimestamp),
    lastTimestamp: orNull(lastTimestamp),
    ...omitEmpty({ count: rest.count, type: rest.type }),
    eventTime: orNull(eventTime),
    ...omitEmpty({ series: rest.series, action: rest.action, related: rest.related }),
    reportingComponent: typeof reportingComponent === "string" ? reportingComponent : "",
    reportingInstance: typeof reportingInstance === "string" ? reportingInstance : "",
  };
}

/** The core Event an events.k8s.io/v1 Event is stored as. */
export function eventsV1ToCoreEvent(e: KubeObject): KubeObject {
  return storedCoreEvent({
    apiVersion: "v1",
    kind: "Event",
    metadata: e.metadata,
    involvedObject: e.regarding,
    reason: e.reason,
    message: e.note,
    source: e.deprecatedSource,
    firstTimestamp: e.deprecatedFirstTimestamp,
    lastTimestamp: e.deprecatedLastTimestamp,
    count: e.deprecatedCount,
    type: e.type,
    eventTime: e.eventTime,
    series: e.series,
    action: e.action,
    related: e.related,
    reportingComponent: e.reportingController,
    reportingInstance: e.reportingInstance,
  });
}

/** The events.k8s.io/v1 view of a stored core Event. */
export function coreEventToEventsV1(e: KubeObject): KubeObject {
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: e.metadata,
    eventTime: orNull(e.eventTime),
    ...omitEmpty({
      series: e.series,
      reportingController: e.reportingComponent,
      reportingInstance: e.reportingInstance,
      action: e.action,
      reason: e.reason,
    }),
    regarding: orEmpty(e.involvedObject),
    ...omitEmpty({ related: e.related, note: e.message, type: e.type }),
    deprecatedSource: orEmpty(e.source),
    deprecatedFirstTimestamp: orNull(e.firstTimestamp),
    deprecatedLastTimestamp: orNull(e.lastTimestamp),
    ...omitEmpty({ deprecatedCount: e.count }),
  };
}
