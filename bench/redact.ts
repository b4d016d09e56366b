// `node bench/redact.ts`: what redaction costs (issue #11 items 2 and 6). Prints a markdown table; nothing here asserts
// a speed (test/sources/redact-linear.test.ts does, generously). Runs in this process, contacts nothing.
//   - redact() and a log scan on 1 MiB lines of each adversarial shape: the slowest shape, against an ordinary line;
//   - redactOutput() on a 500-Pod and a 500-Event list, against the JSON round trip every Kubernetes read already
//     makes of its objects (kubernetes.ts toPlainJson), and again for a shared read (cached by identity).
import { readFileSync } from "node:fs";
import { scanLog } from "../src/sources/logs.ts";
import { redact, redactOutput } from "../src/sources/redact.ts";
import type { SourceOutput } from "../src/sources/source.ts";
import { adversarialLines, eventList, podList, shippedLogPatterns } from "../test/support/redaction-inputs.ts";
import { ms, ratio } from "./lib/stats.ts";

const MIB = 1024 * 1024;
const RUNS = 5;

/** The median of `RUNS` timed runs of `work` (after one warm-up), in milliseconds. */
function time(work: () => unknown): number {
  work();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    work();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)] as number;
}

const lines = adversarialLines(MIB);
const patterns = shippedLogPatterns();
const scan = (line: string) => scanLog(`${line}\nUnauthorized ${line}\n`, { ...patterns, all: "." }, 3);
/** The reference: an ordinary client-go error line, repeated to the same 1 MiB. */
const ordinary = "E1123 09:41:08.201771 1 reflector.go:147] failed to list *v1.Pod: Unauthorized; ".repeat(MIB / 80);
const ordinaryRedactMs = time(() => redact(ordinary));
const ordinaryScanMs = time(() => scan(ordinary));

let slowestRedact = { name: "", ms: 0 };
let slowestScan = { name: "", ms: 0 };
for (const { name, line } of lines) {
  const redactMs = time(() => redact(line));
  const scanMs = time(() => scan(line));
  if (redactMs > slowestRedact.ms) slowestRedact = { name, ms: redactMs };
  if (scanMs > slowestScan.ms) slowestScan = { name, ms: scanMs };
}

const listOutput = (items: unknown[]): SourceOutput => ({
  data: { items, count: items.length, truncated: false },
  request: "GET",
  summary: "",
});
const pods = podList(500);
const events = eventList(500);
const podBytes = Buffer.byteLength(JSON.stringify(pods));
const eventBytes = Buffer.byteLength(JSON.stringify(events));
// A new output each time, so the identity cache does not answer; redaction copies and never changes its input.
const podsMs = time(() => redactOutput(listOutput(pods)));
const podsRoundTrip = time(() => pods.map((p) => JSON.parse(JSON.stringify(p)) as unknown));
const eventsMs = time(() => redactOutput(listOutput(events)));
const eventsRoundTrip = time(() => events.map((e) => JSON.parse(JSON.stringify(e)) as unknown));
const shared = listOutput(pods);
redactOutput(shared);
const sharedMs = time(() => redactOutput(shared));

const rows: string[][] = [
  [
    `redact(), slowest of ${lines.length} adversarial 1 MiB lines (${slowestRedact.name})`,
    ms(slowestRedact.ms),
    `${ms(ordinaryRedactMs)} (an ordinary 1 MiB line)`,
    ratio(slowestRedact.ms, ordinaryRedactMs),
  ],
  [
    `Log scan of two such lines with the ${Object.keys(patterns).length} shipped patterns, slowest (${slowestScan.name})`,
    ms(slowestScan.ms),
    `${ms(ordinaryScanMs)} (two ordinary lines)`,
    ratio(slowestScan.ms, ordinaryScanMs),
  ],
  [
    `redactOutput() of a 500-Pod list (${(podBytes / MIB).toFixed(1)} MiB of JSON)`,
    ms(podsMs),
    `${ms(podsRoundTrip)} (the JSON round trip the read already makes)`,
    ratio(podsMs, podsRoundTrip),
  ],
  [
    `redactOutput() of a 500-Event list (${(eventBytes / MIB).toFixed(1)} MiB of JSON)`,
    ms(eventsMs),
    `${ms(eventsRoundTrip)} (the JSON round trip the read already makes)`,
    ratio(eventsMs, eventsRoundTrip),
  ],
  ["redactOutput() of the 500-Pod list again (a shared read)", ms(sharedMs), "", ""],
];

const version = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
process.stdout.write(
  [
    "| figure | value | reference | ratio |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    `alert-enricher ${version}, Node ${process.version}, median of ${RUNS} runs each`,
    "",
  ].join("\n"),
);
