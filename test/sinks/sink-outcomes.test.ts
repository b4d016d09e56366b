// The outcome table run against every HTTP sink through its service's stand-in: for each HTTP status and each way a
// connection can fail, the delivery result (delivered, retry after N, failed with a reason); then the no-secrets rule.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { PagerDutyEventsSink } from "../../src/sinks/pagerduty-events.ts";
import { PagerDutyNotesSink } from "../../src/sinks/pagerduty-notes.ts";
import { alertmanagerIncidentKey } from "../../src/sinks/pagerduty-sinks.ts";
import type { Sink, SinkOutcome } from "../../src/sinks/sink.ts";
import { SlackWebApiSink } from "../../src/sinks/slack-web-api.ts";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import { makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import type { ScriptedFailure } from "../support/http-standin.ts";
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
  /** A sink with the same secrets sending to `base` (scheme, host and port) instead of the stand-in. */
  pointedAt: (base: string, timeoutMs: number) => Sink;
  /** How this service words a refusal of its own with this status. */
  refusal: (status: number) => ScriptedFailure;
  /** The reason an outcome names for that refusal: the service's error name, or one for the status. */
  reasonFor: (status: number) => string;
  /** How long a 429 without Retry-After makes it wait: what the service advises. */
  rateLimitWaitMs: number;
  /** What a 2xx whose body is not the service's answer comes to. */
  unreadable2xx: Expected;
  /** A rejection in the service's own format, and the words of it the outcome must repeat. */
  rejection: { failure: ScriptedFailure; mustSay: string[] };
  /** A rejection whose body echoes the secret back. */
  echoingRejection: ScriptedFailure;
}

type Expected = { status: "delivered" } | { status: "retry"; code: string; retryAfterMs?: number } | { status: "failed"; code: string };

const json = (status: number, body: unknown): ScriptedFailure => ({ status, body: JSON.stringify(body) });

