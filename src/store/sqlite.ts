// The embedded Store: one SQLite file (node:sqlite) holding the notification inbox and the delivery outbox.
import { randomUUID } from "node:crypto";
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { setImmediate as afterIo } from "node:timers";
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from "node:sqlite";
import type { AlertmanagerPayload } from "../model/alertmanager.ts";
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import type { Diagnosis } from "../model/diagnosis.ts";
import { LastWrite } from "./last-write.ts";
import { sqliteMigrations } from "./migrations/sqlite.ts";
import type { StoredStorm } from "../model/storm.ts";
import {
  deliveryFromRow,
  integerColumn,
  listedFromRow,
  notificationFromRow,
  parseJson,
  recentGroupsFromRows,
  stormFromRows,
  textColumn,
} from "./rows.ts";
import { stormJoin } from "./storm-join.ts";
import type {
  DeliveryResult,
  DeliverySinkFilter,
  InsertResult,
  ListedDiagnosis,
  QueueDepth,
  RecentGroup,
  Store,
  StoredDelivery,
  StoredNotification,
} from "./store.ts";

export interface SqliteStoreOptions {
  /** Opens the file read-only. Only tests use it, to check that checkWritable() notices. */
  readOnly?: boolean;
  /**
   * Group commit (the default): the notifications received while a commit blocks the process are stored together, in
   * one transaction and one fsync, each answered once that commit returns. false: one transaction per notification.
   */
  groupCommit?: boolean;
}

interface PendingInsert {
  store: () => InsertResult;
  resolve: (result: InsertResult) => void;
  reject: (error: unknown) => void;
}

const BUSY_TIMEOUT_MS = 5000;

type Row = Record<string, SQLOutputValue>;
type Parameters = Record<string, SQLInputValue>;

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

export class SqliteStore implements Store {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #lastWrite = new LastWrite(errorMessage);
  readonly #groupCommit: boolean;
  #pendingInserts: PendingInsert[] = [];

  /** Throws "SQLite store PATH cannot be opened: why" when the file cannot be created, opened or written. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    const readOnly = options.readOnly ?? false;
    this.#groupCommit = options.groupCommit ?? true;
    if (isFilePath(path) && !readOnly) {
      try {
        makeDirectories(dirname(path));
      } catch (error) {
        throw new Error(`SQLite store ${path} cannot be opened: ${errorMessage(error)}`, { cause: error });
      }
    }
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { readOnly, timeout: BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // Switching to WAL is a write; a read-only connection keeps whatever mode the file already has.
      if (!readOnly) execWhenUnlocked(db, "PRAGMA journal_mode = WAL");
      // FULL: the receiver answers 200 only after the row is on disk, so a commit must survive power loss, not just a crash.
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA foreign_keys = ON");
    } catch (error) {
      if (db?.isOpen === true) db.close();
      // SQLite says only "unable to open database file"; the file system says why.
      const why = isFilePath(path) ? whyNotWritable(path, readOnly) : undefined;
      throw new Error(`SQLite store ${path} cannot be opened: ${errorMessage(error)}${why === undefined ? "" : ` (${why})`}`, {
        cause: error,
      });
    }
    this.#db = db;
  }

  async migrate(): Promise<void> {
    for (const migration of sqliteMigrations) {
      // BEGIN IMMEDIATE takes the write lock before reading the applied versions, so two processes starting on the
      // same file apply each migration once: the second waits (busy_timeout), then sees the version recorded.
      this.#writeTransaction(() => {
        this.#db.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        );
        const applied = this.#db.prepare("SELECT 1 AS applied FROM schema_migrations WHERE version = ?").get(migration.version);
        if (applied !== undefined) return;
        this.#db.exec(migration.sql);
        this.#db
          .prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
          .run(migration.version, migration.name, Date.now());
      });
    }
  }

  async insertNotification(input: {
    dedupKey: string;
    payload: AlertmanagerPayload;
    receivedAt: Date;
    dedupWindowMs: number;
    cluster?: string;
  }): Promise<InsertResult> {
    const receivedAt = input.receivedAt.getTime();
    const payload = JSON.stringify(input.payload);
    const store = (): InsertResult => {
      const existing = this.#statement(
        `SELECT id FROM notifications
          WHERE dedup_key = :dedupKey AND received_at > :receivedAt - :window AND received_at < :receivedAt + :window
          ORDER BY received_at DESC, rowid DESC LIMIT 1`,
      ).get({ dedupKey: input.dedupKey, receivedAt, window: input.dedupWindowMs });
      if (existing !== undefined) return { id: textColumn(existing, "id"), duplicate: true };

      const id = randomUUID();
      this.#statement(
        `INSERT INTO notifications (id, dedup_key, group_key, status, payload, received_at, attempts, cluster, firing)
         VALUES (:id, :dedupKey, :groupKey, 'pending', :payload, :receivedAt, 0, :cluster, :firing)`,
      ).run({
        id,
        dedupKey: input.dedupKey,
        groupKey: input.payload.groupKey,
        payload,
        receivedAt,
        cluster: input.cluster ?? "",
        firing: input.payload.status === "firing" ? 1 : 0,
      });
      return { id, duplicate: false };
    };
    const commit = () => (this.#groupCommit ? this.#storeWithOthers(store) : this.#writeTransaction(store));
    return this.#lastWrite.track("storing a notification", payload.length, commit, (result) => !result.duplicate);
  }

  /**
   * Queues an insert for the next group commit. node:sqlite commits synchronously, so the requests that arrive during
   * a commit are read together in the next I/O phase; the commit runs right after it, once for all of them.
   */
  #storeWithOthers(store: () => InsertResult): Promise<InsertResult> {
    return new Promise((resolve, reject) => {
      this.#pendingInserts.push({ store, resolve, reject });
      if (this.#pendingInserts.length === 1) afterIo(() => this.#commitPendingInserts());
    });
  }

