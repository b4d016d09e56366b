// A storm of alert groups in one cluster (README, "Storms"): what the store keeps about it, and what the sinks read to
// tell it as one story.
import type { GroupVerdict } from "./diagnosis.ts";

/** A storm as the store keeps it and the sinks read it: one per cluster, open while its groups keep arriving within the storm window. */
export interface StoredStorm {
  id: string;
  cluster: string;
  /** The first firing notification of its first group. */
  openedAt: string;
  /** The latest firing notification of a group that joined it. */
  lastSeenAt: string;
  /** Oldest first (by the first firing notification that joined them). */
  members: StormMember[];
}

export interface StormMember {
  groupKey: string;
  /** Its first firing notification that counted in the storm. */
  firstReceivedAt: string;
  /**
   * Its latest done notification (firing or resolved), for its report link and verdict; null while none is done or
   * after it was pruned.
   */
  latest: { notificationId: string; receivedAt: string; firing: boolean; verdict: GroupVerdict | null } | null;
}
