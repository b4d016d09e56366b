// PostgresStore: the shared Store conformance suite on a real PostgreSQL, plus what only a shared server has (several replicas).
import { inspect } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { postgresMigrations } from "../../src/store/migrations/postgres.ts";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres.ts";
import type { Store, StoredDelivery } from "../../src/store/store.ts";
import { startPostgres, type PostgresServer } from "../support/postgres-server.ts";
import { alertPayload, describeStoreConformance, diagnosisOf, type FullDisk } from "./store-conformance.ts";

const LEASE_MS = 30_000;

let server: PostgresServer;
let databaseCount = 0;
// CREATE DATABASE takes a few hundred milliseconds; the next test's database is made while the current test runs.
let spareDatabase: Promise<string> | undefined;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await spareDatabase?.catch(() => undefined);
  await server?.stop();
});

function createDatabase(): Promise<string> {
  databaseCount += 1;
  const created = server.createDatabase(`store_${databaseCount}`);
  // A spare that is never used must not fail the run as an unhandled rejection; a used one is awaited and reports.
  created.catch(() => undefined);
  return created;
}

async function freshDatabase(): Promise<string> {
  const next = spareDatabase ?? createDatabase();
  spareDatabase = createDatabase();
  return next;
}

const databaseOf = new WeakMap<Store, string>();

