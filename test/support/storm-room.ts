// A storm as the sinks see it through the store (StormAccess), in memory: its members as their diagnoses landed, and
// what a sink remembered about the storm and about each group.
import { groupVerdictOf } from "../../src/diagnosis/group-verdict.ts";
import type { Diagnosis, StormMembership } from "../../src/model/diagnosis.ts";
import type { StoredStorm } from "../../src/model/storm.ts";
import type { DeliveryContext, StormAccess } from "../../src/sinks/sink.ts";
import { makeDiagnosis } from "./diagnosis-fixtures.ts";

export const STORM_ID = "6f0d2c1e-storm";

/** The store's side of a storm: its members as diagnosed so far, and what the sink remembered about it. */
export class StormRoom implements StormAccess {
  readonly groups = new Map<string, Diagnosis>();
  readonly states = new Map<string, unknown>();
  readonly groupStates = new Map<string, unknown>();
  failReads = false;
  gone = false;

  land(d: Diagnosis): void {
    this.groups.set(d.groupKey, d);
  }
  async read(id: string): Promise<StoredStorm | null> {
    if (this.failReads) throw new Error("connection reset by the store");
    if (this.gone || id !== STORM_ID) return null;
    const members = [...this.groups.values()].map((d) => ({
      groupKey: d.groupKey,
      firstReceivedAt: "2026-12-04T09:41:02.000Z",
      latest: { notificationId: d.notificationId, receivedAt: d.createdAt, firing: d.status === "firing", verdict: groupVerdictOf(d) },
    }));
    return { id, cluster: "prod-eu", openedAt: "2026-12-04T09:41:02.000Z", lastSeenAt: "2026-12-04T09:42:37.000Z", members };
  }
  async getState(id: string): Promise<unknown> {
    return this.states.get(id) ?? null;
  }
  async saveState(id: string, state: unknown): Promise<void> {
    this.states.set(id, JSON.parse(JSON.stringify(state)));
  }
  async saveStateIfAbsent(id: string, state: unknown): Promise<boolean> {
    if (this.states.has(id)) return false;
    this.states.set(id, JSON.parse(JSON.stringify(state)));
    return true;
  }
  /** A group's own context, as the delivery worker gives it: its state, and the storm. */
  contextFor(groupKey: string): DeliveryContext {
    return {
      state: this.groupStates.get(groupKey),
      saveState: async (next) => {
        this.groupStates.set(groupKey, JSON.parse(JSON.stringify(next)));
      },
      storms: this,
    };
  }
}

export const membership = (groups: number): StormMembership => ({
  id: STORM_ID,
  openedAt: "2026-12-04T09:41:02.000Z",
  groups,
  cluster: "prod-eu",
  windowSeconds: 120,
  sameVerdict: groups,
});

export function client(i: number, storm?: StormMembership): Diagnosis {
  const d = makeDiagnosis({
    notificationId: `n-${i}`,
    groupKey: `{}:{job="client-${i}"}`,
    commonLabels: { alertname: "KubeClientErrors", cluster: "prod-eu", job: `client-${i}`, severity: "warning" },
  });
  return storm === undefined ? d : { ...d, storm };
}
