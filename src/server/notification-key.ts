// The identity of one notification, for deduplication: Alertmanager retries and HA peers send the same group, status
// and alert set more than once, and each must be processed once.
import { hash } from "node:crypto";
import type { AlertmanagerPayload } from "../model/alertmanager.ts";

export function notificationKey(payload: AlertmanagerPayload): string {
  const alerts = payload.alerts.map((a) => `${a.fingerprint}:${a.status}:${a.startsAt}`).sort();
  return hash("sha256", JSON.stringify([payload.groupKey, payload.status, alerts]), "hex");
}