async function execute(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * PostgreSQL fails a write it has no space for with SQLSTATE 53100 (disk_full) when it extends a table's file. A trigger
 * raises exactly that on the tables real writes extend, so the error takes the real path through the driver; the
 * heartbeat's table has none, as a row rewritten within its page needs no new space.
 */
const fullDisk: FullDisk = {
  async fill(store) {
    await execute(
      databaseOf.get(store) ?? "",
      `CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'could not extend file "base/16384/16398": No space left on device'
           USING ERRCODE = 'disk_full', HINT = 'Check free disk space.';
       END $$;
       CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON notifications FOR EACH ROW EXECUTE FUNCTION disk_full();
       CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION disk_full();
       CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON write_probe FOR EACH ROW EXECUTE FUNCTION disk_full();`,
    );
  },
  async free(store) {
    await execute(databaseOf.get(store) ?? "", "DROP FUNCTION disk_full() CASCADE");
  },
  message: /No space left on device/,
};

describeStoreConformance(
  "PostgresStore",
  async () => {
    const url = await freshDatabase();
    const store = openPostgresStore(url);
    databaseOf.set(store, url);
    return store;
  },
  fullDisk,
);

describe("PostgresStore shared by replicas", () => {
  const opened: PostgresStore[] = [];

  function open(url: string, options: Parameters<typeof openPostgresStore>[1] = {}): PostgresStore {
    const store = openPostgresStore(url, options);
    opened.push(store);
    return store;
  }

  async function twoReplicas(): Promise<[PostgresStore, PostgresStore]> {
    const url = await freshDatabase();
    const first = open(url);
    const second = open(url);
    await first.migrate();
    return [first, second];
  }

  async function query(url: string, sql: string): Promise<pg.QueryResultRow[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });

  it("two replicas claiming at once take every notification and every delivery exactly once", async () => {
    const [first, second] = await twoReplicas();
    const receivedAt = Date.now() - 60_000;
    for (let i = 0; i < 100; i++) {
      await first.insertNotification({
        dedupKey: `key-${i}`,
        payload: alertPayload(`group-${i}`),
        receivedAt: new Date(receivedAt + i),
        dedupWindowMs: 60_000,
      });
    }

    // Four claim loops per replica, each on its own connection.
    const drain = async <T>(claim: () => Promise<T | null>): Promise<T[]> => {
      const taken: T[] = [];
      for (let item = await claim(); item !== null; item = await claim()) taken.push(item);
      return taken;
    };
    const loops = <T>(claim: (store: PostgresStore, worker: string) => Promise<T | null>) =>
      Promise.all(
        [first, second].flatMap((store, replica) =>
          Array.from({ length: 4 }, (_, loop) => drain(() => claim(store, `replica-${replica}-${loop}`))),
        ),
      );

    const notifications = (await loops((store, worker) => store.claimNotification(worker, LEASE_MS))).flat();
    expect(notifications).toHaveLength(100);
    expect(new Set(notifications.map((n) => n.id)).size).toBe(100);

    for (const notification of notifications) {
      await first.completeNotification(notification.id, diagnosisOf(notification.id, notification.payload), ["slack"]);
    }
    const deliveries = (await loops((store, worker) => store.claimDelivery(worker, LEASE_MS))).flat();
    expect(deliveries).toHaveLength(100);
    expect(new Set(deliveries.map((d) => d.id)).size).toBe(100);
    expect(deliveries.every((delivery) => delivery.attempts === 1)).toBe(true);
  });

  it("two replicas with claim loops per sink take every delivery exactly once, each through a loop of its own sink", async () => {
    const [first, second] = await twoReplicas();
    const receivedAt = Date.now() - 60_000;
    const sinks = ["slack", "pagerduty"];
    for (let i = 0; i < 50; i++) {
      const payload = alertPayload(`group-${i}`);
      const { id } = await first.insertNotification({
        dedupKey: `key-${i}`,
        payload,
        receivedAt: new Date(receivedAt + i),
        dedupWindowMs: 1,
      });
      await first.claimNotification("worker", LEASE_MS);
      await first.completeNotification(id, diagnosisOf(id, payload), sinks);
    }

    // Two loops per sink on each replica, as the delivery worker runs them.
    const taken = await Promise.all(
      [first, second].flatMap((store, replica) =>
        sinks.flatMap((sink) =>
          [0, 1].map(async (loop) => {
            const mine: StoredDelivery[] = [];
            for (;;) {
              const delivery = await store.claimDelivery(`replica-${replica}-${sink}-${loop}`, LEASE_MS, new Date(), { sink });
              if (delivery === null) return { sink, mine };
              mine.push(delivery);
            }
          }),
        ),
      ),
    );
    const all = taken.flatMap((loop) => loop.mine);
    expect(all).toHaveLength(100);
    expect(new Set(all.map((delivery) => delivery.id)).size).toBe(100);
    expect(taken.every((loop) => loop.mine.every((delivery) => delivery.sink === loop.sink))).toBe(true);
  });

  it("two replicas sending one alert group's deliveries send them in order, one at a time", async () => {
    const [first, second] = await twoReplicas();
    const start = Date.now() - 60_000;
    const ids: string[] = [];
    for (let i = 0; i < 15; i++) {
      const payload = alertPayload("group-a");
      const { id } = await first.insertNotification({ dedupKey: `key-${i}`, payload, receivedAt: new Date(start + i), dedupWindowMs: 1 });
      ids.push(id);
    }
    for (let i = 0; i < ids.length; i++) {
      const claimed = await first.claimNotification("worker", LEASE_MS);
      expect(claimed?.id).toBe(ids[i]);
    }
    // Completed newest first, as if the later notifications were diagnosed sooner.
    for (const id of [...ids].reverse()) await first.completeNotification(id, diagnosisOf(id, alertPayload("group-a")), ["slack"]);

    const sent: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const sender = async (store: PostgresStore, worker: string) => {
      while (sent.length < ids.length) {
        const delivery: StoredDelivery | null = await store.claimDelivery(worker, LEASE_MS);
        if (delivery === null) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          continue;
        }
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        sent.push(delivery.notificationId);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight -= 1;
        await store.finishDelivery(delivery.id, { status: "delivered" });
      }
    };
    await Promise.all([sender(first, "a1"), sender(first, "a2"), sender(second, "b1"), sender(second, "b2")]);

    expect(sent).toEqual(ids);
    expect(mostInFlight).toBe(1);
  });

  async function sendEachNotificationToBothReplicas(first: PostgresStore, second: PostgresStore): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const receivedAt = new Date();
      const insert = (store: PostgresStore) =>
        store.insertNotification({ dedupKey: `ha-${i}`, payload: alertPayload(`group-${i}`), receivedAt, dedupWindowMs: 60_000 });
      const results = await Promise.all([insert(first), insert(second)]);

      expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
      expect(results[0]?.id).toBe(results[1]?.id);
    }
    expect((await second.queueDepth()).notifications).toBe(50);
  }

  it("the same notification sent to two replicas at the same moment is stored once", async () => {
    const [first, second] = await twoReplicas();
    await sendEachNotificationToBothReplicas(first, second);
  });

  it("the same notification sent to two replicas is stored once even when the database defaults to repeatable read", async () => {
    const url = await freshDatabase();
    await query(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET default_transaction_isolation = 'repeatable read'`);
    const first = open(url);
    const second = open(url);
    await first.migrate();
    await sendEachNotificationToBothReplicas(first, second);
  });

  it("four replicas migrating a new database at once all succeed and apply each migration once", async () => {
    const url = await freshDatabase();
    const stores = Array.from({ length: 4 }, () => open(url));
    await Promise.all(stores.map((store) => store.migrate()));

    const versions = await query(url, "SELECT version FROM schema_migrations ORDER BY version");
    expect(versions.map((row) => row.version)).toEqual(postgresMigrations.map((migration) => migration.version));
    await expect(stores[3]?.queueDepth()).resolves.toEqual({ notifications: 0, deliveries: 0 });
  });

  it("work leased by a replica that died is taken over by another once the lease expires", async () => {
    const url = await freshDatabase();
    const dying = open(url);
    const survivor = open(url);
    await dying.migrate();
    const payload = alertPayload("group-a");
    const { id } = await dying.insertNotification({ dedupKey: "key", payload, receivedAt: new Date(), dedupWindowMs: 60_000 });
    await dying.claimNotification("dying", 300);
    await dying.close();

    await expect(survivor.claimNotification("survivor", LEASE_MS)).resolves.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 350));
    const taken = await survivor.claimNotification("survivor", LEASE_MS);
    expect(taken).toMatchObject({ id, attempts: 2 });

    await survivor.completeNotification(id, diagnosisOf(id, payload), ["slack"]);
    const dyingSender = open(url);
    await dyingSender.claimDelivery("dying", 300);
    await dyingSender.close();
    await expect(survivor.claimDelivery("survivor", LEASE_MS)).resolves.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 350));
    await expect(survivor.claimDelivery("survivor", LEASE_MS)).resolves.toMatchObject({ notificationId: id, attempts: 2 });
  });

  it("replicas joining one cluster's storm at once all join the same storm", async () => {
    const [first, second] = await twoReplicas();
    // Connections opened beforehand, so that the joins run side by side rather than one per new connection.
    await Promise.all([first, second].flatMap((store) => Array.from({ length: 5 }, () => store.queueDepth())));
    const at = new Date();
    const joins = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? first : second).joinStorm({
        cluster: "prod-eu",
        groups: [{ groupKey: `group-${i}`, firstReceivedAt: new Date(at.getTime() - i * 1000) }],
        at,
        windowMs: 5 * 60_000,
      }),
    );

    const joined = await Promise.all(joins);
    const ids = new Set(joined.map((join) => join.id));
    expect(ids.size).toBe(1);
    const storm = await first.readStorm([...ids][0] ?? "");
    expect(storm?.members).toHaveLength(10);
    expect(storm?.openedAt).toBe(new Date(at.getTime() - 9000).toISOString());
  });

  it("a payload with a NUL character and non-ASCII text comes back exactly as stored", async () => {
    const [store] = await twoReplicas();
    const payload = alertPayload("group-a");
    payload.commonAnnotations = { summary: "etcd says \u0000 — ошибка 🔥" };
    await store.insertNotification({ dedupKey: "key", payload, receivedAt: new Date(), dedupWindowMs: 60_000 });

    expect((await store.claimNotification("worker", LEASE_MS))?.payload).toEqual(payload);
  });

  it("checkWritable throws a clear error when the database only takes reads", async () => {
    const url = await freshDatabase();
    const writable = open(url);
    await writable.migrate();
    await query(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET default_transaction_read_only = on`);

    const readOnly = open(url);
    await expect(readOnly.checkWritable()).rejects.toThrow(/cannot take a write: cannot execute INSERT in a read-only transaction/);
    await expect(readOnly.queueDepth()).resolves.toEqual({ notifications: 0, deliveries: 0 });
  });

  it("an unreachable database fails every call with an error that names it but never shows the password", async () => {
    const store = open("postgres://u:s3cretpw@127.0.0.1:1/x", { connectTimeoutMs: 2000 });
    const calls = [
      store.migrate(),
      store.insertNotification({ dedupKey: "k", payload: alertPayload("g"), receivedAt: new Date(), dedupWindowMs: 1 }),
      store.claimNotification("worker", LEASE_MS),
      store.checkWritable(),
    ];
    for (const call of calls) {
      const error = await call.then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/u@127\.0\.0\.1:1\/x .*ECONNREFUSED/);
      expect(inspect(error, { depth: 10 })).not.toContain("s3cretpw");
    }
  });

  it("a malformed URL fails calls with an error that does not show the password", async () => {
    const store = open("postgres://u:s3cretpw@127.0.0.1:notaport/x", { connectTimeoutMs: 2000 });
    const error = await store.checkWritable().then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(Error);
    expect(inspect(error, { depth: 10 })).not.toContain("s3cretpw");
  });
});
