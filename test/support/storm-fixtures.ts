// A storm as a group's diagnosis carries it, the line every renderer shows for it, and storms as the store keeps them.
import type { GroupVerdict, StormMembership } from "../../src/model/diagnosis.ts";
import type { StoredStorm, StormMember } from "../../src/model/storm.ts";

export const FIXTURE_STORM: StormMembership = {
  id: "7f1c2a9e-5b8d-4f3a-9c61-0d2e4b6a8f10",
  openedAt: "2026-12-04T09:41:02.000Z",
  groups: 41,
  cluster: "prod-eu",
  windowSeconds: 120,
  sharedCause: {
    component: "the API server",
    causeId: "apiserver_side_errors",
    title: "The API server is failing the requests",
    groups: 40,
  },
  sameVerdict: 40,
};

export const FIXTURE_STORM_LINE =
  "Part of a storm of 41 alert groups in cluster prod-eu in the last 2 min: 40 point to the API server: The API server is failing the requests.";

/** A group's one-line verdict: its client fails because the API server does. */
export const apiServerFailing = (name: string): GroupVerdict => ({
  verdict: "cause",
  cause: { id: "apiserver_side_errors", title: "The API server is failing the requests", summary: `${name} gets 5xx.` },
  name,
});

/** A group's one-line verdict: its client lacks an RBAC permission. */
export const rbac = (name: string): GroupVerdict => ({
  verdict: "cause",
  cause: { id: "authorization_failure", title: "Client not allowed by RBAC (403)", summary: "403 on list pods." },
  name,
});

/** A member of a storm as the store reads it; `verdict` null while it is not diagnosed. */
export function stormMember(name: string, verdict: GroupVerdict | null, firing = true): StormMember {
  return {
    groupKey: `{}:{job="${name}"}`,
    firstReceivedAt: "2026-12-04T09:41:02.000Z",
    latest: verdict === null ? null : { notificationId: `n-${name}`, receivedAt: "2026-12-04T09:41:05.000Z", firing, verdict },
  };
}

export function storedStorm(members: StormMember[], cluster = "prod-eu"): StoredStorm {
  return { id: "s-1", cluster, openedAt: "2026-12-04T09:41:02.000Z", lastSeenAt: "2026-12-04T09:42:37.000Z", members };
}
