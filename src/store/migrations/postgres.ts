// The PostgreSQL schema as an ordered list of migrations; PostgresStore.migrate() applies the ones a database has not seen yet.
// The same tables as the SQLite migrations of the same version. Never edit a migration that has shipped: append a new one.
// Times are epoch milliseconds (BIGINT), as in SQLite, so lease and window comparisons are the same integer comparisons
// and both stores take their clock from the caller. Payloads, diagnoses and sink state are TEXT holding JSON, not JSONB:
// JSONB rejects the \u0000 escape that JSON.stringify writes for a NUL in an annotation, and TEXT returns exactly what was stored.

export interface PostgresMigration {
  /** Strictly increasing, starting at 1. Recorded in schema_migrations once applied. */
  version: number;
  name: string;
  sql: string;
}

export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: "notifications and deliveries",
    sql: `
      -- seq stands in for SQLite's rowid: the tie-break between rows received in the same millisecond.
      CREATE TABLE notifications (
        id          TEXT    PRIMARY KEY,
        seq         BIGINT  GENERATED ALWAYS AS IDENTITY,
        dedup_key   TEXT    NOT NULL,
        group_key   TEXT    NOT NULL,
        status      TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
        payload     TEXT    NOT NULL,
        received_at BIGINT  NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until BIGINT,
        diagnosis   TEXT,
        finished_at BIGINT
      );
      -- Partial indexes: done notifications pile up, and claims and the group-order check only look at unfinished ones.
      CREATE INDEX notifications_claim ON notifications (received_at, seq) WHERE status IN ('pending', 'running');
      CREATE INDEX notifications_group_unfinished ON notifications (group_key, received_at) WHERE status IN ('pending', 'running');
      CREATE INDEX notifications_dedup ON notifications (dedup_key, received_at);

      CREATE TABLE deliveries (
        id              TEXT    PRIMARY KEY,
        seq             BIGINT  GENERATED ALWAYS AS IDENTITY,
        notification_id TEXT    NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
        group_key       TEXT    NOT NULL,
        sink            TEXT    NOT NULL,
        status          TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        not_before      BIGINT  NOT NULL,
        lease_owner     TEXT,
        lease_until     BIGINT,
        last_error      TEXT,
        created_at      BIGINT  NOT NULL,
        delivered_at    BIGINT
      );
      CREATE INDEX deliveries_claim ON deliveries (created_at, seq) WHERE status IN ('pending', 'running');
      CREATE INDEX deliveries_group_unfinished ON deliveries (group_key, sink, created_at) WHERE status IN ('pending', 'running');
      CREATE INDEX deliveries_notification ON deliveries (notification_id);

      CREATE TABLE heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at BIGINT  NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "sink state per alert group",
    sql: `
      -- What a sink remembers about one alert group between deliveries: the Slack message ts to update, the last
      -- PagerDuty note's digest. Kept per group so it survives restarts and is shared by replicas.
      CREATE TABLE sink_state (
        group_key  TEXT   NOT NULL,
        sink       TEXT   NOT NULL,
        state      TEXT   NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (group_key, sink)
      );
    `,
  },
  {
    version: 3,
    name: "write probe for readiness",
    sql: `
      -- After a real write failed (a full disk), readiness writes a row as large as that write here and deletes it:
      -- the heartbeat's one small row is rewritten in place and fits even when nothing else does.
      CREATE TABLE write_probe (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        filler BYTEA  NOT NULL
      );
      -- Random bytes do not compress: stored as they are, so a probe takes the space it claims.
      ALTER TABLE write_probe ALTER COLUMN filler SET STORAGE EXTERNAL;
    `,
  },
  {
    version: 4,
    name: "cluster, firing and verdict for storms",
    sql: `
      -- A storm is counted from the firing groups of one cluster received within a window (README, "Storms"): the
      -- cluster and status are kept beside the payload, and each diagnosis's one-line verdict beside the diagnosis,
      -- so counting reads a few small columns over the window's rows instead of parsing payloads and diagnoses.
      ALTER TABLE notifications ADD COLUMN cluster TEXT NOT NULL DEFAULT '';
      ALTER TABLE notifications ADD COLUMN firing BOOLEAN NOT NULL DEFAULT false;
      ALTER TABLE notifications ADD COLUMN verdict TEXT;
      CREATE INDEX notifications_storm ON notifications (cluster, received_at) WHERE firing;
    `,
  },
  {
    version: 5,
    name: "storms and their members",
    sql: `
      -- A storm keeps its identity while its cluster's groups keep arriving within the storm window (README, "Storms"),
      -- so that every replica tells it as one story and the sinks update one message instead of posting a new one.
      CREATE TABLE storms (
        id           TEXT   PRIMARY KEY,
        cluster      TEXT   NOT NULL,
        opened_at    BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
      );
      CREATE INDEX storms_open ON storms (cluster, last_seen_at);

      CREATE TABLE storm_members (
        storm_id          TEXT   NOT NULL REFERENCES storms (id) ON DELETE CASCADE,
        group_key         TEXT   NOT NULL,
        first_received_at BIGINT NOT NULL,
        PRIMARY KEY (storm_id, group_key)
      );

      -- Reading a storm looks up each member's latest done notification.
      CREATE INDEX notifications_group_done ON notifications (group_key, received_at) WHERE status = 'done';
    `,
  },
];
