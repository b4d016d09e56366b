#!/usr/bin/env node
// The command line: diagnose a payload from a file, check the installation (preflight), and check rule files.
// Exit 0 success, 1 a check failed, 2 bad usage or configuration. Every command and group answers --help (-h).
import { existsSync, readFileSync } from "node:fs";
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
import { runLimitsFrom } from "../src/engine/run-limits.ts";
import type { StepSources } from "../src/engine/run-playbook.ts";
import { createLogger } from "../src/logger.ts";
import { createClusterSelection, createSinks, loadKnownAlertRules } from "../src/service.ts";
import { type AlertmanagerPayload, alertmanagerPayloadSchema } from "../src/model/alertmanager.ts";
import { lookalikeVariables } from "../src/lookalike-variables.ts";
import { PlaybookTestFileError, runPlaybookTestSuite } from "../testkit/run-playbook-tests.ts";
import { formatReport } from "../testkit/test-report.ts";
import { renderText } from "../src/render/text.ts";
import type { ClusterSelection } from "../src/sources/clusters.ts";
import { LIST_TOKEN_ID, reportLinkFor } from "../src/server/report-links.ts";
import { describeSchemaError } from "../src/server/app.ts";
import { openPostgresStore } from "../src/store/postgres.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";
import { USER_AGENT, VERSION } from "../src/version.ts";

const DIAGNOSE_USAGE = `  enricher diagnose FILE.json [--dry-run] [--at TIME]
                                            run the playbooks for an Alertmanager payload and print the diagnosis;
                                            --dry-run delivers nothing; --at (RFC 3339) replays it at that moment:
                                            metrics and time functions as of then, Kubernetes objects and logs as they
                                            are now; exit 1 when a read failed (a partial diagnosis, or causes that
                                            could not be checked) or a delivery failed`;
const RULES_VALIDATE_USAGE = `  enricher rules validate [DIR]             check every playbook in DIR (default: RULES_DIR or ./rules); exit 1 with
                                            file:line errors`;
const RULES_TEST_USAGE = `  enricher rules test [DIR] [--all-faults]
                                            run the playbook tests in DIR/tests against the playbooks in DIR, then a
                                            refutation case per cause and the fault matrix over each demo case
                                            (--all-faults: over every case); exit 1 on a mismatch`;
const RULES_SCHEMA_USAGE = `  enricher rules schema [fragment]          print the JSON Schema of a playbook (rules/schema.json) or a fragment
                                            (rules/shared/schema.json)`;
const REPORTS_LINK_USAGE = `  enricher reports link [ID]                print a signed link to the report of notification ID (exit 1 when the store
                                            holds no diagnosis for it), or to the list of reports`;
const CHECK_USAGE = `  enricher check                            preflight: the permissions the playbooks need on each cluster's API server,
                                            the metric families they query in Prometheus, the sinks' credentials;
                                            one line per check; exit 1 when one fails`;
const RULES_USAGE = [RULES_VALIDATE_USAGE, RULES_TEST_USAGE, RULES_SCHEMA_USAGE].join("\n");

const USAGE = [
  DIAGNOSE_USAGE,
  CHECK_USAGE,
  RULES_USAGE,
  REPORTS_LINK_USAGE,
  `  enricher --help | --version               this usage (every command takes --help too); the version`,
  "exit codes: 0 success, 1 a check failed, 2 bad usage or configuration",
].join("\n");

/** Bad usage: exit 2 with the message and the usage of the command it was meant for. */
class UsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string = USAGE) {
    super(message);
    this.usage = usage;
  }
}

const wantsHelp = (args: readonly string[]) => args.includes("--help") || args.includes("-h");

