// Tests for the Slack Block Kit rendering: limits, escaping, severity colours and the short resolved message.
import { afterEach, describe, expect, it } from "vitest";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { renderSlackMessage, type SlackBlock, type SlackMessage } from "../../src/render/slack-blocks.ts";
import { SlackWebhookSink } from "../../src/sinks/slack-webhook.ts";
import {
  FIXTURE_CAUSE,
  FIXTURE_REMEDIATION,
  makeAlert,
  makeAlertDiagnosis,
  makeCause,
  makeDiagnosis,
  makeHugeDiagnosis,
  makeResolvedDiagnosis,
} from "../support/diagnosis-fixtures.ts";
import { type SlackStandIn, startSlackStandIn } from "../support/slack-standin.ts";
import { FIXTURE_STORM, FIXTURE_STORM_LINE } from "../support/storm-fixtures.ts";

function allBlocks(message: SlackMessage): SlackBlock[] {
  return [...message.blocks, ...message.attachments.flatMap((a) => a.blocks)];
}

function allText(message: SlackMessage): string {
  return JSON.stringify(message);
}

/** The limits Slack documents, checked independently of the stand-in. */
function expectWithinBlockKitLimits(message: SlackMessage): void {
  const blocks = allBlocks(message);
  expect(blocks.length).toBeLessThanOrEqual(50);
  expect(message.text.length).toBeLessThanOrEqual(3000);
  for (const block of blocks) {
    switch (block.type) {
      case "header":
        expect(block.text.text.length).toBeLessThanOrEqual(150);
        break;
      case "section":
        if (block.text !== undefined) expect(block.text.text.length).toBeGreaterThanOrEqual(1);
        if (block.text !== undefined) expect(block.text.text.length).toBeLessThanOrEqual(3000);
        expect(block.fields?.length ?? 0).toBeLessThanOrEqual(10);
        for (const field of block.fields ?? []) expect(field.text.length).toBeLessThanOrEqual(2000);
        break;
      case "context":
        expect(block.elements.length).toBeLessThanOrEqual(10);
        break;
      case "actions":
        for (const button of block.elements) {
          expect(button.text.text.length).toBeLessThanOrEqual(75);
          expect(button.url.length).toBeLessThanOrEqual(3000);
        }
        break;
      case "divider":
        break;
    }
  }
}

function withSeverity(severity: string): Diagnosis {
  const alert = makeAlert({ labels: { ...makeAlert().labels, severity } });
  return makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert })], commonLabels: { alertname: "KubeClientErrors", severity } });
}

