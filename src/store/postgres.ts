// The networked Store: PostgreSQL through a pg Pool, so several replicas share one inbox and outbox with SqliteStore's semantics.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { Pool, type PoolClient } from "pg";
import type { AlertmanagerPayload } from "../model/alertmanager.ts";
import { groupVerdictOf } from "../diagnosis/group-verdict.ts";
import type { Diagnosis } from "../model/diagnosis.ts";
import { LastWrite } from "./last-write.ts";
import { postgresMigrations } from "./migrations/postgres.ts";
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

export interface PostgresStoreOptions {
  /** Connections per replica. */
  maxConnections?: number;
  /** How long to wait for a connection before the call fails (and the receiver answers 503). */
  connectTimeoutMs?: number;
}

// Advisory lock keys. The one-bigint and the two-int4 forms are separate key spaces in PostgreSQL.
const MIGRATION_LOCK = 0x616c_6572_7465_6e72n; // "alertenr"
const DEDUP_LOCK_SPACE = 0x6465_6475; // "dedu"
const STORM_LOCK_SPACE = 0x7374_6f72; // "stor"

const DEFAULT_MAX_CONNECTIONS = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

type Queryable = Pick<PoolClient, "query">;

export function openPostgresStore(url: string, options: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore(url, options);
}

