// One table of HTTP outcomes run against every HTTP sink through its service stand-in, plus the no-secrets rule.
import { afterEach, describe, expect, it } from "vitest";
import { PagerDutyEventsSink } from "../../src/sinks/pagerduty-events.ts";
import { PagerDutyNotesSink } from "../../src/sinks/pagerduty-notes.ts";
import { alertmanagerIncidentKey } from "../../src/sinks/pagerduty-sinks.ts";
import type { Sink, SinkOutcome } from "../../src/sinks/sink.ts";
import { SlackWebApiSink } from "../../src/sinks/slack-web-api.ts";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import { makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import { refusedUrl, type ScriptedFailure } from "../support/http-standin.ts";
import { PAGERDUTY_STANDIN_API_TOKEN, PAGERDUTY_STANDIN_FROM_EMAIL, startPagerDutyRestStandIn } from "../support/pagerduty-rest-standin.ts";
import { startPagerDutyStandIn } from "../support/pagerduty-standin.ts";
import { SLACK_STANDIN_WEBHOOK_PATH, startSlackStandIn } from "../support/slack-standin.ts";
import { SLACK_STANDIN_BOT_TOKEN, SLACK_STANDIN_CHANNEL_ID, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";

const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";

interface Running {
  sink: (timeoutMs?: number) => Sink;
  failNext: (count: number, failure: ScriptedFailure) => void;
  accepted: () => number;
  close: () => Promise<void>;
}

interface SinkCase {
  name: string;
  /** Every string from the sink's configuration that must never show up in an outcome. */
  secrets: string[];
  start: () => Promise<Running>;
  /** A sink with the same secrets pointed at a port nothing listens on. */
  refused: () => Promise<Sink>;
  /** A rejection in the service's own format, and the words of it the outcome must repeat. */
  rejection: { failure: ScriptedFailure; mustSay: string[] };
  /** A rejection whose body echoes the secret back. */
  echoingRejection: (url: string) => ScriptedFailure;
  defaultRetryAfterMs: number;
}

const cases: SinkCase[] = [
  {
    name: "Slack webhook",
    secrets: [SLACK_STANDIN_WEBHOOK_PATH, "XXXX"],
    async start() {
      const standIn = await startSlackStandIn();
      return {
        sink: (timeoutMs) => new SlackWebhookSink({ webhookUrl: standIn.webhookUrl, timeoutMs }),
        failNext: standIn.failNext,
        accepted: () => standIn.messages.length,
        close: standIn.close,
      };
    },
    refused: async () => new SlackWebhookSink({ webhookUrl: await refusedUrl(SLACK_STANDIN_WEBHOOK_PATH), timeoutMs: 2000 }),
    rejection: { failure: { status: 400, body: "invalid_blocks" }, mustSay: ["400", "invalid_blocks"] },
    echoingRejection: (url) => ({ status: 404, body: `channel_not_found for ${url}` }),
    defaultRetryAfterMs: 1000,
  },
  {
    name: "Slack Web API",
    secrets: [SLACK_STANDIN_BOT_TOKEN],
    async start() {
      const standIn = await startSlackWebApiStandIn({ rateLimitMs: 0 });
      return {
        sink: (timeoutMs) =>
          new SlackWebApiSink({
            botToken: standIn.token,
            channel: SLACK_STANDIN_CHANNEL_ID,
            apiUrl: standIn.apiUrl,
            timeoutMs,
            postIntervalMs: 0,
          }),
        failNext: (count, failure) => standIn.failNext(count, failure),
        accepted: () => standIn.parents().length,
        close: standIn.close,
      };
    },
    refused: async () =>
      new SlackWebApiSink({
        botToken: SLACK_STANDIN_BOT_TOKEN,
        channel: SLACK_STANDIN_CHANNEL_ID,
        apiUrl: await refusedUrl("/api"),
        timeoutMs: 2000,
      }),
    // The Web API refuses with HTTP 200 and its error name in JSON (protocols.md 2.1).
    rejection: {
      failure: {
        status: 200,
        body: JSON.stringify({
          ok: false,
          error: "invalid_blocks",
          response_metadata: { messages: ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"] },
        }),
      },
      mustSay: ["invalid_blocks", "must be less than 3001 characters"],
    },
    echoingRejection: () => ({
      status: 200,
      body: JSON.stringify({
        ok: false,
        error: "invalid_auth",
        response_metadata: { messages: [`token ${SLACK_STANDIN_BOT_TOKEN} is revoked`] },
      }),
    }),
    defaultRetryAfterMs: 1000,
  },
  {
    name: "PagerDuty Events API",
    secrets: [ROUTING_KEY],
    async start() {
      const standIn = await startPagerDutyStandIn();
      return {
        sink: (timeoutMs) => new PagerDutyEventsSink({ routingKey: ROUTING_KEY, eventsUrl: standIn.eventsUrl, timeoutMs }),
        failNext: standIn.failNext,
        accepted: () => standIn.events.length,
        close: standIn.close,
      };
    },
    refused: async () => new PagerDutyEventsSink({ routingKey: ROUTING_KEY, eventsUrl: await refusedUrl("/v2/enqueue"), timeoutMs: 2000 }),
    rejection: {
      failure: {
        status: 400,
        body: JSON.stringify({ status: "invalid event", message: "Event object is invalid", errors: ["'payload.summary' is required"] }),
      },
      mustSay: ["400", "Event object is invalid", "'payload.summary' is required"],
    },
    echoingRejection: () => ({
      status: 400,
      body: JSON.stringify({
        status: "invalid event",
        message: `Invalid routing key ${ROUTING_KEY}`,
        errors: [`routing_key ${ROUTING_KEY} unknown`],
      }),
    }),
    defaultRetryAfterMs: 30_000,
  },
  {
    name: "PagerDuty notes",
    secrets: [PAGERDUTY_STANDIN_API_TOKEN],
    async start() {
      const standIn = await startPagerDutyRestStandIn();
      standIn.addIncident({ incident_key: alertmanagerIncidentKey(makeDiagnosis().groupKey) });
      return {
        sink: (timeoutMs) => notesSink(standIn.apiUrl, timeoutMs),
        failNext: standIn.failNext,
        accepted: () => standIn.notes().length,
        close: standIn.close,
      };
    },
    refused: async () => notesSink(await refusedUrl(""), 2000),
    rejection: {
      failure: {
        status: 400,
        body: JSON.stringify({ error: { message: "Invalid Input Provided", code: 2001, errors: ["Incident Key is invalid"] } }),
      },
      mustSay: ["400", "Invalid Input Provided", "Incident Key is invalid"],
    },
    echoingRejection: () => ({
      status: 400,
      body: JSON.stringify({
        error: { message: "Invalid Input Provided", code: 2001, errors: [`Token token=${PAGERDUTY_STANDIN_API_TOKEN} may not do this`] },
      }),
    }),
    defaultRetryAfterMs: 60_000,
  },
];

function notesSink(apiUrl: string, timeoutMs?: number): Sink {
  return new PagerDutyNotesSink({
    apiToken: PAGERDUTY_STANDIN_API_TOKEN,
    fromEmail: PAGERDUTY_STANDIN_FROM_EMAIL,
    apiUrl,
    incidentKey: (d) => alertmanagerIncidentKey(d.groupKey),
    timeoutMs,
  });
}

function errorOf(outcome: SinkOutcome): string {
  return outcome.status === "delivered" ? (outcome.detail ?? "") : outcome.error;
}

describe.each(cases)("$name sink", (c) => {
  const running: Running[] = [];
  const outcomes: SinkOutcome[] = [];

  async function start(): Promise<Running> {
    const r = await c.start();
    running.push(r);
    return r;
  }

  async function deliver(sink: Sink): Promise<SinkOutcome> {
    const outcome = await sink.deliver(makeDiagnosis());
    outcomes.push(outcome);
    for (const secret of c.secrets) expect(errorOf(outcome)).not.toContain(secret);
    // The metrics count failures by this name, so every failure has one and it is a plain word.
    if (outcome.status !== "delivered") expect(outcome.code).toMatch(/^[a-z0-9_]+$/);
    return outcome;
  }

  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.close()));
  });

  it("reports delivered when the service accepts the message", async () => {
    const r = await start();
    const outcome = await deliver(r.sink());
    expect(outcome.status).toBe("delivered");
    expect(r.accepted()).toBe(1);
  });

  it("asks for a retry after the Retry-After seconds when rate limited", async () => {
    const r = await start();
    r.failNext(1, { status: 429, retryAfterSeconds: 7 });
    expect(await deliver(r.sink())).toMatchObject({ status: "retry", retryAfterMs: 7000 });
  });

  it("falls back to the service's advised wait when a 429 has no Retry-After", async () => {
    const r = await start();
    r.failNext(1, { status: 429 });
    expect(await deliver(r.sink())).toMatchObject({ status: "retry", retryAfterMs: c.defaultRetryAfterMs });
  });

  it("asks for a retry when the service answers 500", async () => {
    const r = await start();
    r.failNext(1, { status: 500 });
    const outcome = await deliver(r.sink());
    expect(outcome.status).toBe("retry");
    expect(errorOf(outcome)).toContain("500");
  });

  it("gives up with the service's own message when it rejects the message", async () => {
    const r = await start();
    r.failNext(1, c.rejection.failure);
    const outcome = await deliver(r.sink());
    expect(outcome.status).toBe("failed");
    for (const words of c.rejection.mustSay) expect(errorOf(outcome)).toContain(words);
  });

  it("asks for a retry when the connection is refused", async () => {
    const outcome = await deliver(await c.refused());
    expect(outcome.status).toBe("retry");
    expect(errorOf(outcome)).toMatch(/ECONNREFUSED/);
  });

  it("asks for a retry when the service never answers", async () => {
    const r = await start();
    r.failNext(1, { hang: true });
    const startedAt = Date.now();
    const outcome = await deliver(r.sink(300));
    expect(outcome.status).toBe("retry");
    expect(errorOf(outcome)).toContain("300 ms");
    expect(Date.now() - startedAt).toBeLessThan(5000);
  });

  it("masks its secrets even when the service echoes them back", async () => {
    const r = await start();
    const url = c.name.startsWith("Slack") ? `http://127.0.0.1${SLACK_STANDIN_WEBHOOK_PATH}` : "";
    r.failNext(1, c.echoingRejection(url));
    const outcome = await deliver(r.sink());
    expect(outcome.status).toBe("failed");
    expect(errorOf(outcome)).toContain("[redacted]");
  });

  it("never puts a secret from its configuration into any outcome", () => {
    expect(outcomes.length).toBeGreaterThanOrEqual(8);
    const everything = outcomes.map(errorOf).join("\n");
    for (const secret of c.secrets) expect(everything).not.toContain(secret);
  });
});
