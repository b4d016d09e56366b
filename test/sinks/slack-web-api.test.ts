// Tests for the Slack Web API sink: one message per alert group, kept up to date, with the details and chart in its thread.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import type { DeliveryContext, SinkOutcome } from "../../src/sinks/sink.ts";
import { readSlackWebApiState, type SlackChart, SlackWebApiSink, type SlackWebApiSinkOptions } from "../../src/sinks/slack-web-api.ts";
import {
  makeAlertDiagnosis,
  makeCause,
  makeDiagnosis,
  makeHugeDiagnosis,
  makeResolvedDiagnosis,
  makeSteps,
} from "../support/diagnosis-fixtures.ts";
import {
  SLACK_STANDIN_BOT_TOKEN,
  SLACK_STANDIN_CHANNEL_ID,
  type SlackWebApiStandIn,
  type SlackWebApiStandInOptions,
  type StandInMessage,
  startSlackWebApiStandIn,
} from "../support/slack-web-api-standin.ts";

/** The store's part: what the sink saved last, handed back with the next delivery. */
interface RememberingContext extends DeliveryContext {
  saves: unknown[];
}

function rememberingContext(state?: unknown): RememberingContext {
  const context: RememberingContext = {
    state,
    saves: [],
    async saveState(next) {
      // A round trip through JSON, as the store does, so nothing but data survives.
      context.state = JSON.parse(JSON.stringify(next));
      context.saves.push(context.state);
    },
  };
  return context;
}

function textOf(message: StandInMessage | undefined): string {
  return JSON.stringify([message?.text, message?.blocks, message?.attachments]);
}

/**
 * Slack's one message per second per channel, raised for the tests about what the sink sends and remembers across
 * several deliveries in a row: they run the sink with postIntervalMs 0 to stay fast, and its pacing has tests of its own.
 */
const UNPACED: SlackWebApiStandInOptions = { rateLimits: { "chat.postMessage": { perSecond: 100, burst: 20 } } };
/** One message per second with no burst at all, so that only the sink's own pacing keeps a reply from meeting a 429. */
const NO_BURST: SlackWebApiStandInOptions = { rateLimits: { "chat.postMessage": { perSecond: 1, burst: 1 } } };

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489", "hex");

