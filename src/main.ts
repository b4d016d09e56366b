// The process: reads the environment (and .env), starts the service (service.ts), prints start-up errors, and turns
// SIGTERM/SIGINT into a bounded graceful stop. Exit 0 stopped, 1 shutdown failed or timed out, 2 bad configuration.
// `node src/main.ts` runs the service.

import type { Logger } from "pino";
import { type Config, ConfigError, loadConfig, loadDotEnv } from "./config.ts";
import { PlaybookLoadError } from "./engine/load-playbooks.ts";
import { createLogger } from "./logger.ts";
import { lookalikeVariables } from "./lookalike-variables.ts";
import { type RunningService, startService } from "./service.ts";

export const EXIT_CONFIG = 2;

async function main(): Promise<void> {
  let service: RunningService;
  let config: Config;
  let logger: Logger;
  try {
    loadDotEnv(".env");
    config = loadConfig();
    logger = createLogger(config.logLevel);
    for (const { variable, suggestion, message } of lookalikeVariables(process.env)) logger.warn({ variable, suggestion }, message);
    service = await startService(config, { logger, preflight: true });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PlaybookLoadError) {
      // Every problem on its own line; a lookalike variable (SLACK_WEBHOOK) is often the cause, so it is told too.
      const lines = error instanceof ConfigError ? error.message.split("\n") : [error.message];
      for (const { message } of lookalikeVariables(process.env)) lines.push(`warning: ${message}`);
      process.stderr.write(lines.map((line) => `alert-enricher: ${line}\n`).join(""));
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
  const timeoutSeconds = config.shutdownTimeoutMs / 1000;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second signal (Ctrl-C twice): do not wait. The store's leases hand the work in hand over, as after a timeout.
      logger.warn({ signal }, "second signal: exiting now; work in hand is left to another replica once its lease expires");
      process.stderr.write(`alert-enricher: ${signal} received again, exiting without finishing work in hand\n`);
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, timeoutSeconds }, "shutting down: finishing work in hand");
    process.stderr.write(`alert-enricher: ${signal} received, finishing work in hand (at most ${timeoutSeconds} s)\n`);
    // Exit within the bound, before Kubernetes' SIGKILL (terminationGracePeriodSeconds must be longer). Nothing is
    // lost: unfinished notifications and deliveries stay leased in the store, and another replica (or this one after
    // a restart) takes them again when the lease (WORK_LEASE_SECONDS / DELIVERY_LEASE_SECONDS) expires.
    const deadline = setTimeout(() => {
      logger.error(
        { timeoutSeconds },
        "shutdown timed out with work in hand: exiting 1; the unfinished work is left to another replica once its lease expires",
      );
      process.stderr.write(
        `alert-enricher: shutdown timed out after ${timeoutSeconds} s; unfinished work is left to another replica (or the next start) once its lease expires\n`,
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    service.stop().then(
      () => {
        clearTimeout(deadline);
        process.stderr.write("alert-enricher: work in hand finished, exiting\n");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.stderr.write(`alert-enricher: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.main) await main();
