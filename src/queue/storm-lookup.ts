// Whether a notification just diagnosed arrived in a storm, counted from the store so that replicas sharing it agree.
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import { notificationCluster } from "../diagnosis/notification-cluster.ts";
import { type StormGroup, stormMembership } from "../diagnosis/storm.ts";
import type { Diagnosis, StormMembership } from "../model/diagnosis.ts";
import type { Store, StoredNotification } from "../store/store.ts";

export interface StormSettings {
  /** This many distinct firing alert groups of one cluster within the window make a storm. */
  minGroups: number;
  windowMs: number;
  clusterLabel: string;
  /** The storm's page with its token, when report pages are served; each group's diagnosis links to it. */
  link?: (stormId: string) => string | undefined;
}

/**
 * The storm `notification`'s group is part of, or undefined when it is not in one (or resolved). The window ends now,
 * when the group is diagnosed: groups that arrived since it did are part of the same storm. The group itself always
 * counts, with the verdict just reached, even when its diagnosis took longer than the window.
 */
export async function lookUpStorm(
  store: Store,
  settings: StormSettings,
  notification: StoredNotification,
  diagnosis: Diagnosis,
  now: Date = new Date(),
): Promise<StormMembership | undefined> {
  if (notification.payload.status !== "firing") return undefined;
  const cluster = notificationCluster(notification.payload, settings.clusterLabel);
  const recent = await store.recentFiringGroups({ cluster, until: now, windowMs: settings.windowMs });
  const groupKey = notification.payload.groupKey;
  const others = recent.filter((group) => group.groupKey !== groupKey);
  const groups: StormGroup[] = others.map((group) => ({ groupKey: group.groupKey, verdict: group.verdict }));
  groups.push({ groupKey, verdict: groupVerdictOf(diagnosis) });
  if (groups.length < settings.minGroups) return undefined;
  const storm = await store.joinStorm({
    cluster,
    groups: [
      ...others.map((group) => ({ groupKey: group.groupKey, firstReceivedAt: new Date(group.firstReceivedAt) })),
      {
        groupKey,
        firstReceivedAt: new Date(recent.find((group) => group.groupKey === groupKey)?.firstReceivedAt ?? notification.receivedAt),
      },
    ],
    at: new Date(notification.receivedAt),
    windowMs: settings.windowMs,
  });
  const membership = stormMembership({
    id: storm.id,
    openedAt: storm.openedAt,
    groups,
    groupKey,
    cluster,
    windowSeconds: Math.round(settings.windowMs / 1000),
  });
  const link = settings.link?.(storm.id);
  return link !== undefined ? { ...membership, link } : membership;
}
