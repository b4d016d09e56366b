#!/usr/bin/env node
// The command line: diagnose a payload from a file, check the installation (preflight), and check rule files. Exit 0 success, 1 a check failed, 2 bad usage or configuration.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { formatCheckLine } from "../src/check/check-line.ts";
import { runPreflight } from "../src/check/preflight.ts";
import { ConfigError, loadConfig, loadDotEnv } from "../src/config.ts";
import { diagnose } from "../src/diagnosis/diagnose.ts";
import { atTime } from "../src/engine/expressions.ts";
import { loadPlaybooks, PlaybookLoadError } from "../src/engine/load-playbooks.ts";
import { fragmentSchema, playbookSchema } from "../src/engine/playbook.ts";
import type { StepSources } from "../src/engine/run-playbook.ts";
import { createClusterSelection, createLogger, createSinks, loadKnownAlertRules, USER_AGENT } from "../src/main.ts";
import { type AlertmanagerPayload, alertmanagerPayloadSchema } from "../src/model/alertmanager.ts";
import { formatReport, PlaybookTestFileError, runPlaybookTestSuite } from "../src/playbook-tests/run-playbook-tests.ts";
import { renderText } from "../src/render/text.ts";
import type { ClusterSelection } from "../src/sources/clusters.ts";
import { LIST_TOKEN_ID, reportLinkFor } from "../src/server/report-links.ts";
import { describeSchemaError } from "../src/server/app.ts";

const CHECK_USAGE = `  enricher check                            preflight: the permissions the playbooks need on each cluster's API server,
                                            the metric families they query in Prometheus, the sinks' credentials;
                                            one line per check; exit 1 when one fails`;

const USAGE = `usage:
  enricher diagnose FILE.json [--dry-run] [--at TIME]
                                            run the playbooks for an Alertmanager payload and print the diagnosis;
                                            --at (RFC 3339) replays it at that moment: metrics and time functions as
                                            of then, Kubernetes objects and logs as they are now
  enricher rules validate [DIR]             check every playbook in DIR (default: RULES_DIR or ./rules)
  enricher reports link [ID]                print a signed link to the report of notification ID, or to the list of reports
  enricher rules test [DIR] [--all-faults]
                                            run the playbook tests in DIR/tests against the playbooks in DIR, then a
                                            refutation case per cause and the fault matrix over each demo case
                                            (--all-faults: over every case); exit 1 on a mismatch
${CHECK_USAGE}
  enricher rules schema [fragment]          print the JSON Schema of a playbook (rules/schema.json) or a fragment (rules/shared/schema.json)`;

class UsageError extends Error {}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** `--at 2026-11-23T09:41:00Z` (or `--at=…`): the moment to replay an alert at; never in the future. */
function parseAt(value: string | undefined): Date {
  if (value === undefined || value === "") throw new UsageError("--at needs a time, such as --at 2026-11-23T09:41:00Z");
  const at = new Date(value);
  if (!RFC3339.test(value) || Number.isNaN(at.getTime())) {
    throw new UsageError(`--at ${value}: not an RFC 3339 time with a zone, such as 2026-11-23T09:41:00Z`);
  }
  if (at.getTime() > Date.now() + 60_000) throw new UsageError(`--at ${value}: is in the future`);
  return at;
}

