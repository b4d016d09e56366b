// The service's version, from package.json: in the User-Agent, `--version` and enricher_build_info.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const VERSION: string = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "package.json"), "utf8")) as { version: string }
).version;

/** Every request to a cluster, Prometheus or a sink carries it, so API Priority and Fairness and audit logs can tell us apart. */
export const USER_AGENT = `alert-enricher/${VERSION}`;
