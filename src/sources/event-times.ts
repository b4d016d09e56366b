// When a Kubernetes Event was first and last seen, whichever API recorded it. The core recorder (kubelet, most
// controllers) writes firstTimestamp and lastTimestamp; client-go's tools/events (kube-scheduler and others) writes
// through events.k8s.io: eventTime when first seen, series.lastObservedTime once it repeats, and core/v1 serves such
// an Event with "firstTimestamp": null and "lastTimestamp": null. The order is kubectl's (`kubectl events` sorts by
// series.lastObservedTime, else lastTimestamp, else eventTime; `kubectl get events` shows FIRST SEEN as firstTimestamp,
// else eventTime). The events.k8s.io/v1 view's deprecated* fields are read too.

function field(event: unknown, ...path: string[]): string {
  let value: unknown = event;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === "string" ? value : "";
}

/** The RFC 3339 time the Event was first seen, or "" when it has none. */
export function eventFirstSeen(event: unknown): string {
  return field(event, "firstTimestamp") || field(event, "deprecatedFirstTimestamp") || field(event, "eventTime");
}

/** The RFC 3339 time the Event was last seen, or "" when it has none. */
export function eventLastSeen(event: unknown): string {
  return (
    field(event, "series", "lastObservedTime") ||
    field(event, "lastTimestamp") ||
    field(event, "deprecatedLastTimestamp") ||
    eventFirstSeen(event)
  );
}
