// The report page's order and the parts a person acts from: the verdict, its confidence, what was not checked, the
// first thing to do and the links come before the details; labels once; Copy only beside commands; times for the script.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { REPORT_CSP, renderReportPage } from "../../src/render/report-page.ts";
import { renderStormPage } from "../../src/render/storm-page.ts";
import {
  FIXTURE_CAUSE,
  FIXTURE_REMEDIATION,
  makeAlert,
  makeAlertDiagnosis,
  makeCause,
  makeDiagnosis,
  makeSteps,
} from "../support/diagnosis-fixtures.ts";
import { FIXTURE_STORM, FIXTURE_STORM_LINE } from "../support/storm-fixtures.ts";

const ADVICE = "Review the client's error history over the last hour in Prometheus (the graph link).";

/** Where each piece first appears in the page; -1 when it does not. */
function positions(html: string, pieces: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(pieces).map(([name, piece]) => [name, html.indexOf(piece)]));
}

describe("the report page's first screen", () => {
  it("puts the verdict, confidence, what was not checked, the first command and the links before any detail", () => {
    const alert = makeAlertDiagnosis({
      notChecked: [{ id: "network", title: "Network errors reaching the API server", reason: "Prometheus did not answer" }],
    });
    const html = renderReportPage(makeDiagnosis({ alerts: [alert], storm: FIXTURE_STORM }));
    const at = positions(html, {
      storm: FIXTURE_STORM_LINE,
      verdict: `<strong>Probable cause:</strong> ${FIXTURE_CAUSE}`,
      confidence: "Confidence: <strong>86%</strong>",
      notChecked: "Network errors reaching the API server: Prometheus did not answer",
      firstCommand: `<code id="a0-first">${FIXTURE_REMEDIATION}</code>`,
      runbook: ">Runbook</a>",
      graph: ">Graph</a>",
      silence: ">Silence</a>",
      alertmanager: '<a href="http://alertmanager:9093/">Alertmanager</a>',
      causes: '<ol class="causes">',
      steps: '<table class="steps">',
      labels: '<table class="labels">',
    });
    for (const [name, position] of Object.entries(at)) expect(position, name).toBeGreaterThan(-1);
    const firstScreen = ["storm", "verdict", "confidence", "notChecked", "firstCommand", "runbook", "graph", "silence", "alertmanager"];
    for (const name of firstScreen) {
      expect(at[name], `${name} before the causes`).toBeLessThan(at.causes ?? 0);
      expect(at[name], `${name} before the labels`).toBeLessThan(at.labels ?? 0);
    }
    expect(at.storm).toBeLessThan(at.verdict ?? 0);
    expect(html).toContain('<button type="button" data-copy="a0-first" hidden aria-label="Copy command">Copy</button>');
  });

  it("says nothing was left unchecked when the playbook checked every cause", () => {
    expect(renderReportPage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ verdict: "cause" })] }))).toContain(
      "Not checked: nothing — every cause the playbook knows was checked.",
    );
    // A diagnosis stored before verdicts existed cannot say so.
    expect(renderReportPage(makeDiagnosis())).not.toContain("Not checked: nothing");
  });

  it("leads with the alert the group's messages lead with: a firing one with a cause before a resolved one", () => {
    const resolved = makeAlertDiagnosis({
      alert: makeAlert({ status: "resolved", labels: { alertname: "KubeAPIDown", severity: "critical" } }),
      causes: [],
      playbook: null,
    });
    const html = renderReportPage(makeDiagnosis({ alerts: [resolved, makeAlertDiagnosis()] }));
    expect(html.indexOf(FIXTURE_CAUSE)).toBeLessThan(html.indexOf('<h2 id="a0-h">KubeAPIDown'));
  });

  it("shows each label once: the group's common labels in one table, an alert's other labels in its own", () => {
    const single = renderReportPage(makeDiagnosis());
    expect(single.match(/<td>monitoring<\/td>/g)).toHaveLength(1);
    expect(single.match(/<td>10\.244\.1\.17:8443<\/td>/g)).toHaveLength(1);

    const labels = (instance: string) => ({ ...makeAlert().labels, instance });
    const two = renderReportPage(
      makeDiagnosis({
        alerts: [
          makeAlertDiagnosis({ alert: makeAlert({ labels: labels("10.0.0.1:8443") }) }),
          makeAlertDiagnosis({ alert: makeAlert({ labels: labels("10.0.0.2:8443") }) }),
        ],
      }),
    );
    expect(two.match(/<td>monitoring<\/td>/g)).toHaveLength(1);
    expect(two.match(/<td>10\.0\.0\.1:8443<\/td>/g)).toHaveLength(1);
    expect(two.match(/<td>10\.0\.0\.2:8443<\/td>/g)).toHaveLength(1);
    // Each alert's heading says which instance it is.
    expect(two).toMatch(/<h2 id="a0-h">KubeClientErrors <small>[^<]*instance=10\.0\.0\.1:8443/);
  });

  it("gives a Copy button to commands only, never to advice written as prose", () => {
    const cause = makeCause({ remediation: [FIXTURE_REMEDIATION, ADVICE, "# command withheld: a label began with a dash"] });
    const html = renderReportPage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [cause] })] }));
    expect(html).toContain(`<p class="advice">${ADVICE.replace(/'/g, "&#39;")}</p>`);
    expect(html).toContain('data-copy="a0-c0-r0"');
    expect(html).not.toContain('data-copy="a0-c0-r1"');
    expect(html).toContain('data-copy="a0-c0-r2"');
    // Advice as the first thing to do is prose too.
    const adviceFirst = makeCause({ remediation: [ADVICE] });
    const page = renderReportPage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [adviceFirst] })] }));
    expect(page).not.toContain("<button");
  });

  it("collapses the steps that were skipped under the table of those that ran", () => {
    const steps = makeSteps();
    const skipped = {
      ...(steps[0] as NonNullable<(typeof steps)[0]>),
      id: "x",
      title: "A step whose condition did not hold",
      status: "skipped" as const,
    };
    const html = renderReportPage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ steps: [...steps, skipped] })] }));
    const details = /<details class="skipped"><summary>1 step skipped<\/summary>(.*?)<\/details>/s.exec(html)?.[1] ?? "";
    expect(details).toContain("A step whose condition did not hold");
    expect(html.indexOf('<table class="steps"><caption>Every step that ran')).toBeLessThan(html.indexOf('<details class="skipped">'));
  });
});

