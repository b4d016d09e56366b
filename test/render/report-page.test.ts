// Tests for the full report page: what a reader sees, that hostile alert data cannot run, and that it needs no JavaScript.
import { describe, expect, it } from "vitest";
import type { AlertChart } from "../../src/model/diagnosis.ts";
import { highlight, REPORT_CSP, renderReportPage } from "../../src/render/report-page.ts";
import { FIXTURE_CAUSE, FIXTURE_REMEDIATION, makeAlert, makeAlertDiagnosis, makeDiagnosis } from "../support/diagnosis-fixtures.ts";
import { FIXTURE_STORM, FIXTURE_STORM_LINE } from "../support/storm-fixtures.ts";

const HOSTILE = `<script>alert(1)</script>"onmouseover=alert(2) '`;

function chart(overrides: Partial<AlertChart> = {}): AlertChart {
  const end = Date.parse("2026-08-20T10:15:00Z");
  return {
    query: "sum(rate(rest_client_requests_total[5m]))",
    threshold: 0.01,
    comparison: ">",
    startsAt: "2026-08-20T10:02:00Z",
    series: [
      {
        labels: { job: "ksm" },
        points: Array.from({ length: 10 }, (_, i) => ({ t: new Date(end - i * 60_000).toISOString(), v: i / 100 })),
      },
    ],
    ...overrides,
  };
}

/** The page with its one inline script and all tags removed: what a reader without JavaScript gets as text. */
function textWithoutScript(html: string): string {
  return html
    .replace(/<script>[\s\S]*?<\/script>/g, "")
    .replace(/<style>[\s\S]*?<\/style>/g, "")
    .replace(/<[^>]+>/g, " ");
}

describe("renderReportPage", () => {
  it("shows a hostile label as text and never as markup, in content, attributes and the chart", () => {
    const alert = makeAlert({ labels: { alertname: HOSTILE, job: HOSTILE }, annotations: { summary: HOSTILE } });
    const html = renderReportPage(
      makeDiagnosis({
        commonLabels: { [HOSTILE]: HOSTILE },
        alerts: [
          makeAlertDiagnosis({
            alert,
            chart: chart({ query: HOSTILE, series: [{ labels: { job: HOSTILE }, points: [{ t: "2026-08-20T10:14:00Z", v: 1 }] }] }),
            links: { runbook: `https://example.com/"><script>alert(3)</script>`, graph: "javascript:alert(4)" },
          }),
        ],
      }),
    );
    expect(html.match(/<script>/g)).toHaveLength(1);
    expect(html).not.toContain('"onmouseover');
    expect(html).not.toContain("javascript:");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(2) &#39;");
    expect(html).toContain('href="https://example.com/%22%3E%3Cscript%3Ealert(3)%3C/script%3E"');
  });

  it("shows the verdict: causes ranked with their confidence, evidence and commands to copy", () => {
    const html = renderReportPage(makeDiagnosis());
    const text = textWithoutScript(html);
    expect(text).toContain(FIXTURE_CAUSE);
    expect(text.indexOf(FIXTURE_CAUSE)).toBeLessThan(text.indexOf("API server throttling the client (429)"));
    expect(text).toContain("429 is 2% of the client&#39;s errors");
    expect(html).toMatch(new RegExp(`<pre><code id="[^"]+">${FIXTURE_REMEDIATION.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}</code></pre>`));
    expect(html).toContain('<button type="button" data-copy=');
  });

  it("includes the chart as inline SVG when the alert has one", () => {
    const html = renderReportPage(makeDiagnosis({ alerts: [makeAlertDiagnosis({ chart: chart() })] }));
    expect(html).toContain("<svg");
    expect(renderReportPage(makeDiagnosis())).not.toContain("<svg");
  });

  it("lists every playbook step with its status, duration and the request it made", () => {
    const d = makeDiagnosis();
    const text = textWithoutScript(renderReportPage(d));
    for (const step of d.alerts[0]!.steps) {
      expect(text).toContain(step.status);
      expect(text).toContain(`${Math.round(step.durationMs)} ms`);
    }
    expect(renderReportPage(d)).toContain('<th scope="col">Request</th>');
  });

  it("is a page a phone and a screen reader can use: language, viewport, headings, landmarks", () => {
    const html = renderReportPage(makeDiagnosis());
    expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain("<h1>");
    expect(html).toContain("<main>");
    expect(html).not.toMatch(/<(link|img|iframe)\b|src=/);
  });

  it("keeps the content readable without JavaScript: the copy buttons only appear when the script runs", () => {
    const html = renderReportPage(makeDiagnosis());
    expect(textWithoutScript(html)).toContain(FIXTURE_REMEDIATION);
    expect(html).toMatch(/<button [^>]*hidden/);
  });

  it("has a content security policy that allows only its own inline style and script", () => {
    expect(REPORT_CSP).toContain("default-src 'none'");
    expect(REPORT_CSP).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(REPORT_CSP).not.toContain("unsafe-inline");
  });
});

describe("highlight", () => {
  it("marks what the playbook's regex matched, case-insensitively as the step matched, escaping the rest", () => {
    const excerpt = {
      step: "s",
      pod: "p",
      pattern: "unauthorized",
      regex: "unauthori[sz]ed|\\b401\\b",
      line: "<b> HTTP 401 Unauthorised x",
    };
    expect(highlight(excerpt)).toBe("&lt;b&gt; HTTP <mark>401</mark> <mark>Unauthorised</mark> x");
  });

  it("marks nothing, rather than the wrong thing, when only the pattern's name is known", () => {
    expect(highlight({ step: "s", pod: "p", pattern: "refused", line: "<dial> refused" })).toBe("&lt;dial&gt; refused");
    expect(highlight({ step: "s", pod: "p", pattern: "x", regex: "a[", line: "xa[y" })).toBe("xa[y");
  });
});

describe("what each step read", () => {
  it("shows the objects a step listed in a table, escaped, with a count of those left out", () => {
    const base = makeAlertDiagnosis();
    const step = {
      ...(base.steps[0] as NonNullable<(typeof base.steps)[0]>),
      table: {
        columns: ["namespace", "name", "status", "created"],
        rows: [["kube-system", "<b>kube-apiserver-cp-1</b>", "Running", "2026-11-20T09:00:00Z"]],
        more: 3,
      },
    };
    const html = renderReportPage(makeDiagnosis({ alerts: [{ ...base, steps: [step] }] }));
    expect(html).toContain('<th scope="col">namespace</th>');
    expect(html).toContain("&lt;b&gt;kube-apiserver-cp-1&lt;/b&gt;");
    expect(html).not.toContain("<b>kube-apiserver-cp-1</b>");
    expect(html).toContain("… and 3 more");
  });

  it("shows the storm line on the report page when the group is part of a storm", () => {
    expect(renderReportPage(makeDiagnosis({ storm: FIXTURE_STORM }))).toContain(`<p class="storm">${FIXTURE_STORM_LINE}</p>`);
    expect(renderReportPage(makeDiagnosis())).not.toContain("Part of a storm");
  });
});
