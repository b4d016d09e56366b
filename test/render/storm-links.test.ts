// Every view of a group in a storm links back to the storm's page, and the storm's own message and incident link it too.
import { describe, expect, it } from "vitest";
import type { Diagnosis, GroupVerdict } from "../../src/model/diagnosis.ts";
import type { StoredStorm } from "../../src/model/storm.ts";
import { renderPagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { renderPagerDutyStormEvent, stormViewFromMembership, stormViewFromStore } from "../../src/render/pagerduty-storm-event.ts";
import { renderReportPage } from "../../src/render/report-page.ts";
import { renderSlackMessage, type SlackBlock } from "../../src/render/slack-blocks.ts";
import { renderSlackStormMessage } from "../../src/render/slack-storm.ts";
import { renderPlainTextNote, renderText } from "../../src/render/text.ts";
import { makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import { FIXTURE_STORM, FIXTURE_STORM_LINE } from "../support/storm-fixtures.ts";

const STORM_URL = `https://enricher.example.com/reports/storms/${FIXTURE_STORM.id}?token=${"T".repeat(54)}`;
const ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6";

function inStorm(link: string | undefined): Diagnosis {
  return makeDiagnosis({ storm: { ...FIXTURE_STORM, ...(link !== undefined ? { link } : {}) } });
}

function stormSectionText(d: Diagnosis): string | undefined {
  const block = renderSlackMessage(d).blocks.find((b: SlackBlock) => b.type === "section" && b.text?.text.includes("Part of a storm"));
  return block?.type === "section" ? block.text?.text : undefined;
}

describe("a group's diagnosis in a storm links to the storm's page", () => {
  it("in Slack, after the storm line", () => {
    expect(stormSectionText(inStorm(STORM_URL))).toBe(`🌩️ ${FIXTURE_STORM_LINE} <${STORM_URL}|see the storm>`);
    expect(stormSectionText(inStorm(undefined))).toBe(`🌩️ ${FIXTURE_STORM_LINE}`);
  });

  it("in Slack, only to an http(s) URL, escaped so it cannot end the link early", () => {
    expect(stormSectionText(inStorm("javascript:alert(1)"))).toBe(`🌩️ ${FIXTURE_STORM_LINE}`);
    expect(stormSectionText(inStorm("https://e.example/a|b?token=t&x=<1>"))).toBe(
      `🌩️ ${FIXTURE_STORM_LINE} <https://e.example/a%7Cb?token=t&amp;x=%3C1%3E|see the storm>`,
    );
  });

  it("in plain text and the incident note, on a line of its own under the storm line", () => {
    for (const text of [renderText(inStorm(STORM_URL)), renderPlainTextNote(inStorm(STORM_URL))]) {
      expect(text).toContain(`${FIXTURE_STORM_LINE}\nStorm: ${STORM_URL}\n`);
    }
    expect(renderText(inStorm(undefined))).not.toContain("Storm: ");
    expect(renderText(inStorm("ftp://e.example/storm"))).not.toContain("Storm: ");
  });

  it("in the group's PagerDuty event, as a link and in custom_details", () => {
    const event = renderPagerDutyEvent(inStorm(STORM_URL), ROUTING_KEY);
    expect(event.links).toContainEqual({ href: STORM_URL, text: "The storm" });
    expect(event.payload.custom_details).toMatchObject({ storm: FIXTURE_STORM_LINE, storm_url: STORM_URL });
    const without = renderPagerDutyEvent(inStorm(undefined), ROUTING_KEY);
    expect(without.links?.map((l) => l.text)).not.toContain("The storm");
    expect(without.payload.custom_details).not.toHaveProperty("storm_url");
  });

  it("on the report page, in the storm paragraph", () => {
    const page = renderReportPage(inStorm(`${STORM_URL}&x="y"`));
    expect(page).toContain(`<p class="storm">${FIXTURE_STORM_LINE} <a href="${STORM_URL}&amp;x=%22y%22">See the storm</a></p>`);
    expect(renderReportPage(inStorm("javascript:alert(1)"))).toContain(`<p class="storm">${FIXTURE_STORM_LINE}</p>`);
  });
});

const failing: GroupVerdict = {
  verdict: "cause",
  cause: { id: "apiserver_side_errors", title: "The API server is failing the requests", summary: "5xx." },
  name: "checkout",
};
const STORED: StoredStorm = {
  id: FIXTURE_STORM.id,
  cluster: "prod-eu",
  openedAt: "2026-12-04T09:41:02.000Z",
  lastSeenAt: "2026-12-04T09:42:37.000Z",
  members: [
    {
      groupKey: '{}:{job="checkout"}',
      firstReceivedAt: "2026-12-04T09:41:02.000Z",
      latest: { notificationId: "n-1", receivedAt: "2026-12-04T09:41:05.000Z", firing: true, verdict: failing },
    },
  ],
};

describe("the storm's own message and incident link the storm's page", () => {
  const contextText = (message: ReturnType<typeof renderSlackStormMessage>) =>
    JSON.stringify(message.attachments[0].blocks.filter((b) => b.type === "context"));

  it("the Slack storm message ends its context line with the page's link", () => {
    const stormLink = (id: string) => (id === STORED.id ? STORM_URL : undefined);
    const linked = contextText(renderSlackStormMessage(STORED, { stormLink }));
    expect(linked).toContain(`each group's diagnosis is in this thread · <${STORM_URL}|storm page>`);
    expect(contextText(renderSlackStormMessage(STORED))).not.toContain("storm page");
    expect(contextText(renderSlackStormMessage(STORED, { stormLink: () => "javascript:alert(1)" }))).not.toContain("storm page");
  });

  it("the PagerDuty storm event lists the page first among its links and in custom_details", () => {
    const d = makeDiagnosis({ groupKey: '{}:{job="checkout"}', storm: FIXTURE_STORM });
    const view = stormViewFromStore(
      STORED,
      d,
      (id) => `https://enricher.example.com/reports/${id}`,
      () => STORM_URL,
    );
    const event = renderPagerDutyStormEvent(view, d, ROUTING_KEY);
    expect(event.links?.[0]).toEqual({ href: STORM_URL, text: "The storm" });
    expect(event.payload.custom_details).toMatchObject({ storm_url: STORM_URL });

    // When the store cannot be read, the link the group's diagnosis carried.
    const fromMembership = renderPagerDutyStormEvent(stormViewFromMembership({ ...FIXTURE_STORM, link: STORM_URL }, d), d, ROUTING_KEY);
    expect(fromMembership.links?.[0]).toEqual({ href: STORM_URL, text: "The storm" });

    const unlinked = renderPagerDutyStormEvent(stormViewFromStore(STORED, d), d, ROUTING_KEY);
    expect(unlinked.links?.map((l) => l.text)).not.toContain("The storm");
    expect(unlinked.payload.custom_details).not.toHaveProperty("storm_url");
  });
});
