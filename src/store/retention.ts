// Retention: done notifications older than REPORT_RETENTION_DAYS go, at start and then every hour.
import type { Logger } from "pino";
import type { Store } from "./store.ts";

const PRUNE_EVERY_MS = 3_600_000;

export interface Retention {
  stop(): void;
}

/** Prunes once (awaited, so the service starts without last month's notifications), then every hour until stopped. */
export async function startRetention(store: Store, retentionDays: number, logger: Logger): Promise<Retention> {
  const prune = () =>
    store.pruneBefore(new Date(Date.now() - retentionDays * 86_400_000)).then(
      (deleted) => {
        if (deleted > 0) logger.info({ deleted, retentionDays }, "pruned old notifications");
      },
      (error: unknown) => logger.warn({ err: error }, "could not prune old notifications"),
    );
  await prune();
  const pruning = setInterval(() => void prune(), PRUNE_EVERY_MS);
  pruning.unref();
  return { stop: () => clearInterval(pruning) };
}