async function diagnoseFile(args: string[]): Promise<number> {
  let dryRun = false;
  let at: Date | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--dry-run") dryRun = true;
    else if (arg === "--at") at = parseAt(args[++i]);
    else if (arg.startsWith("--at=")) at = parseAt(arg.slice("--at=".length));
    else if (arg.startsWith("-")) throw new UsageError(`unknown flag ${arg}`);
    else files.push(arg);
  }
  if (files.length !== 1) throw new UsageError("diagnose takes exactly one payload file");
  const file = files[0] as string;
  let payload: unknown;
  try {
    payload = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  const ajv = new Ajv({ strict: false });
  addFormats.default(ajv, ["date-time"]);
  const validate = ajv.compile(alertmanagerPayloadSchema);
  if (!validate(payload)) {
    const problem = describeSchemaError((validate.errors ?? [])[0] as NonNullable<typeof validate.errors>[number]);
    throw new UsageError(`${file}: not an Alertmanager v4 payload: ${problem.message}`);
  }
  const config = loadConfig(process.env, { requireWebhookAuth: false });
  const playbooks = loadPlaybooks(config.rulesDir);
  // The same choice of cluster per alert as the service: CLUSTER_NAME, CLUSTERS_FILE and CLUSTER_LABEL.
  const live = createClusterSelection(config);
  // A replay asks Prometheus for the moment of `at` (instant queries at it, range queries ending at it) and evaluates
  // the time functions of conditions there; the API server keeps no history, so objects and logs are read as they are.
  // The alert's chart asks Prometheus through the same source, so it ends at `at` too.
  const sources = at ? atMoment(live, at.getTime()) : live;
  const run = () =>
    diagnose(`cli-${Date.now()}`, payload as AlertmanagerPayload, {
      playbooks,
      sources,
      limits: {
        stepTimeoutMs: config.stepTimeoutMs,
        deadlineMs: config.playbookDeadlineMs,
        listLimit: 500,
        logTailLines: 2000,
        logLimitBytes: 1024 * 1024,
      },
      alertmanagerUrl: config.alertmanagerUrl,
      publicUrl: config.publicUrl,
      maxPlaybookRuns: config.maxPlaybookRuns,
      alertRules: loadKnownAlertRules(config, createLogger("silent")),
    });
  const diagnosis = at ? await atTime(at, run) : await run();
  if (at) process.stdout.write(`${replayNote(at)}\n\n`);
  process.stdout.write(`${renderText(diagnosis)}\n`);
  if (dryRun) return 0;
  let failed = false;
  for (const sink of createSinks(config).filter((s) => s.name !== "console")) {
    const outcome = await sink.deliver(diagnosis);
    const line = outcome.status === "delivered" ? "delivered" : `${outcome.status}: ${outcome.error}`;
    process.stderr.write(`${sink.name}: ${line}\n`);
    if (outcome.status !== "delivered") failed = true;
  }
  return failed ? 1 : 0;
}

function withTime(prometheus: StepSources["prometheus"], at: number): StepSources["prometheus"] {
  return (request, signal, context) => prometheus({ ...request, at }, signal, context);
}

/** Every cluster's Prometheus asked for the moment `at`. */
function atMoment(live: StepSources | ClusterSelection, at: number): StepSources | ClusterSelection {
  const replayed = (sources: StepSources): StepSources => ({ ...sources, prometheus: withTime(sources.prometheus, at) });
  if (typeof live !== "function") return replayed(live);
  return (alert) => {
    const choice = live(alert);
    return "sources" in choice ? { ...choice, sources: replayed(choice.sources) } : choice;
  };
}

/** What a replayed diagnosis could and could not see as it was. */
function replayNote(at: Date): string {
  return [
    `Replayed at ${at.toISOString()}: metrics at ${at.toISOString()}, Kubernetes objects and logs read now (${new Date().toISOString()}).`,
    "Prometheus queries were evaluated at that moment and time functions measure from it; the API server keeps no",
    "history, so pods, events and logs are what the cluster holds now, not what it held then; audit-log steps too",
    "read their window up to now.",
  ].join("\n");
}

