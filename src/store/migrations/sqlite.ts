// The SQLite schema as an ordered list of migrations; SqliteStore.migrate() applies the ones a database has not seen yet.
// Never edit a migration that has shipped: append a new one. Times are epoch milliseconds (INTEGER) so that lease and
// window comparisons are plain integer comparisons.

export interface SqliteMigration {
  /** Strictly increasing, starting at 1. Recorded in schema_migrations once applied. */
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: "notifications and deliveries",
    sql: `
      CREATE TABLE notifications (
        id          TEXT    PRIMARY KEY,
        dedup_key   TEXT    NOT NULL,
        group_key   TEXT    NOT NULL,
        status      TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
        payload     TEXT    NOT NULL,
        received_at INTEGER NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_until INTEGER,
        diagnosis   TEXT,
        finished_at INTEGER
      );
      CREATE INDEX notifications_claim ON notifications (status, received_at);
      CREATE INDEX notifications_dedup ON notifications (dedup_key, received_at);

      CREATE TABLE deliveries (
        id              TEXT    PRIMARY KEY,
        notification_id TEXT    NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
        group_key       TEXT    NOT NULL,
        sink            TEXT    NOT NULL,
        status          TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'delivered', 'failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        not_before      INTEGER NOT NULL,
        lease_owner     TEXT,
        lease_until     INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        delivered_at    INTEGER
      );
      CREATE INDEX deliveries_claim ON deliveries (status, not_before);
      CREATE INDEX deliveries_group_order ON deliveries (group_key, sink, status, created_at);
      CREATE INDEX deliveries_notification ON deliveries (notification_id);

      CREATE TABLE heartbeat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        at INTEGER NOT NULL
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
        group_key  TEXT    NOT NULL,
        sink       TEXT    NOT NULL,
        state      TEXT    NOT NULL,
        updated_at INTEGER NOT NULL,
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
        filler BLOB   NOT NULL
      );
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
      ALTER TABLE notifications ADD COLUMN firing INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE notifications ADD COLUMN verdict TEXT;
      CREATE INDEX notifications_storm ON notifications (cluster, received_at) WHERE firing = 1;
    `,
  },
  {
    version: 5,
    name: "storms and their members",
    sql: `
      -- A storm keeps its identity while its cluster's groups keep arriving within the storm window (README, "Storms"),
      -- so that every replica tells it as one story and the sinks update one message instead of posting a new one.
      CREATE TABLE storms (
        id           TEXT    PRIMARY KEY,
        cluster      TEXT    NOT NULL,
        opened_at    INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      );
      CREATE INDEX storms_open ON storms (cluster, last_seen_at);

      CREATE TABLE storm_members (
        storm_id          TEXT    NOT NULL REFERENCES storms (id) ON DELETE CASCADE,
        group_key         TEXT    NOT NULL,
        first_received_at INTEGER NOT NULL,
        PRIMARY KEY (storm_id, group_key)
      );

      -- Reading a storm looks up each member's latest done notification.
      CREATE INDEX notifications_group_done ON notifications (group_key, received_at) WHERE status = 'done';
    `,
  },
];
