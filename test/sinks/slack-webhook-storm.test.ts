// The incoming-webhook sink in a storm: a webhook message cannot be edited, so the storm is posted as snapshots, at
// most one every few seconds, each naming every group with its verdict and report link, instead of a message a group.
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderSlackStormMessage, stormMessageDigest } from "../../src/render/slack-storm.ts";
import { reportLinkFor } from "../../src/server/report-links.ts";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import { makeResolvedDiagnosis } from "../support/diagnosis-fixtures.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";
import { client, membership, StormRoom } from "../support/storm-room.ts";

const reportLink = reportLinkFor({ publicUrl: "https://enricher.example.com", secret: "webhook-storm-secret-0123456789", ttlHours: 24 });

describe("SlackWebhookSink in a storm", () => {
  let standIn: SlackStandIn;
  afterEach(async () => {
    await standIn.close();
  });

  it("names 30 groups delivered over 2 s in a few snapshots, the last naming them all, with no 429 from Slack's posting limit", async () => {
    standIn = await startSlackStandIn();
    const room = new StormRoom();
    const stormLink = (id: string) => `https://enricher.example.com/reports/storms/${id}?token=t`;
    const sink = new SlackWebhookSink({ webhookUrl: standIn.webhookUrl, reportLink, stormLink, stormSnapshotIntervalMs: 1000 });
    const deliveries: Promise<unknown>[] = [];
    for (let i = 1; i <= 30; i++) {
      const d = client(i, membership(i));
      room.land(d);
      deliveries.push(sink.deliver(d, room.contextFor(d.groupKey)));
      await new Promise((r) => setTimeout(r, 66));
    }
    const outcomes = await Promise.all(deliveries);
    expect(outcomes).toEqual(Array(30).fill(expect.objectContaining({ status: "delivered" })));
    expect(standIn.messages.length).toBeGreaterThanOrEqual(2);
    expect(standIn.messages.length).toBeLessThanOrEqual(5);
    const last = JSON.stringify(standIn.messages.at(-1));
    expect(last).toContain("Storm in prod-eu: 30 alert groups, 30 firing");
    for (let i = 1; i <= 30; i++) expect(last).toContain(`client-${i}`);
    expect(last).toContain("https://enricher.example.com/reports/n-1?token=");
    expect(last).toContain("|storm page>");
    expect(standIn.rateLimits.sent429).toBe(0);
  });

  it("posts nothing new for a re-send that changes nothing, and strikes out a group that resolves in the next snapshot", async () => {
    standIn = await startSlackStandIn();
    const room = new StormRoom();
    const sink = new SlackWebhookSink({ webhookUrl: standIn.webhookUrl, reportLink, stormSnapshotIntervalMs: 50 });
    for (const i of [1, 2, 3, 4, 5]) room.land(client(i, membership(5)));
    await Promise.all([1, 2, 3, 4, 5].map((i) => sink.deliver(client(i, membership(5)), room.contextFor(client(i).groupKey))));
    expect(standIn.messages).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(await sink.deliver(client(2, membership(5)), room.contextFor(client(2).groupKey))).toMatchObject({
      status: "delivered",
      detail: expect.stringContaining("already shown"),
    });
    expect(standIn.messages).toHaveLength(1);

    const resolved = {
      ...makeResolvedDiagnosis(),
      notificationId: "n-2r",
      groupKey: client(2).groupKey,
      commonLabels: client(2).commonLabels,
    };
    room.land(resolved);
    expect(await sink.deliver(resolved, room.contextFor(resolved.groupKey))).toMatchObject({ status: "delivered" });
    expect(standIn.messages).toHaveLength(2);
    expect(JSON.stringify(standIn.messages[1])).toContain("5 alert groups, 4 firing");
  });

  it("keeps a message per group when report pages are off: without a link, a group's details would be nowhere in Slack", async () => {
    standIn = await startSlackStandIn();
    const room = new StormRoom();
    const sink = new SlackWebhookSink({ webhookUrl: standIn.webhookUrl });
    for (const i of [1, 2]) {
      room.land(client(i, membership(5)));
      await sink.deliver(client(i, membership(5)), room.contextFor(client(i).groupKey));
    }
    expect(standIn.messages).toHaveLength(2);
    expect(JSON.stringify(standIn.messages[0])).toContain("Part of a storm of 5");
  });

  it("gives the same digest to a storm rendered again later, though its report links are signed afresh", async () => {
    const room = new StormRoom();
    for (const i of [1, 2, 3]) room.land(client(i, membership(3)));
    const storm = (await room.read("6f0d2c1e-storm"))!;
    const first = stormMessageDigest(storm);
    const linked = JSON.stringify(renderSlackStormMessage(storm, { reportLink }));
    // A second later by the clock the links are signed with: their expiry, and so their tokens, change.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 1100);
      expect(JSON.stringify(renderSlackStormMessage(storm, { reportLink }))).not.toBe(linked);
      expect(stormMessageDigest(storm)).toBe(first);
    } finally {
      vi.useRealTimers();
    }
    room.land(client(4, membership(4)));
    expect(stormMessageDigest((await room.read("6f0d2c1e-storm"))!)).not.toBe(first);
  });
});