/** PagerDuty's refusals carry no error name, so the reason is the status's, or the name the REST API sink gives it. */
const pagerDutyReason =
  (named: Record<number, string> = {}) =>
  (status: number): string =>
    named[status] ?? (status === 429 ? "rate_limited" : `http_${status}`);

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
    pointedAt: (base, timeoutMs) => new SlackWebhookSink({ webhookUrl: `${base}${SLACK_STANDIN_WEBHOOK_PATH}`, timeoutMs }),
    // A webhook answers in plain text: its error name is the whole body (protocols.md 2.1).
    refusal: (status) => ({ status, body: `refusal_${status}` }),
    reasonFor: (status) => `refusal_${status}`,
    rateLimitWaitMs: 1000,
    unreadable2xx: { status: "failed", code: "invalid_response" },
    rejection: { failure: { status: 400, body: "invalid_blocks" }, mustSay: ["400", "invalid_blocks"] },
    echoingRejection: { status: 404, body: `channel_not_found for http://127.0.0.1${SLACK_STANDIN_WEBHOOK_PATH}` },
  },
  {
    name: "Slack Web API",
    secrets: [SLACK_STANDIN_BOT_TOKEN],
    async start() {
      const standIn = await startSlackWebApiStandIn();
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
    pointedAt: (base, timeoutMs) =>
      new SlackWebApiSink({ botToken: SLACK_STANDIN_BOT_TOKEN, channel: SLACK_STANDIN_CHANNEL_ID, apiUrl: `${base}/api`, timeoutMs }),
    // Outside 200 the Web API's body is Slack's JSON only sometimes; an error name in it still decides the reason.
    refusal: (status) => json(status, { ok: false, error: `refusal_${status}` }),
    reasonFor: (status) => `refusal_${status}`,
    rateLimitWaitMs: 1000,
    unreadable2xx: { status: "failed", code: "invalid_response" },
    // The Web API refuses with HTTP 200 and its error name in JSON (protocols.md 2.1).
    rejection: {
      failure: json(200, {
        ok: false,
        error: "invalid_blocks",
        response_metadata: { messages: ["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"] },
      }),
      mustSay: ["invalid_blocks", "must be less than 3001 characters"],
    },
    echoingRejection: json(200, {
      ok: false,
      error: "invalid_auth",
      response_metadata: { messages: [`token ${SLACK_STANDIN_BOT_TOKEN} is revoked`] },
    }),
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
    pointedAt: (base, timeoutMs) => new PagerDutyEventsSink({ routingKey: ROUTING_KEY, eventsUrl: `${base}/v2/enqueue`, timeoutMs }),
    refusal: (status) => json(status, { status: "invalid event", message: `refused with ${status}`, errors: ["scripted"] }),
    reasonFor: pagerDutyReason(),
    rateLimitWaitMs: 30_000,
    // Any 2xx is PagerDuty's acceptance; the body only adds the dedup key, as in Alertmanager's own receiver.
    unreadable2xx: { status: "delivered" },
    rejection: {
      failure: json(400, { status: "invalid event", message: "Event object is invalid", errors: ["'payload.summary' is required"] }),
      mustSay: ["400", "Event object is invalid", "'payload.summary' is required"],
    },
    echoingRejection: json(400, {
      status: "invalid event",
      message: `Invalid routing key ${ROUTING_KEY}`,
      errors: [`routing_key ${ROUTING_KEY} unknown`],
    }),
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
    pointedAt: (base, timeoutMs) => notesSink(base, timeoutMs),
    refusal: (status) => json(status, { error: { message: `refused with ${status}`, code: 2001 } }),
    // The first request looks the incident up: a 404 there means the API URL is wrong.
    reasonFor: pagerDutyReason({ 401: "unauthorized", 403: "forbidden", 404: "not_found" }),
    rateLimitWaitMs: 60_000,
    unreadable2xx: { status: "failed", code: "invalid_response" },
    rejection: {
      failure: json(400, { error: { message: "Invalid Input Provided", code: 2001, errors: ["Incident Key is invalid"] } }),
      mustSay: ["400", "Invalid Input Provided", "Incident Key is invalid"],
    },
    echoingRejection: json(400, {
      error: { message: "Invalid Input Provided", code: 2001, errors: [`Token token=${PAGERDUTY_STANDIN_API_TOKEN} may not do this`] },
    }),
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

/** The table every sink follows: an HTTP status, what the service said with it, and the outcome. */
interface StatusRow {
  outcome: string;
  reply: (c: SinkCase) => ScriptedFailure;
  expected: (c: SinkCase) => Expected;
}

const refused = (status: number): StatusRow => ({
  outcome: `${status}`,
  reply: (c) => c.refusal(status),
  expected: (c) => ({ status: "failed", code: c.reasonFor(status) }),
});

/** A retry waits for Retry-After when the answer has one; a 429 without it waits what the service advises. */
const retried = (status: number, retryAfterSeconds?: number): StatusRow => ({
  outcome: `${status}${retryAfterSeconds !== undefined ? ` with Retry-After: ${retryAfterSeconds}` : ""}`,
  reply: (c) => ({ ...c.refusal(status), ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) }),
  expected: (c) => {
    const wait = retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : status === 429 ? c.rateLimitWaitMs : undefined;
    return { status: "retry", code: c.reasonFor(status), ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
  },
});

const STATUS_TABLE: StatusRow[] = [
  refused(400),
  refused(401),
  refused(403),
  refused(404),
  retried(408),
  refused(409),
  refused(413),
  retried(429, 7),
  retried(429),
  retried(500),
  retried(502),
  retried(503),
  retried(503, 5),
  {
    outcome: "200 with a body that is not the service's answer",
    reply: () => ({ status: 200, body: "<html><body>Sign in to use this network</body></html>" }),
    expected: (c) => c.unreadable2xx,
  },
];

/** Servers that fail below HTTP, on loopback. */
type Misbehaviour = "reset" | "refused" | "silent" | "not TLS";

interface TransportRow {
  outcome: string;
  misbehaviour: Misbehaviour;
  expected: Expected;
  /** What the outcome must say, so a person can tell these apart. */
  says: string;
}

const TRANSPORT_TABLE: TransportRow[] = [
  {
    outcome: "the connection is reset (ECONNRESET)",
    misbehaviour: "reset",
    expected: { status: "retry", code: "network" },
    says: "ECONNRESET",
  },
  {
    outcome: "the connection is refused (ECONNREFUSED)",
    misbehaviour: "refused",
    expected: { status: "retry", code: "network" },
    says: "ECONNREFUSED",
  },
  { outcome: "no answer within the timeout", misbehaviour: "silent", expected: { status: "retry", code: "timeout" }, says: "300 ms" },
  { outcome: "the TLS handshake fails", misbehaviour: "not TLS", expected: { status: "retry", code: "tls" }, says: "TLS handshake failed" },
];

const misbehaving: Array<{ server: Server; sockets: Set<Socket> }> = [];

/** The base URL of a loopback server that misbehaves in the given way. */
async function misbehavingBase(misbehaviour: Misbehaviour): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.once("data", () => {
      if (misbehaviour === "reset") socket.resetAndDestroy();
      // A plain HTTP answer to a TLS ClientHello, as from a proxy or a port that does not speak TLS.
      if (misbehaviour === "not TLS") socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  if (misbehaviour === "refused") await new Promise((resolve) => server.close(resolve));
  else misbehaving.push({ server, sockets });
  return `${misbehaviour === "not TLS" ? "https" : "http"}://127.0.0.1:${port}`;
}

function errorOf(outcome: SinkOutcome): string {
  return outcome.status === "delivered" ? (outcome.detail ?? "") : outcome.error;
}

/** The verdict, reason and wait of an outcome, without its words. */
function verdictOf(outcome: SinkOutcome): Expected {
  if (outcome.status === "delivered") return { status: "delivered" };
  if (outcome.status === "failed") return { status: "failed", code: outcome.code ?? "" };
  return {
    status: "retry",
    code: outcome.code ?? "",
    ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
  };
}

/** An expected outcome in words, for the test's name. */
function summary(expected: Expected): string {
  if (expected.status === "delivered") return "delivered";
  if (expected.status === "failed") return `failed (${expected.code})`;
  return `retry${expected.retryAfterMs !== undefined ? ` after ${expected.retryAfterMs} ms` : " with backoff"} (${expected.code})`;
}

afterAll(async () => {
  for (const { server, sockets } of misbehaving.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

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
    expect(verdictOf(await deliver(r.sink()))).toEqual({ status: "delivered" });
    expect(r.accepted()).toBe(1);
  });

  it.each(STATUS_TABLE.map((row) => [`HTTP ${row.outcome} → ${summary(row.expected(c))}`, row] as const))("%s", async (_, row) => {
    const r = await start();
    r.failNext(1, row.reply(c));
    const outcome = await deliver(r.sink());
    expect(verdictOf(outcome)).toEqual(row.expected(c));
    if (outcome.status !== "delivered") expect(errorOf(outcome)).toContain(`HTTP ${row.reply(c).status}`);
  });

  it.each(TRANSPORT_TABLE.map((row) => [`${row.outcome} → ${summary(row.expected)}`, row] as const))("%s", async (_, row) => {
    const outcome = await deliver(c.pointedAt(await misbehavingBase(row.misbehaviour), 300));
    expect(verdictOf(outcome)).toEqual(row.expected);
    expect(errorOf(outcome)).toContain(row.says);
  });

  it("gives up at once when the configured URL is not an http(s) URL", async () => {
    const outcome = await deliver(c.pointedAt("ftp://127.0.0.1:21", 300));
    expect(verdictOf(outcome)).toEqual({ status: "failed", code: "invalid_url" });
    expect(errorOf(outcome)).toContain("not an http(s) URL");
  });

  it("gives up with the service's own message when it rejects the message", async () => {
    const r = await start();
    r.failNext(1, c.rejection.failure);
    const outcome = await deliver(r.sink());
    expect(outcome.status).toBe("failed");
    for (const words of c.rejection.mustSay) expect(errorOf(outcome)).toContain(words);
  });

  it("masks its secrets even when the service echoes them back", async () => {
    const r = await start();
    r.failNext(1, c.echoingRejection);
    const outcome = await deliver(r.sink());
    expect(outcome.status).toBe("failed");
    expect(errorOf(outcome)).toContain("[redacted]");
  });

  it("never puts a secret from its configuration into any outcome", () => {
    expect(outcomes.length).toBe(1 + STATUS_TABLE.length + TRANSPORT_TABLE.length + 3);
    const everything = outcomes.map(errorOf).join("\n");
    for (const secret of c.secrets) expect(everything).not.toContain(secret);
  });
});

describe("Slack Web API error names, answered with HTTP 200", () => {
  const running: Array<() => Promise<void>> = [];

  afterEach(async () => {
    await Promise.all(running.splice(0).map((close) => close()));
  });

  async function deliverAnswering(body: unknown, retryAfterSeconds?: number): Promise<SinkOutcome> {
    const standIn = await startSlackWebApiStandIn();
    running.push(standIn.close);
    standIn.failNext(1, { status: 200, body: JSON.stringify(body), ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
    const sink = new SlackWebApiSink({
      botToken: standIn.token,
      channel: SLACK_STANDIN_CHANNEL_ID,
      apiUrl: standIn.apiUrl,
      postIntervalMs: 0,
    });
    return sink.deliver(makeDiagnosis());
  }

  it.each(["ratelimited", "rate_limited"])("retries %s after a second when Slack gives no Retry-After", async (error) => {
    expect(verdictOf(await deliverAnswering({ ok: false, error }))).toEqual({ status: "retry", code: error, retryAfterMs: 1000 });
  });

  it.each(["internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"])(
    "retries %s, Slack's word for a passing trouble on its side, with backoff or after its Retry-After",
    async (error) => {
      expect(verdictOf(await deliverAnswering({ ok: false, error }))).toEqual({ status: "retry", code: error });
      expect(verdictOf(await deliverAnswering({ ok: false, error }, 4))).toEqual({ status: "retry", code: error, retryAfterMs: 4000 });
    },
  );

  it.each([
    ["invalid_auth", "SLACK_BOT_TOKEN"],
    ["channel_not_found", "SLACK_CHANNEL"],
    ["not_in_channel", "/invite"],
    ["is_archived", "archived"],
    ["missing_scope", "chat:write"],
    ["account_inactive", "reinstall"],
    ["token_revoked", "reinstall"],
    ["restricted_action", "workspace preference"],
    ["msg_too_long", "too long"],
  ])("gives up on %s and says what to do about it", async (error, advice) => {
    const outcome = await deliverAnswering({ ok: false, error });
    expect(verdictOf(outcome)).toEqual({ status: "failed", code: error });
    expect(errorOf(outcome)).toContain(advice);
  });

  it("gives up on an error name Slack may add later, naming it", async () => {
    const outcome = await deliverAnswering({ ok: false, error: "some_future_error" });
    expect(verdictOf(outcome)).toEqual({ status: "failed", code: "some_future_error" });
  });
});
