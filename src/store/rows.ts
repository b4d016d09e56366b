// Reading rows back, the same for every store: typed columns that say what was wrong, and notification, delivery and storm rows.
import type { AlertmanagerPayload } from "../model/alertmanager.ts";
import type { Diagnosis, GroupVerdict } from "../model/diagnosis.ts";
import type { StoredStorm, StormMember } from "../model/storm.ts";
import type { ListedDiagnosis, RecentGroup, StoredDelivery, StoredNotification } from "./store.ts";

export type Row = Record<string, unknown>;

export function textColumn(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw new Error(`column ${column} is ${value === null ? "NULL" : typeof value}, expected text`);
  return value;
}

/** SQLite gives numbers; PostgreSQL's BIGINT and count(*) arrive as strings (pg does not narrow int8). */
export function integerColumn(row: Row, column: string): number {
  const value = row[column];
  const number = typeof value === "string" || typeof value === "bigint" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw new Error(`column ${column} is ${value === null ? "NULL" : JSON.stringify(String(value))}, expected an integer`);
  }
  return number;
}

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** A row with id, dedup_key, payload, received_at and attempts. */
export function notificationFromRow(row: Row): StoredNotification {
  return {
    id: textColumn(row, "id"),
    dedupKey: textColumn(row, "dedup_key"),
    payload: parseJson<AlertmanagerPayload>(textColumn(row, "payload")),
    receivedAt: new Date(integerColumn(row, "received_at")).toISOString(),
    attempts: integerColumn(row, "attempts"),
  };
}

/** A row with id, received_at and diagnosis. */
export function listedFromRow(row: Row): ListedDiagnosis {
  return {
    id: textColumn(row, "id"),
    receivedAt: new Date(integerColumn(row, "received_at")).toISOString(),
    diagnosis: parseJson<Diagnosis>(textColumn(row, "diagnosis")),
  };
}

/** A delivery row joined with its notification's diagnosis. */
export function deliveryFromRow(row: Row): StoredDelivery {
  return {
    id: textColumn(row, "id"),
    notificationId: textColumn(row, "notification_id"),
    groupKey: textColumn(row, "group_key"),
    sink: textColumn(row, "sink"),
    diagnosis: parseJson<Diagnosis>(textColumn(row, "diagnosis")),
    attempts: integerColumn(row, "attempts"),
  };
}

/**
 * Rows with group_key, received_at and verdict (NULL until diagnosed), oldest first: one RecentGroup per group, with
 * its first receipt and its latest verdict.
 */
export function recentGroupsFromRows(rows: readonly Row[]): RecentGroup[] {
  const groups = new Map<string, RecentGroup>();
  for (const row of rows) {
    const groupKey = textColumn(row, "group_key");
    const verdict = row.verdict === null || row.verdict === undefined ? null : parseJson<GroupVerdict>(textColumn(row, "verdict"));
    const known = groups.get(groupKey);
    if (known === undefined) {
      groups.set(groupKey, { groupKey, firstReceivedAt: new Date(integerColumn(row, "received_at")).toISOString(), verdict });
    } else if (verdict !== null) {
      known.verdict = verdict;
    }
  }
  return [...groups.values()];
}

/**
 * Rows of one storm joined with its members (none: one row with NULL member columns), oldest member first, each with
 * its latest done notification's notification_id, received_at, firing and verdict (NULL when there is none).
 */
export function stormFromRows(rows: readonly Row[]): StoredStorm | null {
  const [first] = rows;
  if (first === undefined) return null;
  const members: StormMember[] = [];
  for (const row of rows) {
    if (row.group_key === null || row.group_key === undefined) continue;
    members.push({
      groupKey: textColumn(row, "group_key"),
      firstReceivedAt: new Date(integerColumn(row, "first_received_at")).toISOString(),
      latest:
        row.notification_id === null || row.notification_id === undefined
          ? null
          : {
              notificationId: textColumn(row, "notification_id"),
              receivedAt: new Date(integerColumn(row, "received_at")).toISOString(),
              firing: booleanColumn(row, "firing"),
              verdict: row.verdict === null || row.verdict === undefined ? null : parseJson<GroupVerdict>(textColumn(row, "verdict")),
            },
    });
  }
  return {
    id: textColumn(first, "id"),
    cluster: textColumn(first, "cluster"),
    openedAt: new Date(integerColumn(first, "opened_at")).toISOString(),
    lastSeenAt: new Date(integerColumn(first, "last_seen_at")).toISOString(),
    members,
  };
}

/** PostgreSQL gives booleans; SQLite stores them as the integers 0 and 1. */
export function booleanColumn(row: Row, column: string): boolean {
  const value = row[column];
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1) return value === 1;
  throw new Error(`column ${column} is ${value === null ? "NULL" : JSON.stringify(String(value))}, expected a boolean`);
}