  #commitPendingInserts(): void {
    const batch = this.#pendingInserts;
    this.#pendingInserts = [];
    if (batch.length === 0) return;
    let results: InsertResult[] | undefined;
    // In arrival order, in one transaction: a later duplicate of an earlier one in the batch finds its row.
    try {
      results = this.#writeTransaction(() => batch.map((insert) => insert.store()));
    } catch (error) {
      const [only] = batch;
      if (batch.length === 1 && only !== undefined) return only.reject(error);
      // One insert failing must not fail the others: each on its own, as without group commit.
      for (const insert of batch) {
        try {
          insert.resolve(this.#writeTransaction(insert.store));
        } catch (error) {
          insert.reject(error);
        }
      }
      return;
    }
    batch.forEach((insert, i) => insert.resolve(results[i] as InsertResult));
  }

  async claimNotification(worker: string, leaseMs: number, now: Date = new Date()): Promise<StoredNotification | null> {
    const nowMs = now.getTime();
    return this.#writeTransaction(() => {
      const row = this.#statement(
        `UPDATE notifications
            SET status = 'running', lease_owner = :worker, lease_until = :leaseUntil, attempts = attempts + 1
          WHERE id = (
            SELECT id FROM notifications
             WHERE status = 'pending' OR (status = 'running' AND lease_until < :now)
             ORDER BY received_at, rowid LIMIT 1)
          RETURNING id, dedup_key, payload, received_at, attempts`,
      ).get({ worker, leaseUntil: nowMs + leaseMs, now: nowMs });
      if (row === undefined) return null;
      return notificationFromRow(row);
    });
  }

  async completeNotification(id: string, diagnosis: Diagnosis, sinks: string[]): Promise<void> {
    const nowMs = Date.now();
    const diagnosisJson = JSON.stringify(diagnosis);
    await this.#lastWrite.track("completing a diagnosis", diagnosisJson.length, () =>
      this.#writeTransaction(() => {
        const notification = this.#statement("SELECT status, group_key, received_at FROM notifications WHERE id = :id").get({ id });
        if (notification === undefined) throw new Error(`cannot complete notification ${id}: it is not in the store`);
        // A worker whose lease expired may finish after another worker already did; the first completion wins,
        // otherwise every sink would get the diagnosis twice.
        if (textColumn(notification, "status") === "done") return;

        this.#statement(
          `UPDATE notifications
              SET status = 'done', diagnosis = :diagnosis, finished_at = :now, lease_owner = NULL, lease_until = NULL,
                  verdict = :verdict
            WHERE id = :id`,
        ).run({ id, diagnosis: diagnosisJson, now: nowMs, verdict: JSON.stringify(groupVerdictOf(diagnosis)) });
        // created_at is the notification's receipt time, not now: a group's deliveries go out in the order Alertmanager
        // sent them, even when a later notification (a quick resolve) finishes diagnosis before an earlier one.
        const insertDelivery = this.#statement(
          `INSERT INTO deliveries (id, notification_id, group_key, sink, status, attempts, not_before, created_at)
           VALUES (:id, :notificationId, :groupKey, :sink, 'pending', 0, :now, :receivedAt)`,
        );
        for (const sink of new Set(sinks)) {
          insertDelivery.run({
            id: randomUUID(),
            notificationId: id,
            groupKey: textColumn(notification, "group_key"),
            sink,
            now: nowMs,
            receivedAt: integerColumn(notification, "received_at"),
          });
        }
      }),
    );
  }

  async claimDelivery(
    worker: string,
    leaseMs: number,
    now: Date = new Date(),
    filter?: DeliverySinkFilter,
  ): Promise<StoredDelivery | null> {
    const nowMs = now.getTime();
    const sink = filter !== undefined && "sink" in filter ? filter.sink : null;
    const exceptSinks = filter !== undefined && "exceptSinks" in filter ? JSON.stringify(filter.exceptSinks) : null;
    return this.#writeTransaction(() => {
      // A delivery waits while an earlier one of its (group, sink) is unfinished, or while another of them is in flight:
      // one alert group's messages reach a sink in order, and other groups and sinks are not held up.
      const claimed = this.#statement(
        `UPDATE deliveries
            SET status = 'running', lease_owner = :worker, lease_until = :leaseUntil, attempts = attempts + 1
          WHERE id = (
            SELECT d.id FROM deliveries d
             WHERE ((d.status = 'pending' AND d.not_before <= :now) OR (d.status = 'running' AND d.lease_until < :now))
               AND (:sink IS NULL OR d.sink = :sink)
               AND (:exceptSinks IS NULL OR d.sink NOT IN (SELECT value FROM json_each(:exceptSinks)))
               AND NOT EXISTS (
                 SELECT 1 FROM deliveries e
                  WHERE e.group_key = d.group_key AND e.sink = d.sink AND e.id <> d.id
                    AND e.status IN ('pending', 'running')
                    AND (e.created_at < d.created_at
                         OR (e.created_at = d.created_at AND e.rowid < d.rowid)
                         OR (e.status = 'running' AND e.lease_until >= :now)))
               AND NOT EXISTS (
                 SELECT 1 FROM notifications n
                  WHERE n.group_key = d.group_key AND n.status IN ('pending', 'running') AND n.received_at < d.created_at)
             ORDER BY d.created_at, d.rowid LIMIT 1)
          RETURNING id`,
      ).get({ worker, leaseUntil: nowMs + leaseMs, now: nowMs, sink, exceptSinks });
      if (claimed === undefined) return null;

      const row = this.#statement(
        `SELECT d.id, d.notification_id, d.group_key, d.sink, d.attempts, n.diagnosis
           FROM deliveries d JOIN notifications n ON n.id = d.notification_id
          WHERE d.id = :id`,
      ).get({ id: textColumn(claimed, "id") });
      if (row === undefined) throw new Error(`delivery ${textColumn(claimed, "id")} vanished while being claimed`);
      return deliveryFromRow(row);
    });
  }

  async finishDelivery(id: string, result: DeliveryResult): Promise<void> {
    const nowMs = Date.now();
    this.#writeTransaction(() => {
      const delivery = this.#statement("SELECT status FROM deliveries WHERE id = :id").get({ id });
      if (delivery === undefined) throw new Error(`cannot finish delivery ${id}: it is not in the store`);
      const status = textColumn(delivery, "status");
      // After a lease expiry two workers can hold the same delivery. Once any of them delivered it, it stays delivered;
      // a retry or failure only counts from a worker that still finds it running, so a late report cannot undo a result.
      if (result.status === "delivered") {
        if (status === "delivered") return;
        this.#statement(
          `UPDATE deliveries
              SET status = 'delivered', delivered_at = :now, lease_owner = NULL, lease_until = NULL
            WHERE id = :id`,
        ).run({ id, now: nowMs });
        return;
      }
      if (status !== "running") return;
      if (result.status === "retry") {
        this.#statement(
          `UPDATE deliveries
              SET status = 'pending', not_before = :notBefore, last_error = :error, lease_owner = NULL, lease_until = NULL
            WHERE id = :id`,
        ).run({ id, notBefore: result.notBefore.getTime(), error: result.error });
        return;
      }
      this.#statement(
        `UPDATE deliveries
            SET status = 'failed', last_error = :error, lease_owner = NULL, lease_until = NULL
          WHERE id = :id`,
      ).run({ id, error: result.error });
    });
  }

  async getDiagnosis(notificationId: string): Promise<Diagnosis | null> {
    const row = this.#statement("SELECT diagnosis FROM notifications WHERE id = :id").get({ id: notificationId });
    if (row === undefined || row.diagnosis === null) return null;
    return parseJson<Diagnosis>(textColumn(row, "diagnosis"));
  }

  async recentFiringGroups(query: { cluster: string; until: Date; windowMs: number }): Promise<RecentGroup[]> {
    const until = query.until.getTime();
    const rows = this.#statement(
      `SELECT group_key, received_at, verdict FROM notifications
        WHERE firing = 1 AND cluster = :cluster AND received_at > :until - :window AND received_at <= :until
        ORDER BY received_at, rowid`,
    ).all({ cluster: query.cluster, until, window: Math.max(0, query.windowMs) });
    return recentGroupsFromRows(rows);
  }

  async joinStorm(input: {
    cluster: string;
    groups: { groupKey: string; firstReceivedAt: Date }[];
    at: Date;
    windowMs: number;
  }): Promise<{ id: string; openedAt: string }> {
    const join = stormJoin(input);
    return this.#writeTransaction(() => {
      const open = this.#statement(
        `SELECT id FROM storms WHERE cluster = :cluster AND last_seen_at > :at - :window
          ORDER BY last_seen_at DESC, opened_at DESC LIMIT 1`,
      ).get({ cluster: input.cluster, at: join.at, window: join.windowMs });
      let id: string;
      if (open === undefined) {
        id = randomUUID();
        this.#statement("INSERT INTO storms (id, cluster, opened_at, last_seen_at) VALUES (:id, :cluster, :openedAt, :at)").run({
          id,
          cluster: input.cluster,
          openedAt: join.earliest,
          at: join.at,
        });
      } else {
        id = textColumn(open, "id");
        this.#statement(
          `UPDATE storms SET last_seen_at = max(last_seen_at, :at), opened_at = min(opened_at, :earliest) WHERE id = :id`,
        ).run({ id, at: join.at, earliest: join.earliest });
      }
      const insertMember = this.#statement(
        `INSERT INTO storm_members (storm_id, group_key, first_received_at) VALUES (:id, :groupKey, :firstReceivedAt)
         ON CONFLICT (storm_id, group_key) DO NOTHING`,
      );
      for (const member of join.members) insertMember.run({ id, ...member });
      const storm = this.#statement("SELECT opened_at FROM storms WHERE id = :id").get({ id });
      if (storm === undefined) throw new Error(`storm ${id} vanished while being joined`);
      return { id, openedAt: new Date(integerColumn(storm, "opened_at")).toISOString() };
    });
  }

  async readStorm(id: string): Promise<StoredStorm | null> {
    const rows = this.#statement(
      `SELECT s.id, s.cluster, s.opened_at, s.last_seen_at, m.group_key, m.first_received_at,
              n.id AS notification_id, n.received_at, n.firing, n.verdict
         FROM storms s
         LEFT JOIN storm_members m ON m.storm_id = s.id
         LEFT JOIN notifications n ON n.id = (
           SELECT latest.id FROM notifications latest
            WHERE latest.group_key = m.group_key AND latest.status = 'done'
            ORDER BY latest.received_at DESC, latest.rowid DESC LIMIT 1)
        WHERE s.id = :id
        ORDER BY m.first_received_at, m.group_key`,
    ).all({ id });
    return stormFromRows(rows);
  }

  async listDiagnoses(query: { since: Date; limit: number }): Promise<ListedDiagnosis[]> {
    const rows = this.#statement(
      `SELECT id, received_at, diagnosis FROM notifications
        WHERE status = 'done' AND diagnosis IS NOT NULL AND received_at >= :since
        ORDER BY received_at DESC, rowid DESC LIMIT :limit`,
    ).all({ since: query.since.getTime(), limit: Math.max(0, Math.floor(query.limit)) });
    return rows.map(listedFromRow);
  }

  async pruneBefore(date: Date): Promise<number> {
    return this.#writeTransaction(() => {
      const row = this.#statement(
        `SELECT count(*) AS n FROM notifications n
          WHERE n.status = 'done' AND n.received_at < :before
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id AND d.status IN ('pending', 'running'))`,
      ).get({ before: date.getTime() });
      this.#statement(
        `DELETE FROM deliveries WHERE notification_id IN (
           SELECT n.id FROM notifications n
            WHERE n.status = 'done' AND n.received_at < :before
              AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id AND d.status IN ('pending', 'running')))`,
      ).run({ before: date.getTime() });
      this.#statement(
        `DELETE FROM notifications
          WHERE status = 'done' AND received_at < :before
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = notifications.id)`,
      ).run({ before: date.getTime() });
      // Their members go with them (ON DELETE CASCADE).
      this.#statement("DELETE FROM storms WHERE last_seen_at < :before").run({ before: date.getTime() });
      return row === undefined ? 0 : integerColumn(row, "n");
    });
  }

  async getSinkState(groupKey: string, sink: string): Promise<unknown> {
    const row = this.#statement("SELECT state FROM sink_state WHERE group_key = :groupKey AND sink = :sink").get({ groupKey, sink });
    return row === undefined ? null : parseJson<unknown>(textColumn(row, "state"));
  }

  async putSinkState(groupKey: string, sink: string, state: unknown): Promise<void> {
    this.#writeTransaction(() => {
      this.#statement(
        `INSERT INTO sink_state (group_key, sink, state, updated_at) VALUES (:groupKey, :sink, :state, :now)
         ON CONFLICT (group_key, sink) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      ).run({ groupKey, sink, state: JSON.stringify(state), now: Date.now() });
    });
  }

  async putSinkStateIfAbsent(groupKey: string, sink: string, state: unknown): Promise<boolean> {
    return this.#writeTransaction(
      () =>
        this.#statement(
          `INSERT INTO sink_state (group_key, sink, state, updated_at) VALUES (:groupKey, :sink, :state, :now)
           ON CONFLICT (group_key, sink) DO NOTHING
           RETURNING 1 AS stored`,
        ).get({ groupKey, sink, state: JSON.stringify(state), now: Date.now() }) !== undefined,
    );
  }

  async renewDeliveryLease(id: string, worker: string, leaseMs: number, now: Date = new Date()): Promise<boolean> {
    return this.#writeTransaction(
      () =>
        this.#statement(
          `UPDATE deliveries SET lease_until = :leaseUntil
            WHERE id = :id AND status = 'running' AND lease_owner = :worker
            RETURNING id`,
        ).get({ id, worker, leaseUntil: now.getTime() + leaseMs }) !== undefined,
    );
  }

  async queueDepth(): Promise<QueueDepth> {
    const row = this.#statement(
      `SELECT (SELECT count(*) FROM notifications WHERE status IN ('pending', 'running')) AS notifications,
              (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'running')) AS deliveries`,
    ).get();
    if (row === undefined) throw new Error("queue depth query returned no row");
    return { notifications: integerColumn(row, "notifications"), deliveries: integerColumn(row, "deliveries") };
  }

  async checkWritable(): Promise<void> {
    const failure = this.#lastWrite.failure;
    try {
      if (failure === undefined) {
        this.#writeTransaction(() => {
          this.#statement("INSERT INTO heartbeat (id, at) VALUES (1, :now) ON CONFLICT (id) DO UPDATE SET at = excluded.at").run({
            now: Date.now(),
          });
        });
        return;
      }
      // The last real write failed: only a write as large as it, committed, shows that such writes fit again. The
      // space it takes is freed for the next real write.
      this.#writeTransaction(() => {
        this.#statement(
          "INSERT INTO write_probe (id, filler) VALUES (1, randomblob(:bytes)) ON CONFLICT (id) DO UPDATE SET filler = excluded.filler",
        ).run({ bytes: this.#lastWrite.probeBytes(failure) });
      });
      this.#writeTransaction(() => this.#statement("DELETE FROM write_probe").run({}));
      this.#lastWrite.recovered(failure);
    } catch (error) {
      const before = failure === undefined ? "" : `${this.#lastWrite.describe(failure)}: `;
      throw new Error(`SQLite store ${this.path} cannot take a write: ${before}${errorMessage(error)}`, { cause: error });
    }
  }

  /**
   * Caps the database at its current size (PRAGMA max_page_count), so that the next write needing a new page fails
   * with SQLITE_FULL as on a full disk; false lifts the cap. Only tests use it.
   */
  simulateFullDisk(full: boolean): void {
    const pages = full ? Number(this.#db.prepare("PRAGMA page_count").get()?.page_count) : 4_294_967_294;
    this.#db.exec(`PRAGMA max_page_count = ${pages}`);
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#commitPendingInserts();
    if (this.#db.isOpen) this.#db.close();
    this.#statements.clear();
  }

  #writeTransaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #statement(sql: string): {
    get(parameters?: Parameters): Row | undefined;
    all(parameters?: Parameters): Row[];
    run(parameters: Parameters): void;
  } {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    const prepared = statement;
    return {
      get: (parameters = {}) => prepared.get(parameters),
      all: (parameters = {}) => prepared.all(parameters),
      run: (parameters) => {
        prepared.run(parameters);
      },
    };
  }
}

