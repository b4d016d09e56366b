// A child process of `npm run bench`: serves POST /alerts on 127.0.0.1 and reports its URL over IPC.
//   real: the service's receiver (buildApp) on a durable SQLite store (WAL, synchronous=FULL) with bearer auth and the
//         service's default logging (info, to stdout, which the benchmark discards); no workers, so nothing else runs.
//   real-no-group-commit: the same with one transaction (and fsync) per webhook, as before group commit.
//   bare: a fastify handler that only answers 200: the floor the same machine and load generator allow.
import { join } from "node:path";
import Fastify from "fastify";
import { createLogger } from "../src/logger.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { benchReceiver } from "./lib/receiver.ts";

const [mode, dataDir] = process.argv.slice(2);

async function main(): Promise<void> {
  let close: () => Promise<void>;
  let address: string;
  if (mode === "real" || mode === "real-no-group-commit") {
    if (!dataDir) throw new Error(`usage: ingest-server.ts ${mode} DATA_DIR`);
    const store = openSqliteStore(join(dataDir, `enricher-${mode}.db`), { groupCommit: mode === "real" });
    await store.migrate();
    const app = benchReceiver(store, createLogger("info"));
    address = await app.listen({ port: 0, host: "127.0.0.1" });
    close = async () => {
      await app.close();
      await store.close();
    };
  } else if (mode === "bare") {
    const app = Fastify({ logger: false });
    app.post("/alerts", async (_request, reply) => reply.code(200).send({ status: "ok" }));
    app.get("/metrics", async () => "");
    address = await app.listen({ port: 0, host: "127.0.0.1" });
    close = () => app.close();
  } else {
    throw new Error("usage: ingest-server.ts real|real-no-group-commit|bare [DATA_DIR]");
  }
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("disconnect", shutdown);
  process.send?.({ url: address });
}

await main();