describe("renderSlackMessage", () => {
  let standIn: SlackStandIn | undefined;

  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  it("leads with the alert, the top cause with its confidence, and the first remediation as a code block", () => {
    const message = renderSlackMessage(makeDiagnosis());
    const text = allText(message);
    expect(message.blocks[0]).toMatchObject({ type: "header", text: { type: "plain_text" } });
    expect(text).toContain("KubeClientErrors");
    expect(text).toContain("prod-eu-1");
    expect(text).toContain(`${FIXTURE_CAUSE}`);
    expect(text).toContain("86%");
    expect(text).toContain(`\`\`\`${FIXTURE_REMEDIATION}\`\`\``);
    expect(message.text).toContain(FIXTURE_CAUSE);
  });

  it("shows the three strongest evidence items and says how many more there are", () => {
    const message = renderSlackMessage(makeDiagnosis());
    const evidence = allBlocks(message).find((b) => b.type === "section" && b.text?.text.startsWith("*Evidence*"));
    expect(evidence?.type === "section" ? evidence.text?.text.split("\n• ").length : 0).toBe(4);
    expect(allText(message)).toContain("1 more in the report");
  });

  it("turns every http(s) link into a button and drops the others", () => {
    const d = makeDiagnosis({
      alerts: [
        makeAlertDiagnosis({
          links: { runbook: "javascript:alert(1)", graph: "http://prometheus:9090/graph", report: "https://r.example/1" },
        }),
      ],
    });
    const buttons = allBlocks(renderSlackMessage(d)).flatMap((b) => (b.type === "actions" ? b.elements : []));
    expect(buttons.map((b) => b.text.text)).toEqual(["Graph", "Diagnosis report"]);
  });

  it.each([
    ["critical", "#E01E5A", "🔴"],
    ["page", "#E01E5A", "🔴"],
    ["warning", "#ECB22E", "🟠"],
    ["info", "#36C5F0", "🔵"],
    ["something-else", "#ECB22E", "🟠"],
  ])("colours a %s alert %s with %s", (severity, colour, emoji) => {
    const message = renderSlackMessage(withSeverity(severity));
    expect(message.attachments[0].color).toBe(colour);
    expect(message.blocks[0]?.type === "header" ? message.blocks[0].text.text : "").toMatch(new RegExp(`^${emoji}`, "u"));
  });

  it("colours the group by its most severe firing alert", () => {
    const warning = makeAlertDiagnosis();
    const critical = makeAlertDiagnosis({
      alert: makeAlert({ labels: { ...makeAlert().labels, severity: "critical" }, fingerprint: "0000000000000001" }),
    });
    expect(renderSlackMessage(makeDiagnosis({ alerts: [warning, critical] })).attachments[0].color).toBe("#E01E5A");
  });

  it("posts a short green message when the group has resolved", () => {
    const message = renderSlackMessage(makeResolvedDiagnosis());
    expect(message.attachments[0].color).toBe("#2EB67D");
    expect(message.blocks[0]?.type === "header" ? message.blocks[0].text.text : "").toMatch(/^✅ RESOLVED/u);
    expect(allText(message)).not.toContain(FIXTURE_REMEDIATION);
    expect(allText(message)).toContain("resolved at 2026-08-20T10:42:00.000Z");
    expect(allBlocks(message).length).toBeLessThanOrEqual(4);
  });

  it("escapes <!channel> in a label so it cannot notify the channel", () => {
    const alert = makeAlert({ labels: { ...makeAlert().labels, namespace: "<!channel> & <https://evil.example|click>" } });
    const message = renderSlackMessage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert })], commonLabels: alert.labels }));
    const mrkdwn = allBlocks(message)
      .flatMap((b) => (b.type === "section" ? [b.text, ...(b.fields ?? [])] : b.type === "context" ? b.elements : []))
      .filter((t) => t?.type === "mrkdwn")
      .map((t) => t?.text ?? "");
    const everything = [message.text, ...mrkdwn].join("\n");
    expect(everything).not.toContain("<!channel>");
    expect(everything).not.toContain("<https://evil");
    expect(everything).toContain("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;");
  });

  it("forwards an alert no playbook covers with its labels as fields", () => {
    const alert = makeAlert({
      labels: { alertname: "Watchdog", severity: "none", team: "sre" },
      annotations: { summary: "Always firing" },
    });
    const message = renderSlackMessage(
      makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert, playbook: null, causes: [], steps: [], logExcerpts: [] })] }),
    );
    const fields = allBlocks(message).flatMap((b) => (b.type === "section" ? (b.fields ?? []) : []));
    expect(fields.map((f) => f.text)).toContain("*team*\nsre");
    expect(allText(message)).toContain("Always firing");
    expect(allText(message)).toContain("No playbook covers this alert");
  });

  it("keeps a huge diagnosis within every Block Kit limit and marks what it cut", () => {
    const message = renderSlackMessage(makeHugeDiagnosis());
    expectWithinBlockKitLimits(message);
    const text = allText(message);
    expect(text).toContain("…");
    expect(text).toContain("(truncated)");
    expect(text).not.toContain("<!channel>");
  });

  it("keeps 40 alerts within 50 blocks and says how many it left out", () => {
    const alerts = Array.from({ length: 40 }, (_, i) =>
      makeAlertDiagnosis({ alert: makeAlert({ fingerprint: `${i}`.padStart(16, "0") }) }),
    );
    const message = renderSlackMessage(makeDiagnosis({ alerts, truncatedAlerts: 10 }));
    expectWithinBlockKitLimits(message);
    expect(allText(message)).toMatch(/and \d+ more alerts not shown \(truncated\)/);
  });

  it("produces a huge message the Slack stand-in accepts, even with a cumulative text limit", async () => {
    standIn = await startSlackStandIn({ maxTotalBlockText: 12_000 });
    const sink = new SlackWebhookSink({ webhookUrl: standIn.webhookUrl });
    for (const d of [makeHugeDiagnosis(), makeDiagnosis(), makeResolvedDiagnosis()]) {
      expect(await sink.deliver(d)).toEqual({ status: "delivered" });
    }
    expect(standIn.rejections).toEqual([]);
    expect(standIn.messages).toHaveLength(3);
  });

  it("never splits an emoji when it truncates", () => {
    const summary = "🔥".repeat(3000);
    const d = makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [makeCause({ summary })] })] });
    const message = renderSlackMessage(d);
    // JSON.stringify writes a lone surrogate as an escape; a whole emoji stays as it is.
    expect(JSON.stringify(message)).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    expect(JSON.stringify(message)).toContain("🔥…");
  });

  it("puts the storm line in the message, above the alerts, when the group is part of a storm", () => {
    const message = renderSlackMessage(makeDiagnosis({ storm: FIXTURE_STORM }));
    const stormBlock = message.blocks.find((b) => b.type === "section" && b.text?.text.includes("Part of a storm"));
    expect(stormBlock).toMatchObject({ text: { text: `🌩️ ${FIXTURE_STORM_LINE}` } });
    expectWithinBlockKitLimits(message);
    expect(allText(renderSlackMessage(makeDiagnosis()))).not.toContain("Part of a storm");
  });
});
