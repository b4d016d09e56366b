// SqliteStore: the shared Store conformance suite, plus what only a file database has (restart, several processes, read-only files).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { sqliteMigrations } from "../../src/store/migrations/sqlite.ts";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite.ts";
import { alertPayload, describeStoreConformance, diagnosisOf, type FullDisk } from "./store-conformance.ts";

const runFile = promisify(execFile);
const tempRoot = mkdtempSync(join(tmpdir(), "alert-enricher-sqlite-"));
let databaseCount = 0;

function freshDatabasePath(): string {
  databaseCount += 1;
  return join(tempRoot, `store-${databaseCount}`, "enricher.db");
}

afterAll(() => {
  rmSync(tempRoot, { recursive: true, force: true });
});

/** PRAGMA max_page_count: the next write needing a new page fails with SQLITE_FULL, as on a full disk. */
const fullDisk: FullDisk = {
  fill: async (store) => (store as SqliteStore).simulateFullDisk(true),
  free: async (store) => (store as SqliteStore).simulateFullDisk(false),
  message: /database or disk is full/,
};

describeStoreConformance("SqliteStore on a file", async () => openSqliteStore(freshDatabasePath()), fullDisk);
describeStoreConformance("SqliteStore in memory", async () => openSqliteStore(":memory:"), fullDisk);
describeStoreConformance(
  "SqliteStore without group commit",
  async () => openSqliteStore(freshDatabasePath(), { groupCommit: false }),
  fullDisk,
);

describe("SqliteStore on a file", () => {
  const opened: SqliteStore[] = [];

  function open(path: string, options: { readOnly?: boolean } = {}): SqliteStore {
    const store = openSqliteStore(path, options);
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });

  it("stores the notifications sent together even when one of them cannot be stored, and refuses only that one", async () => {
    const store = open(freshDatabasePath());
    await store.migrate();
    const insert = (groupKey: string, dedupKey: string) =>
      store.insertNotification({ dedupKey, payload: alertPayload(groupKey), receivedAt: new Date(), dedupWindowMs: 60_000 });

    const [first, broken, last] = await Promise.allSettled([
      insert("group-a", "key-a"),
      // A value SQLite cannot bind, so this insert fails inside the shared transaction.
      insert("group-b", undefined as unknown as string),
      insert("group-c", "key-c"),
    ]);

    expect(first).toMatchObject({ status: "fulfilled", value: { duplicate: false } });
    expect(broken.status).toBe("rejected");
    expect(last).toMatchObject({ status: "fulfilled", value: { duplicate: false } });
    expect((await store.queueDepth()).notifications).toBe(2);
  });

  it("creates the parent directory and puts the file in WAL mode", async () => {
    const path = freshDatabasePath();
    await open(path).migrate();

    expect(existsSync(path)).toBe(true);
    const inspector = new DatabaseSync(path, { readOnly: true });
    try {
      expect(inspector.prepare("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    } finally {
      inspector.close();
    }
  });

  it("keeps a notification across closing and reopening the file", async () => {
    const path = freshDatabasePath();
    const before = open(path);
    await before.migrate();
    const payload = alertPayload("group-restart");
    const { id } = await before.insertNotification({ dedupKey: "restart", payload, receivedAt: new Date(), dedupWindowMs: 60_000 });
    await before.close();

    const after = open(path);
    await after.migrate();
    const claimed = await after.claimNotification("worker-after-restart", 30_000);
    expect(claimed).toMatchObject({ id, dedupKey: "restart", payload, attempts: 1 });
  });

  it("keeps pending deliveries and diagnoses across a restart", async () => {
    const path = freshDatabasePath();
    const before = open(path);
    await before.migrate();
    const payload = alertPayload("group-restart");
    const { id } = await before.insertNotification({ dedupKey: "restart", payload, receivedAt: new Date(), dedupWindowMs: 60_000 });
    await before.claimNotification("worker", 30_000);
    await before.completeNotification(id, diagnosisOf(id, payload), ["slack"]);
    await before.close();

    const after = open(path);
    expect((await after.getDiagnosis(id))?.groupKey).toBe("group-restart");
    expect(await after.claimDelivery("sender", 30_000)).toMatchObject({ notificationId: id, sink: "slack" });
  });

  it("records each migration once however often it runs", async () => {
    const path = freshDatabasePath();
    const store = open(path);
    await store.migrate();
    await store.migrate();

    const inspector = new DatabaseSync(path, { readOnly: true });
    try {
      const versions = inspector.prepare("SELECT version FROM schema_migrations ORDER BY version").all();
      expect(versions.map((row) => row.version)).toEqual(sqliteMigrations.map((migration) => migration.version));
    } finally {
      inspector.close();
    }
  });

  it("two stores on the same file both migrate and share one queue", async () => {
    const path = freshDatabasePath();
    const first = open(path);
    const second = open(path);
    await Promise.all([first.migrate(), second.migrate()]);

    await first.insertNotification({
      dedupKey: "shared",
      payload: alertPayload("group-shared"),
      receivedAt: new Date(),
      dedupWindowMs: 60_000,
    });
    const duplicate = await second.insertNotification({
      dedupKey: "shared",
      payload: alertPayload("group-shared"),
      receivedAt: new Date(),
      dedupWindowMs: 60_000,
    });
    expect(duplicate.duplicate).toBe(true);

    expect(await second.claimNotification("worker-2", 30_000)).not.toBeNull();
    await expect(first.claimNotification("worker-1", 30_000)).resolves.toBeNull();
  });

  it("several processes migrating a new file at once all succeed", async () => {
    const path = freshDatabasePath();
    const storeModule = fileURLToPath(new URL("../../src/store/sqlite.ts", import.meta.url));
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(storeModule)});
      const store = openSqliteStore(process.argv[1]);
      await store.migrate();
      await store.close();
    `;
    await Promise.all(
      Array.from({ length: 4 }, () => runFile(process.execPath, ["--no-warnings", "--input-type=module", "-e", script, path])),
    );

    const store = open(path);
    await store.migrate();
    await expect(store.queueDepth()).resolves.toEqual({ notifications: 0, deliveries: 0 });
  });

  it("checkWritable throws a clear error when the database is read-only", async () => {
    const path = freshDatabasePath();
    const writable = open(path);
    await writable.migrate();
    await writable.close();

    const readOnly = open(path, { readOnly: true });
    await expect(readOnly.checkWritable()).rejects.toThrow(/cannot take a write.*readonly/i);
    await expect(readOnly.queueDepth()).resolves.toEqual({ notifications: 0, deliveries: 0 });
  });
});