/** The arguments that are not flags; a flag other than `known` is bad usage. */
function positionals(args: readonly string[], usage: string, known: readonly string[] = []): string[] {
  const unknown = args.find((a) => a.startsWith("-") && a !== "-" && !known.includes(a));
  if (unknown !== undefined) throw new UsageError(`unknown flag ${unknown}`, usage);
  return args.filter((a) => !known.includes(a));
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** `--at 2026-11-23T09:41:00Z` (or `--at=…`): the moment to replay an alert at; never in the future. */
function parseAt(value: string | undefined): Date {
  if (value === undefined || value === "") throw new UsageError("--at needs a time, such as --at 2026-11-23T09:41:00Z", DIAGNOSE_USAGE);
  const at = new Date(value);
  if (!RFC3339.test(value) || Number.isNaN(at.getTime())) {
    throw new UsageError(`--at ${value}: not an RFC 3339 time with a zone, such as 2026-11-23T09:41:00Z`, DIAGNOSE_USAGE);
  }
  if (at.getTime() > Date.now() + 60_000) throw new UsageError(`--at ${value}: is in the future`, DIAGNOSE_USAGE);
  return at;
}

async function diagnoseFile(args: string[], io: CliIo): Promise<number> {
  let dryRun = false;
  let at: Date | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--dry-run") dryRun = true;
    else if (arg === "--at") at = parseAt(args[++i]);
    else if (arg.startsWith("--at=")) at = parseAt(arg.slice("--at=".length));
    else if (arg.startsWith("-")) throw new UsageError(`unknown flag ${arg}`, DIAGNOSE_USAGE);
    else files.push(arg);
  }
  if (files.length !== 1) throw new UsageError("diagnose takes exactly one payload file", DIAGNOSE_USAGE);
  const file = files[0] as string;
  let payload: unknown;
  try {
    payload = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`, DIAGNOSE_USAGE);
  }
  const ajv = new Ajv({ strict: false });
  addFormats.default(ajv, ["date-time"]);
  const validate = ajv.compile(alertmanagerPayloadSchema);
  if (!validate(payload)) {
    const problem = describeSchemaError((validate.errors ?? [])[0] as NonNullable<typeof validate.errors>[number]);
    throw new UsageError(`${file}: not an Alertmanager v4 payload: ${problem.message}`, DIAGNOSE_USAGE);
  }
  const config = loadConfig(io.env, { requireWebhookAuth: false });
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
      limits: runLimitsFrom(config),
      alertmanagerUrl: config.alertmanagerUrl,
      publicUrl: config.publicUrl,
      maxPlaybookRuns: config.maxPlaybookRuns,
      alertRules: loadKnownAlertRules(config, createLogger("silent")),
    });
  const diagnosis = at ? await atTime(at, run) : await run();
  if (at) io.stdout(`${replayNote(at)}\n\n`);
  io.stdout(`${renderText(diagnosis)}\n`);
  // A diagnosis built on failed reads is not a success, even when it was printed: the setup needs fixing (enricher check).
  // A cause this installation cannot check at all (no audit log configured) is no failed read.
  const readsFailed = diagnosis.alerts.filter(
    (a) => a.partial || (a.verdict === "could_not_check" && (a.notChecked ?? []).some((n) => n.unavailable !== true)),
  ).length;
  if (readsFailed > 0) {
    io.stderr(
      `enricher: the diagnosis is partial: reads failed for ${readsFailed} of ${diagnosis.alerts.length} alert(s); run enricher check\n`,
    );
  }
  if (dryRun) return readsFailed > 0 ? 1 : 0;
  let failed = readsFailed > 0;
  for (const sink of createSinks(config).filter((s) => s.name !== "console")) {
    const outcome = await sink.deliver(diagnosis);
    const line = outcome.status === "delivered" ? "delivered" : `${outcome.status}: ${outcome.error}`;
    io.stderr(`${sink.name}: ${line}\n`);
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

function validateRules(args: string[], io: CliIo): number {
  const dirs = positionals(args, RULES_VALIDATE_USAGE);
  if (dirs.length > 1) throw new UsageError("rules validate takes at most one directory", RULES_VALIDATE_USAGE);
  const dir = dirs[0] ?? io.env.RULES_DIR ?? "./rules";
  try {
    const playbooks = loadPlaybooks(dir);
    io.stdout(`${playbooks.length} playbook(s) valid in ${dir}: ${playbooks.map((p) => p.alertNames.join("/")).join(", ")}\n`);
    return 0;
  } catch (error) {
    if (error instanceof PlaybookLoadError) {
      io.stderr(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function testRules(args: string[], io: CliIo): Promise<number> {
  const allFaults = args.includes("--all-faults");
  const dirs = positionals(args, RULES_TEST_USAGE, ["--all-faults"]);
  if (dirs.length > 1) throw new UsageError("rules test takes at most one directory", RULES_TEST_USAGE);
  const dir = dirs[0] ?? io.env.RULES_DIR ?? "./rules";
  const playbooks = loadPlaybooks(dir);
  let report;
  try {
    report = await runPlaybookTestSuite(join(dir, "tests"), playbooks, { faultMatrix: allFaults ? "all" : "demo" });
  } catch (error) {
    if (error instanceof PlaybookTestFileError) {
      io.stderr(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  io.stdout(`${formatReport(report)}\n`);
  return [...report.cases, ...report.refutations, ...report.faults].every((r) => r.passed) ? 0 : 1;
}

function printSchema(args: string[], io: CliIo): number {
  const [which, ...more] = positionals(args, RULES_SCHEMA_USAGE);
  if (more.length > 0 || (which !== undefined && which !== "fragment"))
    throw new UsageError(`rules schema takes no argument or "fragment", not ${args.join(" ")}`, RULES_SCHEMA_USAGE);
  io.stdout(`${JSON.stringify(which === "fragment" ? fragmentSchema : playbookSchema, null, 2)}\n`);
  return 0;
}

async function reportsLink(args: string[], io: CliIo): Promise<number> {
  const ids = positionals(args, REPORTS_LINK_USAGE);
  if (ids.length > 1) throw new UsageError("reports link takes at most one notification id", REPORTS_LINK_USAGE);
  const config = loadConfig(io.env, { requireWebhookAuth: false });
  if (!config.publicUrl || !config.reports.signingSecret) throw new ConfigError("reports need PUBLIC_URL and REPORT_SIGNING_SECRET");
  const link = reportLinkFor({ publicUrl: config.publicUrl, secret: config.reports.signingSecret, ttlHours: config.reports.linkTtlHours });
  const id = ids[0] ?? LIST_TOKEN_ID;
  // A link to a report the store does not hold would only answer 404: say so now instead.
  if (id !== LIST_TOKEN_ID && !(await diagnosisStored(config.databaseUrl, id))) {
    io.stderr(`enricher: no diagnosis of notification ${id} is stored (never received, not diagnosed yet, or pruned)\n`);
    return 1;
  }
  const url = link(id);
  if (!url) throw new ConfigError("reports need PUBLIC_URL and REPORT_SIGNING_SECRET");
  // The list is served at /reports, not /reports/*: its token is the one signed for "*".
  io.stdout(`${id === LIST_TOKEN_ID ? url.replace(`/reports/${encodeURIComponent(LIST_TOKEN_ID)}?`, "/reports?") : url}\n`);
  return 0;
}

/**
 * Whether the service's store (DATABASE_URL) holds a diagnosis of notification `id`. Only reads: a SQLite file is opened
 * read-only and never created, and the schema is left to the service. A store that cannot be read is a configuration
 * problem naming DATABASE_URL, never its password.
 */
async function diagnosisStored(databaseUrl: string, id: string): Promise<boolean> {
  const sqlitePath = databaseUrl.startsWith("sqlite:") ? databaseUrl.slice("sqlite:".length) : undefined;
  if (sqlitePath !== undefined && sqlitePath !== ":memory:" && !existsSync(sqlitePath)) return false;
  let store: Store | undefined;
  try {
    store = sqlitePath !== undefined ? openSqliteStore(sqlitePath, { readOnly: true }) : openPostgresStore(databaseUrl);
    return (await store.getDiagnosis(id)) !== null;
  } catch (error) {
    throw new ConfigError(`DATABASE_URL: ${(error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")}`);
  } finally {
    await store?.close().catch(() => undefined);
  }
}

/** `enricher check`: one line per check, `ok|FAIL|warn  <check>  <what is wrong, how to fix>`; exit 1 when one fails. */
async function check(args: string[], io: CliIo): Promise<number> {
  if (args.length > 0) throw new UsageError(`check takes no arguments, not ${args.join(" ")}`, CHECK_USAGE);
  // Told first, and even when the configuration is refused: a lookalike (SLACK_WEBHOOK) is often why a sink is off.
  for (const { message } of lookalikeVariables(io.env)) {
    io.stdout(`${formatCheckLine({ status: "warn", check: "environment", detail: message })}\n`);
  }
  const config = loadConfig(io.env, { requireWebhookAuth: false });
  const playbooks = loadPlaybooks(config.rulesDir);
  const summary = await runPreflight(config, playbooks, { userAgent: USER_AGENT });
  for (const line of summary.lines) io.stdout(`${formatCheckLine(line)}\n`);
  return summary.failed > 0 ? 1 : 0;
}

type Command = { usage: string; run: (args: string[], io: CliIo) => number | Promise<number> };

const COMMANDS: Readonly<Record<string, Command>> = {
  diagnose: { usage: DIAGNOSE_USAGE, run: diagnoseFile },
  check: { usage: CHECK_USAGE, run: check },
};

/** Commands that only group subcommands: `enricher rules` alone is bad usage and lists them. */
const GROUPS: Readonly<Record<string, { usage: string; subcommands: Readonly<Record<string, Command>> }>> = {
  rules: {
    usage: RULES_USAGE,
    subcommands: {
      validate: { usage: RULES_VALIDATE_USAGE, run: validateRules },
      test: { usage: RULES_TEST_USAGE, run: testRules },
      schema: { usage: RULES_SCHEMA_USAGE, run: printSchema },
    },
  },
  reports: { usage: REPORTS_LINK_USAGE, subcommands: { link: { usage: REPORTS_LINK_USAGE, run: reportsLink } } },
};

function runCommand(command: Command, args: string[], io: CliIo): number | Promise<number> {
  if (wantsHelp(args)) {
    io.stdout(`usage:\n${command.usage}\n`);
    return 0;
  }
  return command.run(args, io);
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError("which command? (enricher --help lists them)");
  if (name === "--help" || name === "-h") {
    io.stdout(`usage:\n${USAGE}\n`);
    return 0;
  }
  if (name === "--version" || name === "-V") {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command !== undefined) return runCommand(command, rest, io);
  const group = Object.hasOwn(GROUPS, name) ? GROUPS[name] : undefined;
  if (group === undefined) throw new UsageError(name.startsWith("-") ? `unknown flag ${name}` : `unknown command: ${argv.join(" ")}`);
  const [sub, ...args] = rest;
  if (sub === "--help" || sub === "-h") {
    io.stdout(`usage:\n${group.usage}\n`);
    return 0;
  }
  if (sub === undefined) throw new UsageError(`${name} needs a subcommand: ${Object.keys(group.subcommands).join(", ")}`, group.usage);
  const subcommand = Object.hasOwn(group.subcommands, sub) ? group.subcommands[sub] : undefined;
  if (subcommand === undefined) {
    throw new UsageError(sub.startsWith("-") ? `unknown flag ${sub}` : `unknown command: ${argv.join(" ")}`, group.usage);
  }
  return runCommand(subcommand, args, io);
}

/** Where a run of the command line writes and what it reads: the process's own, or a test's. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/**
 * Runs the command line for `argv` (without node and the script) and returns its exit code. Loads `.env` from the
 * working directory into `io.env` first.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    // Inside the try: an unreadable .env is a configuration problem (exit 2), not a stack trace.
    loadDotEnv(".env", io.env);
    return await run(argv, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof PlaybookLoadError) {
      io.stderr(`enricher: ${error.message}\n${error instanceof UsageError ? `usage:\n${error.usage}\n` : ""}`);
      return error instanceof PlaybookLoadError ? 1 : 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  });
}