function validateRules(args: string[]): number {
  if (args.length > 1) throw new UsageError("rules validate takes at most one directory");
  const dir = args[0] ?? process.env.RULES_DIR ?? "./rules";
  try {
    const playbooks = loadPlaybooks(dir);
    process.stdout.write(`${playbooks.length} playbook(s) valid in ${dir}: ${playbooks.map((p) => p.alertNames.join("/")).join(", ")}\n`);
    return 0;
  } catch (error) {
    if (error instanceof PlaybookLoadError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function testRules(args: string[]): Promise<number> {
  const allFaults = args.includes("--all-faults");
  const unknown = args.find((a) => a.startsWith("-") && a !== "--all-faults");
  if (unknown) throw new UsageError(`unknown flag ${unknown}`);
  const dirs = args.filter((a) => !a.startsWith("-"));
  if (dirs.length > 1) throw new UsageError("rules test takes at most one directory");
  const dir = dirs[0] ?? process.env.RULES_DIR ?? "./rules";
  const playbooks = loadPlaybooks(dir);
  let report;
  try {
    report = await runPlaybookTestSuite(join(dir, "tests"), playbooks, { faultMatrix: allFaults ? "all" : "demo" });
  } catch (error) {
    if (error instanceof PlaybookTestFileError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  process.stdout.write(`${formatReport(report)}\n`);
  return [...report.cases, ...report.refutations, ...report.faults].every((r) => r.passed) ? 0 : 1;
}

function reportsLink(args: string[]): number {
  if (args.length > 1) throw new UsageError("reports link takes at most one notification id");
  const config = loadConfig(process.env, { requireWebhookAuth: false });
  if (!config.publicUrl || !config.reports.signingSecret) throw new ConfigError("reports need PUBLIC_URL and REPORT_SIGNING_SECRET");
  const link = reportLinkFor({ publicUrl: config.publicUrl, secret: config.reports.signingSecret, ttlHours: config.reports.linkTtlHours });
  const id = args[0] ?? LIST_TOKEN_ID;
  const url = link(id);
  if (!url) throw new ConfigError("reports need PUBLIC_URL and REPORT_SIGNING_SECRET");
  // The list is served at /reports, not /reports/*: its token is the one signed for "*".
  process.stdout.write(`${id === LIST_TOKEN_ID ? url.replace(`/reports/${encodeURIComponent(LIST_TOKEN_ID)}?`, "/reports?") : url}\n`);
  return 0;
}

/** `enricher check`: one line per check, `ok|FAIL|warn  <check>  <what is wrong, how to fix>`; exit 1 when one fails. */
async function check(args: string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    process.stdout.write(`usage:\n${CHECK_USAGE}\n`);
    return 0;
  }
  if (args.length > 0) throw new UsageError(`check takes no arguments, not ${args.join(" ")}`);
  const config = loadConfig(process.env, { requireWebhookAuth: false });
  const playbooks = loadPlaybooks(config.rulesDir);
  const summary = await runPreflight(config, playbooks, { userAgent: USER_AGENT });
  for (const line of summary.lines) process.stdout.write(`${formatCheckLine(line)}\n`);
  return summary.failed > 0 ? 1 : 0;
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "diagnose") return diagnoseFile(rest);
  if (command === "check") return check(rest);
  if (command === "rules" && rest[0] === "validate") return validateRules(rest.slice(1));
  if (command === "rules" && rest[0] === "test") return testRules(rest.slice(1));
  if (command === "reports" && rest[0] === "link") return reportsLink(rest.slice(1));
  if (command === "rules" && rest[0] === "schema" && rest.length <= 2) {
    if (rest[1] !== undefined && rest[1] !== "fragment")
      throw new UsageError(`rules schema takes no argument or "fragment", not ${rest[1]}`);
    process.stdout.write(`${JSON.stringify(rest[1] === "fragment" ? fragmentSchema : playbookSchema, null, 2)}\n`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown command: ${argv.join(" ")}`);
}

loadDotEnv(".env");
try {
  process.exitCode = await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof PlaybookLoadError) {
    process.stderr.write(`enricher: ${error.message}\n${error instanceof UsageError ? `${USAGE}\n` : ""}`);
    process.exitCode = error instanceof PlaybookLoadError ? 1 : 2;
  } else {
    throw error;
  }
}
