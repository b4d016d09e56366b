// Tests for the Slack Web API stand-in's rate limits: per channel for chat.postMessage, per method for the tiers.
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { SLACK_WEB_API_RATE_LIMITS, type SlackWebApiStandIn, startSlackWebApiStandIn } from "./slack-web-api-standin.ts";

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
  contentType: string | null;
}

async function call(standIn: SlackWebApiStandIn, method: string, args: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${standIn.apiUrl}/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${standIn.token}`, "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify(args),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    retryAfter: response.headers.get("retry-after"),
    contentType: response.headers.get("content-type"),
  };
}

const post = (standIn: SlackWebApiStandIn, channel = standIn.channelId) => call(standIn, "chat.postMessage", { channel, text: "firing" });

describe("Slack Web API stand-in", () => {
  let standIn: SlackWebApiStandIn;

  afterEach(async () => {
    await standIn.close();
  });

  it("answers chat.postMessage beyond a short burst in one channel with HTTP 429, Retry-After and ok:false ratelimited", async () => {
    standIn = await startSlackWebApiStandIn();
    const burst = SLACK_WEB_API_RATE_LIMITS["chat.postMessage"].burst;
    const answers: Answer[] = [];
    for (let i = 0; i <= burst; i++) answers.push(await post(standIn));

    expect(answers.slice(0, burst).every((a) => a.status === 200 && a.body.ok === true)).toBe(true);
    expect(answers[burst]).toEqual({
      status: 429,
      body: { ok: false, error: "ratelimited" },
      retryAfter: "1",
      contentType: "application/json; charset=utf-8",
    });
    expect(standIn.messages).toHaveLength(burst);
    expect(standIn.callsTo("chat.postMessage").at(-1)?.error).toBe("ratelimited");
  });

  it("limits each channel on its own: a full channel does not hold up posts to another", async () => {
    standIn = await startSlackWebApiStandIn({
      channels: [
        { id: "C0ALERTS01", name: "alerts" },
        { id: "C0OTHER001", name: "other" },
      ],
      rateLimits: { "chat.postMessage": { perSecond: 1, burst: 1 } },
    });
    expect((await post(standIn, "C0ALERTS01")).status).toBe(200);
    expect((await post(standIn, "#alerts")).status).toBe(429);
    expect((await post(standIn, "C0OTHER001")).status).toBe(200);
    // A thread reply is a message in its channel: it counts against the same limit.
    const parent = standIn.messages[0]?.ts;
    await sleep(1000);
    expect((await call(standIn, "chat.postMessage", { channel: "C0ALERTS01", thread_ts: parent, text: "details" })).status).toBe(200);
    expect((await call(standIn, "chat.postMessage", { channel: "C0ALERTS01", thread_ts: parent, text: "more" })).status).toBe(429);
  });

  it("limits chat.update by its own tier, apart from posting", async () => {
    standIn = await startSlackWebApiStandIn({ rateLimits: { "chat.update": { perSecond: 50 / 60, burst: 2 } } });
    const ts = (await post(standIn)).body.ts;
    const edit = () => call(standIn, "chat.update", { channel: standIn.channelId, ts, text: "updated" });
    const answers = [await edit(), await edit(), await edit()];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    // A 50-per-minute tier refills a call every 1.2 s: Retry-After rounds that up.
    expect(answers[2]?.retryAfter).toBe("2");
    expect(answers[2]?.body).toEqual({ ok: false, error: "ratelimited" });
    expect(standIn.messages[0]?.updates).toHaveLength(2);
    // Posting has its own bucket.
    expect((await post(standIn)).status).toBe(200);
  });

  it("limits each step of the file upload flow by its own tier", async () => {
    standIn = await startSlackWebApiStandIn({
      rateLimits: {
        "files.getUploadURLExternal": { perSecond: 100 / 60, burst: 1 },
        "files.completeUploadExternal": { perSecond: 100 / 60, burst: 1 },
      },
    });
    const ask = () => call(standIn, "files.getUploadURLExternal", { filename: "chart.png", length: 4 });
    const first = await ask();
    expect(first.status).toBe(200);
    const second = await ask();
    expect(second).toMatchObject({ status: 429, body: { ok: false, error: "ratelimited" }, retryAfter: "1" });
    await fetch(String(first.body.upload_url), { method: "POST", body: Buffer.from("abcd") });
    const complete = () => call(standIn, "files.completeUploadExternal", { files: [{ id: first.body.file_id }] });
    expect((await complete()).status).toBe(200);
    expect((await complete()).status).toBe(429);
  });

  it("counts a 429 it sent and a client that retries before Retry-After; one that waits gets through uncounted", async () => {
    standIn = await startSlackWebApiStandIn({ rateLimits: { "chat.postMessage": { perSecond: 1, burst: 1 } } });
    await post(standIn);
    const limited = await post(standIn);
    expect(limited.status).toBe(429);
    expect((await post(standIn)).status).toBe(429);
    expect(standIn.rateLimits).toMatchObject({ sent429: 2, ignored429: 1 });

    await sleep(Number(limited.retryAfter) * 1000);
    expect((await post(standIn)).status).toBe(200);
    expect(standIn.rateLimits).toMatchObject({ sent429: 2, ignored429: 1 });
    expect(standIn.rateLimits.requests.map((r) => [r.limited, r.earlyByMs !== undefined])).toEqual([
      [false, false],
      [true, false],
      [true, true],
      [false, false],
    ]);
  });

  it("tells the bench about each post and edit as Slack accepts it", async () => {
    const changes: string[] = [];
    standIn = await startSlackWebApiStandIn({ onChange: (change) => changes.push(`${change.kind} ${change.message.text ?? ""}`) });
    const ts = (await post(standIn)).body.ts;
    await call(standIn, "chat.update", { channel: standIn.channelId, ts, text: "resolved" });
    expect(changes).toEqual(["posted firing", "edited resolved"]);
  });
});
