// Which cluster a notification is about, for counting storms per cluster.
import type { AlertmanagerPayload } from "../model/alertmanager.ts";

/** The cluster label's value all its alerts share (a common label); "" when they share none, as with a single cluster. */
export function notificationCluster(payload: AlertmanagerPayload, clusterLabel: string): string {
  return payload.commonLabels[clusterLabel] ?? "";
}