export class PostgresStore implements Store {
  /** The URL without its password, for messages. */
  readonly location: string;
  readonly #pool: Pool;
  readonly #secrets: string[];
  readonly #lastWrite: LastWrite;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.location = describeUrl(url);
    this.#secrets = secretsOf(url);
    this.#lastWrite = new LastWrite((error) => scrub(errorMessage(error), this.#secrets));
    this.#pool = new Pool({
      connectionString: url,
      max: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: "alert-enricher",
    });
    // An idle connection that the server drops (restart, failover) is reported here; without a listener the process
    // would crash. The pool discards that connection, and the next call that cannot connect throws to its caller.
    this.#pool.on("error", () => undefined);
    // pg-pool listens for a client's errors only while the client sits idle in the pool. A checked-out client (a
    // transaction in progress, or a query in flight) whose server goes away emits 'error' with no listener, and an
    // unhandled 'error' event ends the process: PostgreSQL restarting would take every replica down with it. So
    // each client listens for its whole life; the failure reaches the caller as its query's rejection (503 for a
    // webhook), and the client is released with the error so that the pool destroys it.
    this.#pool.on("connect", (client) => client.on("error", () => undefined));
  }

  async migrate(): Promise<void> {
    await this.#guard("cannot migrate the schema", () =>
      // The advisory lock serializes replicas starting at once: the second waits, then finds the versions recorded.
      this.#transaction(async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK.toString()]);
        await client.query(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        );
        const applied = new Set(
          (await client.query("SELECT version FROM schema_migrations")).rows.map((row) => integerColumn(row, "version")),
        );
        for (const migration of postgresMigrations) {
          if (applied.has(migration.version)) continue;
          await client.query(migration.sql);
          await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
            migration.version,
            migration.name,
            Date.now(),
          ]);
        }
      }),
    );
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
    const store = () =>
      this.#transaction(async (client) => {
        // Both Alertmanagers of an HA pair send the same notification at the same moment, often to different replicas.
        // The lock on the dedup key makes the second wait for the first to commit; its own lookup, a separate
        // statement and so a fresh snapshot under READ COMMITTED, then sees the stored row.
        await client.query("SELECT pg_advisory_xact_lock($1, $2)", [DEDUP_LOCK_SPACE, lockKey(input.dedupKey)]);
        const existing = await client.query(
          `SELECT id FROM notifications
            WHERE dedup_key = $1 AND received_at > $2::bigint - $3::bigint AND received_at < $2::bigint + $3::bigint
            ORDER BY received_at DESC, seq DESC LIMIT 1`,
          [input.dedupKey, receivedAt, input.dedupWindowMs],
        );
        const duplicate = existing.rows[0];
        if (duplicate !== undefined) return { id: textColumn(duplicate, "id"), duplicate: true };

        const id = randomUUID();
        await client.query(
          `INSERT INTO notifications (id, dedup_key, group_key, status, payload, received_at, attempts, cluster, firing)
           VALUES ($1, $2, $3, 'pending', $4, $5, 0, $6, $7)`,
          [id, input.dedupKey, input.payload.groupKey, payload, receivedAt, input.cluster ?? "", input.payload.status === "firing"],
        );
        return { id, duplicate: false };
      });
    return this.#guard("cannot store a notification", () =>
      this.#lastWrite.track("storing a notification", payload.length, store, (result) => !result.duplicate),
    );
  }

  async claimNotification(worker: string, leaseMs: number, now: Date = new Date()): Promise<StoredNotification | null> {
    const nowMs = now.getTime();
    return this.#guard("cannot claim a notification", async () => {
      // SKIP LOCKED: a replica passes over the row another replica is taking right now instead of waiting for it.
      const result = await this.#pool.query(
        `UPDATE notifications
            SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1
          WHERE id = (
            SELECT id FROM notifications
             WHERE status = 'pending' OR (status = 'running' AND lease_until < $3)
             ORDER BY received_at, seq LIMIT 1
             FOR UPDATE SKIP LOCKED)
          RETURNING id, dedup_key, payload, received_at, attempts`,
        [worker, nowMs + leaseMs, nowMs],
      );
      const row = result.rows[0];
      if (row === undefined) return null;
      return notificationFromRow(row);
    });
  }

  async completeNotification(id: string, diagnosis: Diagnosis, sinks: string[]): Promise<void> {
    const nowMs = Date.now();
    const diagnosisJson = JSON.stringify(diagnosis);
    const complete = () =>
      this.#transaction(async (client) => {
        // FOR UPDATE: a second worker completing the same notification waits here, then reads 'done'.
        const notification = (await client.query("SELECT status, group_key, received_at FROM notifications WHERE id = $1 FOR UPDATE", [id]))
          .rows[0];
        if (notification === undefined) throw new Error("it is not in the store");
        // A worker whose lease expired may finish after another worker already did; the first completion wins,
        // otherwise every sink would get the diagnosis twice.
        if (textColumn(notification, "status") === "done") return;

        await client.query(
          `UPDATE notifications
              SET status = 'done', diagnosis = $2, finished_at = $3, lease_owner = NULL, lease_until = NULL, verdict = $4
            WHERE id = $1`,
          [id, diagnosisJson, nowMs, JSON.stringify(groupVerdictOf(diagnosis))],
        );
        const uniqueSinks = [...new Set(sinks)];
        if (uniqueSinks.length === 0) return;
        // created_at is the notification's receipt time, not now: a group's deliveries go out in the order Alertmanager
        // sent them, even when a later notification (a quick resolve) finishes diagnosis before an earlier one.
        await client.query(
          `INSERT INTO deliveries (id, notification_id, group_key, sink, status, attempts, not_before, created_at)
           SELECT delivery.id, $1, $2, delivery.sink, 'pending', 0, $3::bigint, $4::bigint
             FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS delivery (id, sink, position)
            ORDER BY delivery.position`,
          [
            id,
            textColumn(notification, "group_key"),
            nowMs,
            integerColumn(notification, "received_at"),
            uniqueSinks.map(() => randomUUID()),
            uniqueSinks,
          ],
        );
      });
    await this.#guard(`cannot complete notification ${id}`, () =>
      this.#lastWrite.track("completing a diagnosis", diagnosisJson.length, complete),
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
    const exceptSinks = filter !== undefined && "exceptSinks" in filter ? filter.exceptSinks : null;
    return this.#guard("cannot claim a delivery", async () => {
      // A delivery waits while an earlier one of its (group, sink) is unfinished, or while another of them is in flight:
      // one alert group's messages reach a sink in order, and other groups and sinks are not held up. Across replicas
      // this holds because in any one snapshot only the earliest unfinished delivery of a (group, sink) qualifies, and
      // a replica that loses the race for it skips it (SKIP LOCKED) or, once it is committed as running, finds it no
      // longer qualifies when PostgreSQL re-checks the locked row.
      const result = await this.#pool.query(
        `WITH claimed AS (
           UPDATE deliveries
              SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1
            WHERE id = (
              SELECT d.id FROM deliveries d
               WHERE ((d.status = 'pending' AND d.not_before <= $3) OR (d.status = 'running' AND d.lease_until < $3))
                 AND ($4::text IS NULL OR d.sink = $4::text)
                 AND ($5::text[] IS NULL OR d.sink <> ALL ($5::text[]))
                 AND NOT EXISTS (
                   SELECT 1 FROM deliveries e
                    WHERE e.group_key = d.group_key AND e.sink = d.sink AND e.id <> d.id
                      AND e.status IN ('pending', 'running')
                      AND (e.created_at < d.created_at
                           OR (e.created_at = d.created_at AND e.seq < d.seq)
                           OR (e.status = 'running' AND e.lease_until >= $3)))
                 AND NOT EXISTS (
                   SELECT 1 FROM notifications n
                    WHERE n.group_key = d.group_key AND n.status IN ('pending', 'running') AND n.received_at < d.created_at)
               ORDER BY d.created_at, d.seq LIMIT 1
               FOR UPDATE SKIP LOCKED)
            RETURNING id, notification_id, group_key, sink, attempts)
         SELECT c.id, c.notification_id, c.group_key, c.sink, c.attempts, n.diagnosis
           FROM claimed c JOIN notifications n ON n.id = c.notification_id`,
        [worker, nowMs + leaseMs, nowMs, sink, exceptSinks],
      );
      const row = result.rows[0];
      if (row === undefined) return null;
      return deliveryFromRow(row);
    });
  }

  async finishDelivery(id: string, result: DeliveryResult): Promise<void> {
    const nowMs = Date.now();
    await this.#guard(`cannot finish delivery ${id}`, () =>
      this.#transaction(async (client) => {
        const delivery = (await client.query("SELECT status FROM deliveries WHERE id = $1 FOR UPDATE", [id])).rows[0];
        if (delivery === undefined) throw new Error("it is not in the store");
        const status = textColumn(delivery, "status");
        // After a lease expiry two workers can hold the same delivery. Once any of them delivered it, it stays delivered;
        // a retry or failure only counts from a worker that still finds it running, so a late report cannot undo a result.
        if (result.status === "delivered") {
          if (status === "delivered") return;
          await client.query(
            `UPDATE deliveries
                SET status = 'delivered', delivered_at = $2, lease_owner = NULL, lease_until = NULL
              WHERE id = $1`,
            [id, nowMs],
          );
          return;
        }
        if (status !== "running") return;
        if (result.status === "retry") {
          await client.query(
            `UPDATE deliveries
                SET status = 'pending', not_before = $2, last_error = $3, lease_owner = NULL, lease_until = NULL
              WHERE id = $1`,
            [id, result.notBefore.getTime(), result.error],
          );
          return;
        }
        await client.query(
          `UPDATE deliveries
              SET status = 'failed', last_error = $2, lease_owner = NULL, lease_until = NULL
            WHERE id = $1`,
          [id, result.error],
        );
      }),
    );
  }

  async getDiagnosis(notificationId: string): Promise<Diagnosis | null> {
    return this.#guard(`cannot read the diagnosis of notification ${notificationId}`, async () => {
      const row = (await this.#pool.query("SELECT diagnosis FROM notifications WHERE id = $1", [notificationId])).rows[0];
      if (row === undefined || row.diagnosis === null) return null;
      return parseJson<Diagnosis>(textColumn(row, "diagnosis"));
    });
  }

  async recentFiringGroups(query: { cluster: string; until: Date; windowMs: number }): Promise<RecentGroup[]> {
    return this.#guard("cannot read the recent alert groups", async () => {
      const until = query.until.getTime();
      const result = await this.#pool.query(
        `SELECT group_key, received_at, verdict FROM notifications
          WHERE firing AND cluster = $1 AND received_at > $2::bigint - $3::bigint AND received_at <= $2::bigint
          ORDER BY received_at, seq`,
        [query.cluster, until, Math.max(0, query.windowMs)],
      );
      return recentGroupsFromRows(result.rows);
    });
  }

  async joinStorm(input: {
    cluster: string;
    groups: { groupKey: string; firstReceivedAt: Date }[];
    at: Date;
    windowMs: number;
  }): Promise<{ id: string; openedAt: string }> {
    const join = stormJoin(input);
    return this.#guard(`cannot join the storm of cluster ${JSON.stringify(input.cluster)}`, () =>
      this.#transaction(async (client) => {
        // Replicas diagnosing groups of one cluster at once take turns here: the second waits for the first to commit,
        // then its lookup (a fresh snapshot under READ COMMITTED) finds the storm the first opened and joins it.
        await client.query("SELECT pg_advisory_xact_lock($1, $2)", [STORM_LOCK_SPACE, lockKey(input.cluster)]);
        const open = (
          await client.query(
            `SELECT id FROM storms WHERE cluster = $1 AND last_seen_at > $2::bigint - $3::bigint
              ORDER BY last_seen_at DESC, opened_at DESC LIMIT 1`,
            [input.cluster, join.at, join.windowMs],
          )
        ).rows[0];
        const id = open === undefined ? randomUUID() : textColumn(open, "id");
        const storm = (
          await client.query(
            open === undefined
              ? `INSERT INTO storms (id, cluster, opened_at, last_seen_at) VALUES ($1, $2, $3, $4) RETURNING opened_at`
              : `UPDATE storms SET last_seen_at = GREATEST(last_seen_at, $4), opened_at = LEAST(opened_at, $3)
                  WHERE id = $1 AND cluster = $2 RETURNING opened_at`,
            [id, input.cluster, join.earliest, join.at],
          )
        ).rows[0];
        if (storm === undefined) throw new Error(`storm ${id} vanished while being joined`);
        await client.query(
          `INSERT INTO storm_members (storm_id, group_key, first_received_at)
           SELECT $1, member.group_key, member.first_received_at
             FROM unnest($2::text[], $3::bigint[]) AS member (group_key, first_received_at)
           ON CONFLICT (storm_id, group_key) DO NOTHING`,
          [id, join.members.map((member) => member.groupKey), join.members.map((member) => member.firstReceivedAt)],
        );
        return { id, openedAt: new Date(integerColumn(storm, "opened_at")).toISOString() };
      }),
    );
  }

  async readStorm(id: string): Promise<StoredStorm | null> {
    return this.#guard(`cannot read storm ${id}`, async () => {
      const result = await this.#pool.query(
        `SELECT s.id, s.cluster, s.opened_at, s.last_seen_at, m.group_key, m.first_received_at,
                n.id AS notification_id, n.received_at, n.firing, n.verdict
           FROM storms s
           LEFT JOIN storm_members m ON m.storm_id = s.id
           LEFT JOIN notifications n ON n.id = (
             SELECT latest.id FROM notifications latest
              WHERE latest.group_key = m.group_key AND latest.status = 'done'
              ORDER BY latest.received_at DESC, latest.seq DESC LIMIT 1)
          WHERE s.id = $1
          ORDER BY m.first_received_at, m.group_key`,
        [id],
      );
      return stormFromRows(result.rows);
    });
  }

  async listDiagnoses(query: { since: Date; limit: number }): Promise<ListedDiagnosis[]> {
    return this.#guard("cannot list diagnoses", async () => {
      const result = await this.#pool.query(
        `SELECT id, received_at, diagnosis FROM notifications
          WHERE status = 'done' AND diagnosis IS NOT NULL AND received_at >= $1
          ORDER BY received_at DESC, seq DESC LIMIT $2`,
        [query.since.getTime(), Math.max(0, Math.floor(query.limit))],
      );
      return result.rows.map(listedFromRow);
    });
  }

  async pruneBefore(date: Date): Promise<number> {
    return this.#guard("cannot prune old notifications", async () => {
      // Deliveries go with their notification, and members with their storm (ON DELETE CASCADE). The storms go in the
      // same statement; its count is the notifications'.
      const result = await this.#pool.query(
        `WITH old_storms AS (DELETE FROM storms WHERE last_seen_at < $1)
         DELETE FROM notifications n
          WHERE n.status = 'done' AND n.received_at < $1
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id AND d.status IN ('pending', 'running'))`,
        [date.getTime()],
      );
      return result.rowCount ?? 0;
    });
  }

  async getSinkState(groupKey: string, sink: string): Promise<unknown> {
    return this.#guard(`cannot read the ${sink} state of an alert group`, async () => {
      const row = (await this.#pool.query("SELECT state FROM sink_state WHERE group_key = $1 AND sink = $2", [groupKey, sink])).rows[0];
      return row === undefined ? null : parseJson<unknown>(textColumn(row, "state"));
    });
  }

  async putSinkState(groupKey: string, sink: string, state: unknown): Promise<void> {
    await this.#guard(`cannot store the ${sink} state of an alert group`, () =>
      this.#pool.query(
        `INSERT INTO sink_state (group_key, sink, state, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_key, sink) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
        [groupKey, sink, JSON.stringify(state), Date.now()],
      ),
    );
  }

  async putSinkStateIfAbsent(groupKey: string, sink: string, state: unknown): Promise<boolean> {
    return this.#guard(`cannot store the ${sink} state of an alert group`, async () => {
      const result = await this.#pool.query(
        `INSERT INTO sink_state (group_key, sink, state, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_key, sink) DO NOTHING`,
        [groupKey, sink, JSON.stringify(state), Date.now()],
      );
      return result.rowCount === 1;
    });
  }

  async renewDeliveryLease(id: string, worker: string, leaseMs: number, now: Date = new Date()): Promise<boolean> {
    return this.#guard(`cannot renew the lease of delivery ${id}`, async () => {
      const result = await this.#pool.query(
        "UPDATE deliveries SET lease_until = $3 WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        [id, worker, now.getTime() + leaseMs],
      );
      return result.rowCount === 1;
    });
  }

  async queueDepth(): Promise<QueueDepth> {
    return this.#guard("cannot count the queues", async () => {
      const row = (
        await this.#pool.query(
          `SELECT (SELECT count(*) FROM notifications WHERE status IN ('pending', 'running')) AS notifications,
                  (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'running')) AS deliveries`,
        )
      ).rows[0];
      if (row === undefined) throw new Error("the queue depth query returned no row");
      return { notifications: integerColumn(row, "notifications"), deliveries: integerColumn(row, "deliveries") };
    });
  }

  async checkWritable(): Promise<void> {
    const failure = this.#lastWrite.failure;
    if (failure === undefined) {
      // A real write: a read-only standby or a database set read-only still answers reads.
      await this.#guard("cannot take a write", () =>
        this.#pool.query("INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at", [Date.now()]),
      );
      return;
    }
    // The last real write failed: only a write as large as it, committed, shows that such writes fit again.
    const bytes = this.#lastWrite.probeBytes(failure);
    await this.#guard(`cannot take a write: ${this.#lastWrite.describe(failure)}`, async () => {
      await this.#pool.query(
        "INSERT INTO write_probe (id, filler) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET filler = excluded.filler",
        [randomBytes(bytes)],
      );
      await this.#pool.query("DELETE FROM write_probe");
    });
    this.#lastWrite.recovered(failure);
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  async #transaction<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // The connection's own failure (the server went away while we held it), kept to release the client with it.
    let lost: Error | undefined;
    const onError = (error: Error) => {
      lost ??= error;
    };
    client.on("error", onError);
    try {
      // Explicit, whatever the server's default: the dedup check relies on each statement taking a fresh snapshot.
      await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      if (lost === undefined) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackError) {
          lost = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        }
      }
      throw error;
    } finally {
      client.removeListener("error", onError);
      // Released with an error, the client is destroyed rather than handed to the next caller half-dead.
      client.release(lost);
    }
  }

  /** Runs `work`; its failure is rethrown naming the action and the database, with the URL's password scrubbed. */
  async #guard<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const message = scrub(errorMessage(error), this.#secrets);
      // The original error is kept as the cause for its code and stack, unless something in it carries the password.
      const leaks = this.#secrets.some((secret) => inspect(error, { depth: 4 }).includes(secret));
      throw new Error(`PostgreSQL store ${this.location} ${action}: ${message}`, leaks ? undefined : { cause: error });
    }
  }
}

