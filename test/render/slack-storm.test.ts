// The storm's own Slack message: every group named with its verdict, grouped by verdict, within Slack's limits.
import { describe, expect, it } from "vitest";
import { renderSlackStormMessage } from "../../src/render/slack-storm.ts";
import { messageProblems } from "../support/block-kit-limits.ts";
import { apiServerFailing, rbac, storedStorm, stormMember } from "../support/storm-fixtures.ts";

const reportLink = (id: string) => `https://enricher.example.com/reports/${id}?token=${"t".repeat(120)}`;
const textOf = (message: unknown) => JSON.stringify(message);
const sectionTexts = (message: ReturnType<typeof renderSlackStormMessage>) =>
  message.attachments[0].blocks.flatMap((b) => (b.type === "section" && b.text !== undefined ? [b.text.text] : []));

describe("renderSlackStormMessage", () => {
  it("leads with the shared cause and lists the groups by verdict, the largest first, each name linked to its report", () => {
    const members = [
      ...Array.from({ length: 40 }, (_, i) => stormMember(`client-${i}`, apiServerFailing(`client-${i}`))),
      stormMember("report-exporter", rbac("report-exporter")),
      stormMember("late-client", null),
    ];
    const message = renderSlackStormMessage(storedStorm(members), { reportLink });
    expect(message.blocks[0]).toMatchObject({ type: "header", text: { text: "🌩️ Storm in prod-eu: 42 alert groups, 42 firing" } });
    expect(textOf(message.blocks[1])).toContain(
      "*Shared cause: the API server* — The API server is failing the requests. It explains 40 of the 42 groups.",
    );
    const sections = sectionTexts(message);
    expect(sections.map((s) => s.split("\n")[0])).toEqual([
      "*40 groups: The API server is failing the requests*",
      "*1 group: Client not allowed by RBAC (403)*",
      "*1 group: not diagnosed yet*",
    ]);
    expect(sections[1]).toContain("<https://enricher.example.com/reports/n-report-exporter?token=");
    expect(sections[1]).toContain("|report-exporter>");
    // Not diagnosed yet: no report to link, named from its group key.
    expect(sections[2]).toBe("*1 group: not diagnosed yet*\nlate-client");
    expect(message.text).toBe("Storm in prod-eu: 42 alert groups, 40 point to the API server: The API server is failing the requests");
    expect(messageProblems({ ...message }, { maxTotalBlockText: 12_000 })).toBeUndefined();
  });

  it("says when no one cause on a shared component explains the storm, and has no cluster name for a single cluster", () => {
    const members = ["a", "b", "c", "d", "e"].map((name) => stormMember(name, rbac(name)));
    const message = renderSlackStormMessage(storedStorm(members, ""), {});
    expect(message.blocks[0]).toMatchObject({ text: { text: "🌩️ Storm: 5 alert groups, 5 firing" } });
    expect(textOf(message.blocks[1])).toContain("No one cause on a shared component found");
    expect(sectionTexts(message)[0]).toBe("*5 groups: Client not allowed by RBAC (403)*\na, b, c, d, e");
  });

  it("strikes out a group that resolved, and turns green when every group has", () => {
    const firing = renderSlackStormMessage(storedStorm([stormMember("a", rbac("a"), false), stormMember("b", rbac("b"))]), { reportLink });
    expect(sectionTexts(firing)[0]).toMatch(/^\*2 groups: [^\n]*\n~<[^>]+\|a>~ ✅, <[^>]+\|b>$/);
    expect(firing.blocks[0]).toMatchObject({ text: { text: "🌩️ Storm in prod-eu: 2 alert groups, 1 firing" } });
    const over = renderSlackStormMessage(storedStorm([stormMember("a", rbac("a"), false), stormMember("b", rbac("b"), false)]));
    expect(over.attachments[0].color).toBe("#2EB67D");
  });

  it("names every group of a storm of 500 within Slack's limits: links while they fit, then plain names, then how many more", () => {
    const members = [
      ...Array.from({ length: 300 }, (_, i) => stormMember(`frontend-client-number-${i}`, apiServerFailing(`frontend-client-number-${i}`))),
      ...Array.from({ length: 200 }, (_, i) => stormMember(`batch-${i}`, rbac(`batch-${i}`))),
    ];
    const message = renderSlackStormMessage(storedStorm(members), { reportLink });
    expect(messageProblems({ ...message }, { maxTotalBlockText: 12_000 })).toBeUndefined();
    const [first, second] = sectionTexts(message);
    // 300 long names do not fit in one section even plain: the count of the rest is given instead.
    const shownFirst = (first!.match(/frontend-client-number-\d+/g) ?? []).length;
    expect(first).toContain(`… and ${300 - shownFirst} more`);
    expect(first).not.toContain("<https://");
    // 200 short names fit plain, but not with a link each: the first few are linked, every one is named.
    expect(new Set(second!.match(/batch-\d+/g)).size).toBe(200);
    expect(second).toContain("|batch-0>");
    expect(second).not.toContain("|batch-199>");
  });

  it("escapes alert data, so a group's name cannot mention @channel or forge a link", () => {
    const message = renderSlackStormMessage(storedStorm([stormMember("<!channel>", rbac("<!channel> <https://evil|x>"))]), { reportLink });
    const text = textOf(message);
    expect(text).not.toContain("<!channel>");
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).not.toContain("<https://evil");
  });
});