describe("SlackWebApiSink", () => {
  let standIn: SlackWebApiStandIn;
  const outcomes: SinkOutcome[] = [];

  afterEach(async () => {
    vi.useRealTimers();
    await standIn.close();
  });

  /**
   * Moves the clock the sink and the stand-in read past chat.update's pace (one per 1.2 s), so the next update goes at
   * once instead of the test waiting for it in real time; the clock keeps running from there. The pacing itself is
   * tested in destination-pacer.test.ts and, in real time, in slack-web-api-client.test.ts.
   */
  function pastUpdatePace(): void {
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + 1200);
  }

  async function start(options: SlackWebApiStandInOptions = {}): Promise<SlackWebApiStandIn> {
    standIn = await startSlackWebApiStandIn(options);
    return standIn;
  }

  function sink(options: Partial<SlackWebApiSinkOptions> = {}): SlackWebApiSink {
    return new SlackWebApiSink({ botToken: standIn.token, channel: "#alerts", apiUrl: standIn.apiUrl, postIntervalMs: 0, ...options });
  }

  async function deliver(s: SlackWebApiSink, d: Diagnosis, context?: DeliveryContext): Promise<SinkOutcome> {
    const outcome = await s.deliver(d, context);
    outcomes.push(outcome);
    return outcome;
  }

  function refused(): string[] {
    return standIn.calls.filter((c) => c.error !== undefined).map((c) => `${c.method}: ${c.error} ${(c.reasons ?? []).join(", ")}`);
  }

  it("posts the message once and replies in its thread with every step and every cause considered", async () => {
    await start();
    const context = rememberingContext();
    const outcome = await deliver(sink(), makeDiagnosis(), context);

    expect(outcome.status).toBe("delivered");
    expect(refused()).toEqual([]);
    expect(standIn.warnings).toEqual([]);
    const [parent] = standIn.parents();
    expect(standIn.parents()).toHaveLength(1);
    expect(textOf(parent)).toContain("FIRING");
    const replies = standIn.replies(parent?.ts ?? "");
    expect(replies).toHaveLength(1);
    const thread = textOf(replies[0]);
    for (const step of makeSteps()) {
      expect(thread).toContain(step.title);
      expect(thread).toContain(`${step.durationMs} ms`);
      expect(thread).toContain(step.summary);
    }
    for (const [title, confidence] of [
      ["Client credentials rejected", "86%"],
      ["API server throttling the client (429)", "9%"],
      ["Network errors reaching the API server", "5%"],
    ]) {
      expect(thread).toContain(`*${title}* · ${confidence}`);
    }
    expect(thread).toContain("```E0820 10:13:58.412 reflector.go:147] Failed to watch *v1.Pod: failed to list *v1.Pod: Unauthorized```");
    expect(readSlackWebApiState(context.state)).toMatchObject({ channel: SLACK_STANDIN_CHANNEL_ID, ts: parent?.ts, resolved: false });
  });

  it("saves the message's ts as soon as Slack accepted it, before the thread reply is tried", async () => {
    await start();
    const context = rememberingContext();
    standIn.failNext(1, { status: 500 }, { method: "chat.postMessage", after: 1 });
    await deliver(sink(), makeDiagnosis(), context);
    expect(context.saves).toHaveLength(1);
    expect(context.saves[0]).toMatchObject({ v: 1, ts: standIn.parents()[0]?.ts });
    expect(context.saves[0]).not.toHaveProperty("replied");
  });

  it("does not post the message twice when a retry follows a failed thread reply, and still posts the reply", async () => {
    await start();
    const context = rememberingContext();
    const slack = sink();
    standIn.failNext(1, { status: 500 }, { method: "chat.postMessage", after: 1 });

    const first = await deliver(slack, makeDiagnosis(), context);
    expect(first).toMatchObject({ status: "retry", code: "http_500" });
    expect(standIn.parents()).toHaveLength(1);
    expect(standIn.messages).toHaveLength(1);

    const second = await deliver(slack, makeDiagnosis(), context);
    expect(second.status).toBe("delivered");
    const [parent] = standIn.parents();
    expect(standIn.parents()).toHaveLength(1);
    expect(standIn.replies(parent?.ts ?? "")).toHaveLength(1);
    // The retry neither posted nor edited the message again: the same notification is already shown.
    expect(standIn.callsTo("chat.update")).toEqual([]);
  });

  it("updates the same message when Alertmanager re-sends the group, and replies only when the diagnosis changed", async () => {
    await start();
    const context = rememberingContext();
    const slack = sink();
    await deliver(slack, makeDiagnosis(), context);
    const ts = standIn.parents()[0]?.ts ?? "";

    // Same findings, later run: new timestamps and durations are not news.
    const rerun = makeDiagnosis({
      notificationId: "n-0002",
      createdAt: "2026-08-20T10:20:01.700Z",
      alerts: [makeAlertDiagnosis({ startedAt: "2026-08-20T10:20:01.000Z", finishedAt: "2026-08-20T10:20:02.000Z" })],
    });
    expect((await deliver(slack, rerun, context)).status).toBe("delivered");
    expect(standIn.callsTo("chat.update").map((c) => c.body.ts)).toEqual([ts]);
    expect(standIn.parents()).toHaveLength(1);
    expect(standIn.replies(ts)).toHaveLength(1);

    const changed = makeDiagnosis({
      notificationId: "n-0003",
      alerts: [
        makeAlertDiagnosis({
          causes: [makeCause({ id: "apiserver-throttling", title: "API server throttling the client (429)", summary: "Now it is 429s" })],
        }),
      ],
    });
    pastUpdatePace();
    expect((await deliver(slack, changed, context)).status).toBe("delivered");
    expect(standIn.callsTo("chat.update")).toHaveLength(2);
    expect(standIn.parents()).toHaveLength(1);
    expect(textOf(standIn.parents()[0])).toContain("Now it is 429s");
    const replies = standIn.replies(ts);
    expect(replies).toHaveLength(2);
    expect(textOf(replies[1])).toContain("The diagnosis changed");
    expect(refused()).toEqual([]);
  });

  it("edits the message to resolved and replies with how long the group fired", async () => {
    await start();
    const context = rememberingContext();
    const slack = sink();
    await deliver(slack, makeDiagnosis(), context);
    const resolved = { ...makeResolvedDiagnosis(), notificationId: "n-0002" };

    expect(await deliver(slack, resolved, context)).toMatchObject({ status: "delivered" });
    const [parent] = standIn.parents();
    expect(standIn.parents()).toHaveLength(1);
    expect(parent?.updates).toHaveLength(1);
    expect(textOf(parent)).toContain("RESOLVED");
    expect(parent?.attachments).toMatchObject([{ color: "#2EB67D" }]);
    const replies = standIn.replies(parent?.ts ?? "");
    // 10:00:00.123 to 10:42:00.000
    expect(replies.map((r) => r.text)).toEqual([expect.stringContaining("Diagnosis details"), "✅ Resolved after 42m"]);

    // Alertmanager may send the resolved group again: the thread already says so.
    pastUpdatePace();
    await deliver(slack, { ...resolved, notificationId: "n-0003" }, context);
    expect(standIn.replies(parent?.ts ?? "")).toHaveLength(2);
  });

  it("starts a new message when the group fires again after it resolved", async () => {
    await start(UNPACED);
    const context = rememberingContext();
    const slack = sink();
    await deliver(slack, makeDiagnosis(), context);
    await deliver(slack, { ...makeResolvedDiagnosis(), notificationId: "n-0002" }, context);
    await deliver(slack, makeDiagnosis({ notificationId: "n-0003" }), context);
    expect(standIn.parents()).toHaveLength(2);
    expect(readSlackWebApiState(context.state)?.ts).toBe(standIn.parents()[1]?.ts);
  });

  it("updates the message after a restart, from the state the store kept", async () => {
    await start();
    const context = rememberingContext();
    await deliver(sink(), makeDiagnosis(), context);

    const afterRestart = rememberingContext(context.state);
    expect((await deliver(sink(), makeDiagnosis({ notificationId: "n-0002" }), afterRestart)).status).toBe("delivered");
    expect(standIn.parents()).toHaveLength(1);
    expect(standIn.callsTo("chat.update").map((c) => c.body.ts)).toEqual([standIn.parents()[0]?.ts]);
  });

  it.each([
    ["message_not_found", "was deleted"],
    ["cant_update_message", "cannot be edited"],
    ["edit_window_closed", "is too old to edit"],
  ])("posts a new message and remembers its ts when Slack answers %s (the old one %s)", async (error) => {
    await start(UNPACED);
    const context = rememberingContext();
    const slack = sink();
    await deliver(slack, makeDiagnosis(), context);
    const oldTs = standIn.parents()[0]?.ts ?? "";
    if (error === "message_not_found") standIn.deleteMessage(oldTs);
    else standIn.failNext(1, { status: 200, body: JSON.stringify({ ok: false, error }) }, { method: "chat.update" });

    const outcome = await deliver(slack, makeDiagnosis({ notificationId: "n-0002" }), context);
    expect(outcome).toMatchObject({ status: "delivered", detail: expect.stringContaining(error) });
    const newest = standIn.parents().at(-1);
    expect(newest?.ts).not.toBe(oldTs);
    expect(readSlackWebApiState(context.state)?.ts).toBe(newest?.ts);
    // The new message has its own thread with the details.
    expect(standIn.replies(newest?.ts ?? "")).toHaveLength(1);

    pastUpdatePace();
    await deliver(slack, makeDiagnosis({ notificationId: "n-0003" }), context);
    expect(standIn.callsTo("chat.update").at(-1)?.body.ts).toBe(newest?.ts);
  });

  it("asks for a retry after Slack's Retry-After, one second when it gives none", async () => {
    await start();
    standIn.failNext(1, { status: 429, retryAfterSeconds: 7 });
    expect(await deliver(sink(), makeDiagnosis())).toMatchObject({ status: "retry", code: "ratelimited", retryAfterMs: 7000 });
    standIn.failNext(1, { status: 429 });
    expect(await deliver(sink(), makeDiagnosis())).toMatchObject({ status: "retry", code: "ratelimited", retryAfterMs: 1000 });
    expect(standIn.messages).toEqual([]);
  });

  it("meets Slack's one message per second by pacing its own posts, so a first delivery needs no retry", async () => {
    await start(NO_BURST);
    const startedAt = Date.now();
    const outcome = await deliver(sink({ postIntervalMs: undefined }), makeDiagnosis(), rememberingContext());
    expect(outcome.status).toBe("delivered");
    expect(refused()).toEqual([]);
    expect(standIn.messages).toHaveLength(2);
    expect(standIn.rateLimits.sent429).toBe(0);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1000);
  });

  it("resumes with the thread reply when Slack rate limited it, after the wait it asked for", async () => {
    await start(NO_BURST);
    const context = rememberingContext();
    const slack = sink();
    expect(await deliver(slack, makeDiagnosis(), context)).toMatchObject({ status: "retry", code: "ratelimited", retryAfterMs: 1000 });
    // The wait passes on the clock both the sink and the stand-in read, instead of in real time: the stand-in would
    // count a reply that came before its Retry-After as ignoring it.
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + 1100);
    expect((await deliver(slack, makeDiagnosis(), context)).status).toBe("delivered");
    expect(standIn.parents()).toHaveLength(1);
    expect(standIn.messages).toHaveLength(2);
    expect(standIn.rateLimits).toMatchObject({ sent429: 1, ignored429: 0 });
  });

  it.each([
    ["channel_not_found", () => sink({ channel: "#no-such-channel" })],
    ["invalid_auth", () => sink({ botToken: "xoxb-0000000000-revoked" })],
  ])("gives up on %s with Slack's error name, without retrying", async (error, make) => {
    await start();
    const outcome = await deliver(make(), makeDiagnosis(), rememberingContext());
    expect(outcome).toMatchObject({ status: "failed", code: error, error: expect.stringContaining(error) });
    expect(standIn.messages).toEqual([]);
  });

  it.each(["not_in_channel", "invalid_blocks", "missing_scope"])("gives up on %s with Slack's error name", async (error) => {
    await start();
    standIn.failNext(1, { status: 200, body: JSON.stringify({ ok: false, error, needed: "chat:write" }) });
    const outcome = await deliver(sink(), makeDiagnosis());
    expect(outcome).toMatchObject({ status: "failed", code: error, error: expect.stringContaining(error) });
  });

  it("fails a chat.update it cannot fix by posting anew, such as an archived channel", async () => {
    await start();
    const context = rememberingContext();
    await deliver(sink(), makeDiagnosis(), context);
    standIn.failNext(1, { status: 200, body: JSON.stringify({ ok: false, error: "is_archived" }) }, { method: "chat.update" });
    const outcome = await deliver(sink(), makeDiagnosis({ notificationId: "n-0002" }), context);
    expect(outcome).toMatchObject({ status: "failed", code: "is_archived" });
    expect(standIn.parents()).toHaveLength(1);
  });

  it("uploads the chart into the thread through getUploadURLExternal, the upload URL and completeUploadExternal", async () => {
    await start();
    const context = rememberingContext();
    const chart = async (): Promise<SlackChart> => ({ png: PNG, title: "Client errors by code, last hour", altText: "401s rise at 09:58" });
    const outcome = await deliver(sink({ chart }), makeDiagnosis(), context);

    expect(outcome).toMatchObject({ status: "delivered", detail: expect.stringMatching(/chart F\d+ uploaded/) });
    expect(refused()).toEqual([]);
    const ts = standIn.parents()[0]?.ts;
    expect(standIn.files).toHaveLength(1);
    expect(standIn.files[0]).toMatchObject({
      filename: "kubeclienterrors-chart.png",
      length: PNG.length,
      altText: "401s rise at 09:58",
      completed: true,
      title: "Client errors by code, last hour",
      channel: SLACK_STANDIN_CHANNEL_ID,
      thread_ts: ts,
    });
    expect(standIn.files[0]?.bytes?.equals(PNG)).toBe(true);
    expect(standIn.calls.map((c) => c.method)).toEqual([
      "chat.postMessage",
      "chat.postMessage",
      "files.getUploadURLExternal",
      "files.completeUploadExternal",
    ]);

    // A re-send with the same diagnosis adds no second chart.
    await deliver(sink({ chart }), makeDiagnosis({ notificationId: "n-0002" }), context);
    expect(standIn.files).toHaveLength(1);
  });

  it("in a storm, uploads a chart only for a group whose verdict no other group of the storm has yet", async () => {
    await start(UNPACED);
    const chart = async (): Promise<SlackChart> => ({ png: PNG, title: "t", altText: "a" });
    const storm = { id: "s-1", openedAt: "2026-12-04T09:41:00.000Z", groups: 12, cluster: "prod-eu", windowSeconds: 120 };
    const first = await deliver(
      sink({ chart }),
      { ...makeDiagnosis({ groupKey: "a" }), storm: { ...storm, sameVerdict: 1 } },
      rememberingContext(),
    );
    expect(first).toMatchObject({ status: "delivered", detail: expect.stringMatching(/chart F\d+ uploaded/) });
    const same = await deliver(
      sink({ chart }),
      { ...makeDiagnosis({ groupKey: "b" }), storm: { ...storm, sameVerdict: 7 } },
      rememberingContext(),
    );
    expect(same).toMatchObject({
      status: "delivered",
      detail: expect.stringContaining("chart skipped: part of a storm, 6 other groups have this verdict"),
    });
    expect(standIn.files).toHaveLength(1);
  });

  it("delivers without the chart when drawing or uploading it fails, and does not try it again", async () => {
    await start(UNPACED);
    const broken = async (): Promise<SlackChart> => {
      throw new Error("Prometheus did not answer");
    };
    const drawn = rememberingContext();
    expect(await deliver(sink({ chart: broken }), makeDiagnosis(), drawn)).toMatchObject({
      status: "delivered",
      detail: expect.stringContaining("chart skipped: drawing it failed (Prometheus did not answer)"),
    });

    const uploaded = rememberingContext();
    standIn.failNext(1, { status: 500 }, { method: "upload" });
    const chart = async (): Promise<SlackChart> => ({ png: PNG, title: "t", altText: "a" });
    expect(await deliver(sink({ chart }), makeDiagnosis({ groupKey: "other" }), uploaded)).toMatchObject({
      status: "delivered",
      detail: expect.stringContaining("chart skipped: the upload answered HTTP 500"),
    });
    expect(standIn.files.filter((f) => f.completed)).toEqual([]);
    await deliver(sink({ chart }), makeDiagnosis({ groupKey: "other" }), uploaded);
    expect(standIn.callsTo("files.getUploadURLExternal")).toHaveLength(1);
  });

  it("has a huge diagnosis accepted by Slack's limits, in the message and in the thread", async () => {
    await start({ maxTotalBlockText: 12_000 });
    const outcome = await deliver(sink(), makeHugeDiagnosis(), rememberingContext());
    expect(outcome.status).toBe("delivered");
    expect(refused()).toEqual([]);
    const reply = standIn.replies(standIn.parents()[0]?.ts ?? "")[0];
    expect(reply?.blocks?.length).toBeLessThanOrEqual(50);
    expect(textOf(reply)).toContain("(truncated)");
  });

  it("masks the bot token even when Slack echoes it back", async () => {
    await start();
    standIn.failNext(1, {
      status: 200,
      body: JSON.stringify({
        ok: false,
        error: "invalid_auth",
        response_metadata: { messages: [`token ${SLACK_STANDIN_BOT_TOKEN} is revoked`] },
      }),
    });
    const outcome = await deliver(sink(), makeDiagnosis());
    expect(outcome).toMatchObject({ status: "failed", code: "invalid_auth", error: expect.stringContaining("[redacted]") });
  });

  it("never puts the bot token into any outcome", () => {
    expect(outcomes.length).toBeGreaterThanOrEqual(20);
    const everything = JSON.stringify(outcomes);
    expect(everything).not.toContain(SLACK_STANDIN_BOT_TOKEN);
    expect(everything).not.toContain("StandInBotTokenSecret42");
  });
});