/**
 * mkdir -p, one level at a time: fs.mkdirSync with `recursive` loops forever where mkdir answers ENOENT for a
 * directory whose parent exists (under /proc, for one).
 */
function makeDirectories(directory: string): void {
  const missing: string[] = [];
  for (let current = directory; ; current = dirname(current)) {
    let stats: ReturnType<typeof statSync> | undefined;
    try {
      stats = statSync(current);
    } catch (error) {
      // ENOTDIR: a file is in the way further up; the walk finds it and says so.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw new Error(`cannot look at ${current}: ${errorMessage(error)}`, { cause: error });
    }
    if (stats !== undefined) {
      if (!stats.isDirectory()) throw new Error(`${current} is not a directory`);
      break;
    }
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const next of missing) {
    try {
      mkdirSync(next);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST" && statSync(next).isDirectory()) continue; // made meanwhile
      throw new Error(`cannot create the directory ${next}: ${errorMessage(error)}`, { cause: error });
    }
  }
}

/** Why the file or its directory cannot be used (SQLite writes beside the file in WAL mode), or undefined when nothing says. */
function whyNotWritable(path: string, readOnly: boolean): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `${path} is a directory`;
  } catch {
    // Not there yet: SQLite would create it, if the directory lets it.
  }
  const access = readOnly ? constants.R_OK : constants.R_OK | constants.W_OK;
  const targets: Array<[string, number]> = [
    [path, access],
    ...(readOnly ? [] : [[dirname(path), constants.W_OK | constants.X_OK] as [string, number]]),
  ];
  for (const [target, mode] of targets) {
    try {
      accessSync(target, mode);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      if (code === "EROFS") return `${target} is on a read-only file system`;
      if (code === "EACCES" || code === "EPERM") return `${target} is not ${readOnly ? "readable" : "writable"} by this user`;
      return `${target}: ${errorMessage(error)}`;
    }
  }
  return undefined;
}

/** False for ":memory:", "" (a private temporary database) and "file:" URIs, which have no directory to create. */
function isFilePath(path: string): boolean {
  return path !== ":memory:" && path !== "" && !path.startsWith("file:");
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Switching the journal mode needs a lock that SQLite does not always wait for with busy_timeout: when several
 * processes open a new file at once, the loser gets SQLITE_BUSY at once. Try again for up to the busy timeout.
 */
function execWhenUnlocked(db: DatabaseSync, sql: string): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.exec(sql);
      return;
    } catch (error) {
      if (!/locked|busy/i.test((error as Error).message) || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
