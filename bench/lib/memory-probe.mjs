// Preloaded into a child of `npm run bench -- idle` (NODE_OPTIONS="--expose-gc --import=…/memory-probe.mjs"): on
// SIGUSR2 it collects garbage twice and writes process.memoryUsage() as JSON to MEMORY_PROBE_FILE. The child runs its
// program unchanged; only this listener is added, so every process compared pays the same for being measured.
// JavaScript, not TypeScript: a .ts probe would load Node's type stripper (about 17 MiB) into processes that
// otherwise never load it, the service's bundle and bare node among them.
import { writeFileSync } from "node:fs";

const file = process.env.MEMORY_PROBE_FILE;
if (!file) throw new Error("memory-probe.mjs: MEMORY_PROBE_FILE is not set");
const collect = globalThis.gc;
if (!collect) throw new Error("memory-probe.mjs: start the process with --expose-gc");
process.on("SIGUSR2", () => {
  collect();
  collect();
  writeFileSync(file, JSON.stringify(process.memoryUsage()));
});
