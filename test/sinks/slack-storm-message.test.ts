// The Slack Web API sink in a storm: one storm message per channel, posted once and edited as groups land; the groups
// that join it reply in its thread instead of posting messages of their own.
import { afterEach, describe, expect, it } from "vitest";
import { SlackWebApiSink } from "../../src/sinks/slack-web-api.ts";
import { makeResolvedDiagnosis } from "../support/diagnosis-fixtures.ts";
import { type SlackWebApiStandIn, type StandInMessage, startSlackWebApiStandIn } from "../support/slack-web-api-standin.ts";
import { client, membership, StormRoom } from "../support/storm-room.ts";

const textOf = (message: StandInMessage | undefined) => JSON.stringify([message?.text, message?.blocks, message?.attachments]);

describe("SlackWebApiSink in a storm", () => {
  let standIn: SlackWebApiStandIn;
  afterEach(async () => {
    await standIn.close();
  });

  const sinkFor = (s: SlackWebApiStandIn) =>
    new SlackWebApiSink({
      botToken: s.token,
      channel: s.channelId,
      apiUrl: s.apiUrl,
      postIntervalMs: 0,
      reportLink: (id) => `https://enricher.example.com/reports/${id}`,
    });

  it("posts one storm message for ten groups delivered at once, edits it rather than posting again, and puts each group's diagnosis in its thread", async () => {
    standIn = await startSlackWebApiStandIn({ rateLimits: { "chat.postMessage": { perSecond: 100, burst: 30 } } });
    const room = new StormRoom();
    const sink = sinkFor(standIn);
    const groups = Array.from({ length: 10 }, (_, i) => client(i + 1, membership(10)));
    for (const d of groups) room.land(d);
    const outcomes = await Promise.all(groups.map((d) => sink.deliver(d, room.contextFor(d.groupKey))));

    expect(outcomes.map((o) => o.status)).toEqual(Array(10).fill("delivered"));
    expect(standIn.parents()).toHaveLength(1);
    const [storm] = standIn.parents();
    for (let i = 1; i <= 10; i++) expect(textOf(storm)).toContain(`<https://enricher.example.com/reports/n-${i}|client-${i}>`);
    // Ten deliveries asked for the storm's message: the edits were shared, not one per group.
    expect(standIn.callsTo("chat.update").length).toBeLessThanOrEqual(2);
    const replies = standIn.replies(storm!.ts);
    expect(replies).toHaveLength(10);
    for (let i = 1; i <= 10; i++) expect(replies.filter((r) => textOf(r).includes(`"*client-${i}*"`))).toHaveLength(1);
    // A re-send of the same diagnoses changes nothing in Slack.
    const calls = standIn.calls.length;
    await Promise.all(groups.map((d) => sink.deliver(d, room.contextFor(d.groupKey))));
    expect(standIn.calls.length).toBe(calls);
  });

  it("adds a group that joins later to the storm message, and replies its resolution in the storm's thread by name", async () => {
    standIn = await startSlackWebApiStandIn({ rateLimits: { "chat.postMessage": { perSecond: 100, burst: 30 } } });
    const room = new StormRoom();
    const sink = sinkFor(standIn);
    for (const i of [1, 2, 3, 4, 5]) {
      room.land(client(i, membership(5)));
      await sink.deliver(client(i, membership(5)), room.contextFor(client(i).groupKey));
    }
    const late = client(6, membership(6));
    room.land(late);
    await sink.deliver(late, room.contextFor(late.groupKey));
    const [storm] = standIn.parents();
    expect(standIn.parents()).toHaveLength(1);
    expect(textOf(storm)).toContain("6 alert groups, 6 firing");

    const resolved = { ...makeResolvedDiagnosis(), notificationId: "n-6r", groupKey: late.groupKey, commonLabels: late.commonLabels };
    room.land(resolved);
    expect(await sink.deliver(resolved, room.contextFor(late.groupKey))).toMatchObject({ status: "delivered" });
    expect(textOf(standIn.replies(storm!.ts).at(-1))).toContain("client-6: Resolved after");
    expect(textOf(standIn.parents()[0])).toContain("6 alert groups, 5 firing");
    expect(standIn.parents()).toHaveLength(1);
  });

  it("keeps one storm message when two replicas post it at the same moment: the one not remembered is deleted", async () => {
    standIn = await startSlackWebApiStandIn({ rateLimits: { "chat.postMessage": { perSecond: 100, burst: 30 } } });
    const room = new StormRoom();
    const [a, b] = [client(1, membership(5)), client(2, membership(5))];
    room.land(a);
    room.land(b);
    const outcomes = await Promise.all([
      sinkFor(standIn).deliver(a, room.contextFor(a.groupKey)),
      sinkFor(standIn).deliver(b, room.contextFor(b.groupKey)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["delivered", "delivered"]);
    expect(standIn.callsTo("chat.delete")).toHaveLength(1);
    expect(standIn.parents()).toHaveLength(1);
    expect(standIn.replies(standIn.parents()[0]!.ts)).toHaveLength(2);
  });

  it("posts the storm message anew when someone deleted it, and the groups' replies follow it there", async () => {
    standIn = await startSlackWebApiStandIn({ rateLimits: { "chat.postMessage": { perSecond: 100, burst: 30 } } });
    const room = new StormRoom();
    const sink = sinkFor(standIn);
    room.land(client(1, membership(5)));
    await sink.deliver(client(1, membership(5)), room.contextFor(client(1).groupKey));
    standIn.deleteMessage(standIn.parents()[0]!.ts);
    room.land(client(2, membership(6)));
    expect(await sink.deliver(client(2, membership(6)), room.contextFor(client(2).groupKey))).toMatchObject({ status: "delivered" });
    const [storm] = standIn.parents();
    expect(standIn.parents()).toHaveLength(1);
    expect(textOf(storm)).toContain("2 alert groups");
    expect(standIn.replies(storm!.ts).map(textOf).join()).toContain('"*client-2*"');
  });

  it("retries when the store cannot say what the storm is, and gives the group a message of its own when the storm is gone", async () => {
    standIn = await startSlackWebApiStandIn();
    const room = new StormRoom();
    const sink = sinkFor(standIn);
    room.land(client(1, membership(5)));
    room.failReads = true;
    expect(await sink.deliver(client(1, membership(5)), room.contextFor(client(1).groupKey))).toMatchObject({
      status: "retry",
      code: "storm_unreadable",
      error: expect.stringContaining("connection reset by the store"),
    });
    expect(standIn.messages).toHaveLength(0);
    room.failReads = false;
    room.gone = true;
    expect(await sink.deliver(client(1, membership(5)), room.contextFor(client(1).groupKey))).toMatchObject({ status: "delivered" });
    expect(standIn.parents()).toHaveLength(1);
    expect(textOf(standIn.parents()[0])).toContain("Part of a storm of 5");
  });
});
