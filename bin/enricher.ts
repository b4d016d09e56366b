#!/usr/bin/env node
// The command line: diagnose a payload from a file, and check rule files. Exit 0 success, 1 a check failed, 2 bad usage or configuration.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { ConfigError, loadConfig, loadDotEnv } from "../src/config.ts";
import { diagnose } from "../src/diagnosis/diagnose.ts";
import { loadPlaybooks, PlaybookLoadError } from "../src/engine/load-playbooks.ts";
import { fragmentSchema, playbookSchema } from "../src/engine/playbook.ts";
import { createSinks, createSources } from "../src/main.ts";
import { type AlertmanagerPayload, alertmanagerPayloadSchema } from "../src/model/alertmanager.ts";
import { formatResults, PlaybookTestFileError, runPlaybookTests } from "../src/playbook-tests/run-playbook-tests.ts";
import { renderText } from "../src/render/text.ts";
import { LIST_TOKEN_ID, reportLinkFor } from "../src/server/report-links.ts";
import { describeSchemaError } from "../src/server/app.ts";

const USAGE = `usage:
  enricher diagnose FILE.json [--dry-run]   run the playbooks for an Alertmanager payload and print the diagnosis
  enricher rules validate [DIR]             check every playbook in DIR (default: RULES_DIR or ./rules)
  enricher reports link [ID]                print a signed link to the report of notification ID, or to the list of reports
  enricher rules test [DIR]                 run the playbook tests in DIR/tests against the playbooks in DIR; exit 1 on a mismatch
  enricher rules schema [fragment]          print the JSON Schema of a playbook (rules/schema.json) or a fragment (rules/shared/schema.json)`;

class UsageError extends Error {}

async function diagnoseFile(args: string[]): Promise<number> {
  const dryRun = args.includes("--dry-run");
  const files = args.filter((a) => a !== "--dry-run");
  const unknown = files.filter((a) => a.startsWith("-"));
  if (unknown.length > 0) throw new UsageError(`unknown flag ${unknown[0]}`);
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
  const diagnosis = await diagnose(`cli-${Date.now()}`, payload as AlertmanagerPayload, {
    playbooks,
    sources: createSources(config),
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
  });
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
  if (args.length > 1) throw new UsageError("rules test takes at most one directory");
  const dir = args[0] ?? process.env.RULES_DIR ?? "./rules";
  const playbooks = loadPlaybooks(dir);
  let results;
  try {
    results = await runPlaybookTests(join(dir, "tests"), playbooks);
  } catch (error) {
    if (error instanceof PlaybookTestFileError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  process.stdout.write(`${formatResults(results)}\n`);
  return results.every((r) => r.passed) ? 0 : 1;
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

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "diagnose") return diagnoseFile(rest);
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
