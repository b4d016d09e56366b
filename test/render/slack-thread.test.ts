// Tests for the Slack thread replies: the full diagnosis within Block Kit's limits, and the resolved note.
import { describe, expect, it } from "vitest";
import type { SlackBlock } from "../../src/render/slack-blocks.ts";
import { formatDuration, renderResolvedReply, renderSlackThreadReply, type SlackThreadReply } from "../../src/render/slack-thread.ts";
import { messageProblems } from "../support/block-kit-limits.ts";
import {
  makeAlert,
  makeAlertDiagnosis,
  makeDiagnosis,
  makeHugeDiagnosis,
  makeResolvedDiagnosis,
  makeSteps,
} from "../support/diagnosis-fixtures.ts";

function text(reply: SlackThreadReply): string {
  return reply.blocks.map((b) => blockText(b)).join("\n");
}

function blockText(block: SlackBlock): string {
  switch (block.type) {
    case "section":
      return block.text?.text ?? "";
    case "context":
      return block.elements.map((e) => e.text).join(" ");
    default:
      return "";
  }
}

function expectAccepted(reply: SlackThreadReply): void {
  expect(messageProblems({ ...reply }, { maxTotalBlockText: 12_000 })).toBeUndefined();
  expect(reply.blocks.length).toBeLessThanOrEqual(50);
  expect(text(reply).length).toBeLessThanOrEqual(10_000);
}

describe("renderSlackThreadReply", () => {
  it("lists every step with its status, duration and summary, or its error when it failed", () => {
    const steps = makeSteps().map((s) => {
      if (s.id === "events") return { ...s, status: "failed" as const, error: "API server answered 403 to an Event list" };
      if (s.id === "client-logs") return { ...s, status: "timeout" as const, durationMs: 5000, error: "no log lines within 5 s" };
      return s;
    });
    const reply = renderSlackThreadReply(makeDiagnosis({ alerts: [makeAlertDiagnosis({ steps, partial: true })] }));
    const shown = text(reply);
    expect(shown).toContain("✅ *Which status codes the client gets* `error-codes` (84 ms): 3 series");
    expect(shown).toContain("✅ *The client's pods* `pods` (122 ms): 1 pod");
    expect(shown).toContain("❌ *Recent events in the namespace* `events` (97 ms): error: API server answered 403 to an Event list");
    expect(shown).toContain("⏱️ *The client's logs* `client-logs` (5.0 s): error: no log lines within 5 s");
    expect(shown).toContain("*PARTIAL*");
    expectAccepted(reply);
  });

  it("lists every cause considered with its confidence, strongest first", () => {
    const shown = text(renderSlackThreadReply(makeDiagnosis()));
    const order = ["Client credentials rejected* · 86% · probable cause", "(429)* · 9%", "Network errors reaching the API server* · 5%"];
    const positions = order.map((o) => shown.indexOf(o));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("shows the top cause's evidence and every remediation step, the first as the one to do now", () => {
    const shown = text(renderSlackThreadReply(makeDiagnosis()));
    expect(shown).toContain("ServiceAccount token Secret kube-state-metrics-token was rotated at 09:58 _(events, 2026-08-20T09:58:12Z)_");
    expect(shown).toContain("Do now:\n```kubectl -n monitoring rollout restart deployment/kube-state-metrics```");
    expect(shown).toContain("Then:\n```kubectl -n monitoring get pods -l app.kubernetes.io/name=kube-state-metrics -w```");
  });

  it("shows log excerpts in code blocks that a line cannot break out of or use to ping the channel", () => {
    const line = "msg=```oops``` <!channel> & <https://evil.example|click>";
    const d = makeDiagnosis({
      alerts: [makeAlertDiagnosis({ logExcerpts: [{ step: "client-logs", pod: "ksm-0", pattern: "oops", line }] })],
    });
    const shown = text(renderSlackThreadReply(d));
    expect(shown).toContain(
      "`ksm-0` matched `oops`\n```msg=`\u200b``oops`\u200b`` &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;```",
    );
    expect(shown).not.toContain("<!channel>");
  });

  it("stays within Block Kit's limits for a huge diagnosis and marks what it cut", () => {
    const reply = renderSlackThreadReply(makeHugeDiagnosis());
    expectAccepted(reply);
    expect(text(reply)).toContain("(truncated)");
    expect(text(reply)).toMatch(/and \d+ more alerts not shown here \(truncated\)/);
    // A cut inside a list keeps whole lines and closes any code block it opened.
    for (const block of reply.blocks) expect((blockText(block).match(/```/g) ?? []).length % 2).toBe(0);
  });

  it("gives every alert its share, so one alert's pile of log lines does not crowd out the others", () => {
    const noisy = makeAlertDiagnosis({
      logExcerpts: Array.from({ length: 50 }, (_, i) => ({
        step: "client-logs",
        pod: `ksm-${i}`,
        pattern: "Unauthorized",
        line: "x".repeat(5000),
      })),
    });
    const quiet = (n: number) =>
      makeAlertDiagnosis({ alert: makeAlert({ labels: { ...makeAlert().labels, instance: `10.0.0.${n}:8443` }, fingerprint: `f${n}` }) });
    const reply = renderSlackThreadReply(makeDiagnosis({ alerts: [noisy, quiet(2), quiet(3)] }));
    expectAccepted(reply);
    expect(text(reply)).toContain("10.0.0.2:8443");
    expect(text(reply)).toContain("10.0.0.3:8443");
    expect(text(reply)).toContain("the rest of this alert's diagnosis is cut here (truncated)");
  });

  it("says what changed when the reply follows a new diagnosis", () => {
    const reply = renderSlackThreadReply(makeDiagnosis(), { changed: true });
    expect(text(reply)).toContain("The diagnosis changed");
    expect(reply.text).toMatch(/^Diagnosis changed for KubeClientErrors/);
  });

  it("says only the note for an alert no playbook covers", () => {
    const d = makeDiagnosis({
      alerts: [makeAlertDiagnosis({ playbook: null, note: "No playbook covers Watchdog.", causes: [], steps: [] })],
    });
    const reply = renderSlackThreadReply(d);
    expect(text(reply)).toContain("No playbook covers Watchdog.");
    expect(text(reply)).not.toContain("*Steps*");
  });
});

describe("renderResolvedReply", () => {
  it("says how long the group fired, from its start to its end", () => {
    expect(renderResolvedReply(makeResolvedDiagnosis()).text).toBe("✅ Resolved after 42m");
  });

  it("counts to when the resolved notification came when Alertmanager sent no end time", () => {
    const d = makeResolvedDiagnosis();
    const alerts = d.alerts.map((a) => ({ ...a, alert: { ...a.alert, endsAt: "0001-01-01T00:00:00Z" } }));
    expect(renderResolvedReply({ ...d, alerts, createdAt: "2026-08-20T11:05:00.000Z" }).text).toBe("✅ Resolved after 1h 5m");
  });

  it.each([
    [45_000, "45s"],
    [23 * 60_000 + 10_000, "23m"],
    [59 * 60_000 + 50_000, "1h"],
    [65 * 60_000, "1h 5m"],
    [51 * 3_600_000, "2d 3h"],
  ])("writes %i ms as %s", (ms, words) => {
    expect(formatDuration(ms)).toBe(words);
  });
});