describe("times on the report pages", () => {
  /** The page's one inline script, and whether the CSP allows it by its hash. */
  function script(html: string): { text: string; allowed: boolean } {
    const text = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? "";
    const hash = createHash("sha256").update(text, "utf8").digest("base64");
    return { text, allowed: REPORT_CSP.includes(`script-src 'sha256-${hash}'`) };
  }

  it("writes every time in UTC inside <time datetime>, for the script to show in the reader's zone", () => {
    const html = renderReportPage(makeDiagnosis(), { generatedAt: new Date("2026-08-20T10:19:00Z") });
    expect(html).toContain('received <time datetime="2026-08-20T10:15:01.700Z">2026-08-20 10:15:01 UTC</time>');
    expect(html).toContain('<dt>Started</dt><dd><time datetime="2026-08-20T10:00:00.123Z">2026-08-20 10:00:00 UTC</time></dd>');
    expect(html).toContain('(step error-codes, <time datetime="2026-08-20T10:14:00.000Z">2026-08-20 10:14:00 UTC</time>)');
    expect(html).toContain('generated <time datetime="2026-08-20T10:19:00.000Z">2026-08-20 10:19:00 UTC</time>');
  });

  it("keeps text that is not a time as it is", () => {
    const cause = makeCause({ evidence: [{ step: "events", text: "rotated", at: "<yesterday>" }] });
    const html = renderReportPage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [cause] })] }));
    expect(html).toContain("(step events, &lt;yesterday&gt;)");
  });

  it("has one script, allowed by the CSP's hash, that shows local times and how long ago on the report and the storm page", () => {
    const storm = renderStormPage({
      id: "s-1",
      cluster: "prod-eu",
      openedAt: "2026-12-04T09:41:02.000Z",
      lastSeenAt: "2026-12-04T09:42:37.000Z",
      members: [],
    });
    for (const html of [renderReportPage(makeDiagnosis()), storm]) {
      expect(html.match(/<script>/g)).toHaveLength(1);
      const { text, allowed } = script(html);
      expect(allowed).toBe(true);
      expect(text).toContain('querySelectorAll("time[datetime]")');
      expect(text).toContain('" ago"');
      expect(text).toContain("button[data-copy]");
    }
    expect(storm).toContain('<time datetime="2026-12-04T09:41:02.000Z">2026-12-04 09:41:02 UTC</time>');
  });
});
