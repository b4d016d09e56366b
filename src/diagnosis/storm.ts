// What the alert groups of a storm say together: their verdicts counted, and whether most of them point to one cause
// on a component every client shares (the API server, etcd, an admission webhook, API Priority and Fairness, nodes).
import type { GroupVerdict, SharedCause, StormMembership } from "../model/diagnosis.ts";

/**
 * The playbook causes (rules/*.yaml, rules/shared/*.yaml) that name a component the clients of a cluster share, and
 * that component. When many groups fail at once, these are the causes that can explain them all; a client's own
 * causes (RBAC 403, its credentials, its CPU, its own rate limit `throttled`) cannot. A new playbook cause on a shared
 * component belongs here; test/diagnosis/storm.test.ts checks that every id here is a cause of some playbook.
 */
export const SHARED_COMPONENT_CAUSES: Readonly<Record<string, string>> = {
  apiserver_side_errors: "the API server", // KubernetesApiClientErrors
  apiserver_unhealthy: "the API server", // KubeClientErrors
  apiserver_requests_failing: "the API server", // KubeAPIErrorBudgetBurn
  apiserver_unavailable: "the API server", // KubeAPIErrorBudgetBurn
  apiserver_load: "the API server", // KubeAggregatedAPIErrors
  offending_client: "the API server", // one client's LIST/PUT flood loads the API server all clients share
  etcd_object_leak: "etcd",
  webhook_failure: "an admission webhook",
  webhook_slow: "an admission webhook",
  apf_rejecting: "API Priority and Fairness",
  node_apiserver_connectivity: "the nodes' network to the API server",
};

/** One alert group of a storm: its one-line verdict, or null while it is not diagnosed yet. */
export interface StormGroup {
  groupKey: string;
  verdict: GroupVerdict | null;
}

/** Groups of a storm with the same verdict: the same headline cause, or the same absence of one. */
export interface VerdictShare {
  key: string;
  /** One of them, for its verdict and cause; null for the groups not diagnosed yet. */
  verdict: GroupVerdict | null;
  groups: number;
  names: string[];
}

export interface StormAnalysis {
  groups: number;
  /** Largest first. */
  verdicts: VerdictShare[];
  sharedCause?: SharedCause;
}

/** Groups whose verdict says nothing yet about a shared cause: not diagnosed, or no playbook ran. */
const PENDING_KEY = "pending";

export function verdictKey(verdict: GroupVerdict | null): string {
  if (verdict === null) return PENDING_KEY;
  return verdict.verdict === "cause" && verdict.cause !== undefined ? `cause:${verdict.cause.id}` : verdict.verdict;
}

export function analyseStorm(groups: readonly StormGroup[]): StormAnalysis {
  const shares = new Map<string, VerdictShare>();
  for (const group of groups) {
    const key = verdictKey(group.verdict);
    const share = shares.get(key) ?? { key, verdict: group.verdict, groups: 0, names: [] };
    share.groups += 1;
    share.names.push(group.verdict?.name ?? group.groupKey);
    shares.set(key, share);
  }
  const verdicts = [...shares.values()].sort((a, b) => b.groups - a.groups || a.key.localeCompare(b.key));
  const sharedCause = findSharedCause(groups);
  return { groups: groups.length, verdicts, ...(sharedCause !== undefined ? { sharedCause } : {}) };
}

/**
 * A shared cause needs at least two groups naming causes on the same shared component, and more than half of the
 * groups whose check was complete (a cause, or checked with none holding). Groups that could not check, ran no
 * playbook or are not diagnosed yet are no evidence either way.
 */
function findSharedCause(groups: readonly StormGroup[]): SharedCause | undefined {
  let checked = 0;
  const byComponent = new Map<string, Map<string, { title: string; groups: number }>>();
  for (const { verdict } of groups) {
    if (verdict === null || (verdict.verdict !== "cause" && verdict.verdict !== "no_cause")) continue;
    checked += 1;
    const cause = verdict.cause;
    const component = cause === undefined ? undefined : SHARED_COMPONENT_CAUSES[cause.id];
    if (cause === undefined || component === undefined) continue;
    const causes = byComponent.get(component) ?? new Map<string, { title: string; groups: number }>();
    const counted = causes.get(cause.id) ?? { title: cause.title, groups: 0 };
    counted.groups += 1;
    causes.set(cause.id, counted);
    byComponent.set(component, causes);
  }
  let best: SharedCause | undefined;
  for (const [component, causes] of byComponent) {
    const total = [...causes.values()].reduce((sum, cause) => sum + cause.groups, 0);
    if (best !== undefined && total <= best.groups) continue;
    const [causeId, top] = [...causes.entries()].sort((a, b) => b[1].groups - a[1].groups || a[0].localeCompare(b[0]))[0]!;
    best = { component, causeId, title: top.title, groups: total };
  }
  if (best === undefined || best.groups < 2 || best.groups * 2 <= checked) return undefined;
  return best;
}

/**
 * What one group's message says about its storm. `groups` holds every firing group of the cluster in the window, this
 * one included with its fresh verdict.
 */
export function stormMembership(input: {
  id: string;
  openedAt: string;
  groups: readonly StormGroup[];
  groupKey: string;
  cluster: string;
  windowSeconds: number;
}): StormMembership {
  const analysis = analyseStorm(input.groups);
  const own = input.groups.find((group) => group.groupKey === input.groupKey);
  const ownKey = verdictKey(own?.verdict ?? null);
  const sameVerdict = analysis.verdicts.find((share) => share.key === ownKey)?.groups ?? 1;
  return {
    id: input.id,
    openedAt: input.openedAt,
    groups: analysis.groups,
    cluster: input.cluster,
    windowSeconds: input.windowSeconds,
    ...(analysis.sharedCause !== undefined ? { sharedCause: analysis.sharedCause } : {}),
    sameVerdict,
  };
}

/** "41 groups: The API server is failing the requests"; "1 group, report-exporter: Client not allowed by RBAC (403)". */
export function describeVerdictShare(share: VerdictShare): string {
  const count = `${share.groups} ${share.groups === 1 ? "group" : "groups"}`;
  const names = share.groups <= 3 ? `, ${share.names.join(", ")}` : "";
  return `${count}${names}: ${verdictText(share.verdict)}`;
}

export function verdictText(verdict: GroupVerdict | null): string {
  if (verdict === null) return "not diagnosed yet";
  switch (verdict.verdict) {
    case "cause":
      return verdict.cause?.title ?? "a cause";
    case "could_not_check":
      return "could not check";
    case "no_cause":
      return "no cause found";
    case "none":
      return "no playbook";
  }
}
