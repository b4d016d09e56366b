// Checks each sink's credentials where the API allows it without posting anything: Slack's auth.test for a bot token,
// PagerDuty's GET /abilities for a REST API token. An incoming webhook and an Events API routing key have no such call:
// the first is not checked, the second only for its form.
import type { Config } from "../config.ts";
import { sendHttp } from "../sinks/http-delivery.ts";
import type { CheckLine } from "./check-line.ts";

export interface SinkCheckOptions {
  userAgent: string;
  timeoutMs: number;
}

/** An Events API v2 integration key (or a ruleset's routing key): 32 letters and digits. */
const ROUTING_KEY = /^[A-Za-z0-9]{32}$/;

async function checkSlackBot(slack: Config["slack"], options: SinkCheckOptions): Promise<CheckLine> {
  const line = (status: CheckLine["status"], detail: string): CheckLine => ({ status, check: "slack", detail });
  const exchange = await sendHttp({
    method: "POST",
    url: `${slack.apiUrl.replace(/\/+$/, "")}/auth.test`,
    headers: {
      Authorization: `Bearer ${slack.botToken ?? ""}`,
      "Content-Type": "application/json; charset=utf-8",
      "User-Agent": options.userAgent,
    },
    body: "{}",
    timeoutMs: options.timeoutMs,
    maxResponseBytes: 64 * 1024,
  });
  if ("transportFailure" in exchange)
    return line("FAIL", `cannot reach the Slack Web API (SLACK_API_URL): ${exchange.transportFailure.text}`);
  let answer: { ok?: boolean; error?: string; user?: string; team?: string };
  try {
    answer = JSON.parse(exchange.response.body) as typeof answer;
  } catch {
    return line("FAIL", `auth.test answered HTTP ${exchange.response.status} without JSON: is SLACK_API_URL the Slack Web API?`);
  }
  if (answer.ok !== true) {
    return line(
      "FAIL",
      `SLACK_BOT_TOKEN refused by auth.test (${answer.error ?? `HTTP ${exchange.response.status}`}): set it to the app's Bot User OAuth Token (xoxb-…) from its OAuth & Permissions page`,
    );
  }
  const who = answer.user && answer.team ? ` (bot user ${answer.user} in ${answer.team})` : "";
  return line("ok", `SLACK_BOT_TOKEN accepted by auth.test${who}; whether the bot may post in SLACK_CHANNEL is not checked`);
}

async function checkPagerDutyToken(pagerduty: Config["pagerduty"], options: SinkCheckOptions): Promise<CheckLine> {
  const line = (status: CheckLine["status"], detail: string): CheckLine => ({ status, check: "pagerduty", detail });
  const exchange = await sendHttp({
    method: "GET",
    url: `${pagerduty.apiUrl.replace(/\/+$/, "")}/abilities`,
    headers: {
      Authorization: `Token token=${pagerduty.apiToken ?? ""}`,
      Accept: "application/vnd.pagerduty+json;version=2",
      "User-Agent": options.userAgent,
    },
    timeoutMs: options.timeoutMs,
    maxResponseBytes: 256 * 1024,
  });
  if ("transportFailure" in exchange)
    return line("FAIL", `cannot reach the PagerDuty REST API (PAGERDUTY_API_URL): ${exchange.transportFailure.text}`);
  const { status } = exchange.response;
  if (status === 401) {
    return line("FAIL", "PAGERDUTY_API_TOKEN refused by GET /abilities (401): set it to a REST API key (Integrations → API Access Keys)");
  }
  if (status < 200 || status > 299) return line("FAIL", `GET /abilities with PAGERDUTY_API_TOKEN answered HTTP ${status}`);
  return line("ok", "PAGERDUTY_API_TOKEN accepted by GET /abilities; whether it may add notes (write access) is not checked");
}

function checkRoutingKey(routingKey: string): CheckLine {
  if (ROUTING_KEY.test(routingKey)) {
    return {
      status: "ok",
      check: "pagerduty",
      detail:
        "PAGERDUTY_ROUTING_KEY has the form of an integration key (32 characters); format check only: the Events API cannot test a key without sending an event",
    };
  }
  return {
    status: "FAIL",
    check: "pagerduty",
    detail: `PAGERDUTY_ROUTING_KEY is ${routingKey.length} characters${/[^A-Za-z0-9]/.test(routingKey) ? " with more than letters and digits" : ""}, an integration key is 32 letters and digits: copy the Integration Key of the service's Events API v2 integration`,
  };
}

export async function checkSinks(config: Pick<Config, "slack" | "pagerduty">, options: SinkCheckOptions): Promise<CheckLine[]> {
  const checks: Array<Promise<CheckLine> | CheckLine> = [];
  const { slack, pagerduty } = config;
  // As createSinks chooses: the bot token wins over the webhook.
  if (slack.botToken) checks.push(checkSlackBot(slack, options));
  else if (slack.webhookUrl)
    checks.push({
      status: "warn",
      check: "slack",
      detail: "SLACK_WEBHOOK_URL not checked (an incoming webhook cannot be tested without posting)",
    });
  if (pagerduty.apiToken) checks.push(checkPagerDutyToken(pagerduty, options));
  if (pagerduty.routingKey) checks.push(checkRoutingKey(pagerduty.routingKey));
  if (checks.length === 0) checks.push({ status: "ok", check: "sinks", detail: "none configured: diagnoses go to the console (stdout)" });
  return Promise.all(checks);
}
