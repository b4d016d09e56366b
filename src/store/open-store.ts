// The store DATABASE_URL names, opened and migrated at start.
import { ConfigError } from "../config.ts";
import type { Store } from "./store.ts";

/** Loads only the store DATABASE_URL names: a SQLite deployment never loads the PostgreSQL client (pg), nor the reverse. */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith("sqlite:")) {
    const { openSqliteStore } = await import("./sqlite.ts");
    return openSqliteStore(databaseUrl.slice("sqlite:".length));
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const { openPostgresStore } = await import("./postgres.ts");
    return openPostgresStore(databaseUrl);
  }
  // Never echo the URL: it may hold a password.
  throw new ConfigError("DATABASE_URL must be sqlite:PATH or postgres://…");
}

/**
 * Opens the store and brings its schema up to date. A store that cannot be opened at start (a directory that cannot
 * be created, a read-only volume, PostgreSQL refusing connections) is a configuration problem: one line naming
 * DATABASE_URL and the cause, exit 2, never a stack trace. The stores' messages carry a path or user@host/database,
 * never a password.
 */
export async function openMigratedStore(databaseUrl: string, given?: Store): Promise<Store> {
  const unusable = (error: unknown) =>
    error instanceof ConfigError
      ? error
      : new ConfigError(`DATABASE_URL: ${(error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")}`);
  let store: Store;
  try {
    store = given ?? (await openStore(databaseUrl));
  } catch (error) {
    throw unusable(error);
  }
  try {
    await store.migrate();
  } catch (error) {
    if (given === undefined) await store.close().catch(() => undefined);
    throw unusable(error);
  }
  return store;
}