/** user@host:port/database, the URL without scheme, password or parameters. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username === "" ? "" : `${decodeURIComponent(parsed.username)}@`;
    return `${user}${parsed.host}${parsed.pathname}`;
  } catch {
    return "(unparseable URL)";
  }
}

/** The password, as written in the URL and decoded, in the user-info part or as a password= parameter. */
function secretsOf(url: string): string[] {
  const found: string[] = [];
  const userInfo = /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i.exec(url)?.[1];
  if (userInfo) found.push(userInfo);
  const parameter = /[?&]password=([^&#]*)/i.exec(url)?.[1];
  if (parameter) found.push(parameter);
  for (const secret of [...found]) {
    try {
      found.push(decodeURIComponent(secret));
    } catch {
      // Not valid percent-encoding: the raw form is all there is.
    }
  }
  return [...new Set(found)].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
}

function scrub(text: string, secrets: string[]): string {
  let scrubbed = text;
  for (const secret of secrets) scrubbed = scrubbed.split(secret).join("***");
  return scrubbed;
}

/** A 32-bit lock key from a dedup key or a cluster; a collision only makes two unrelated writes wait for each other. */
function lockKey(text: string): number {
  return createHash("sha256").update(text).digest().readInt32BE(0);
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.message === "") return error.errors.map(errorMessage).join("; ");
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  // Node's connection errors name the address in the message; PostgreSQL's carry their SQLSTATE only as a code.
  return error.message === "" && typeof code === "string" ? code : error.message;
}
