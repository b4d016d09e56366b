// The storm's page tells the story its Slack message tells: the shared cause first, then every group by verdict.
import { describe, expect, it } from "vitest";
import { renderStormPage } from "../../src/render/storm-page.ts";
import { apiServerFailing, rbac, storedStorm, stormMember } from "../support/storm-fixtures.ts";

const reportHref = (id: string) => `../${id}?token=t-${id}`;
const headings = (page: string) => [...page.matchAll(/<h2 [^>]*>([^<]*)<\/h2>/g)].map((m) => m[1]);

describe("renderStormPage", () => {
  it("leads with the shared cause, lists the groups by verdict with the undiagnosed last, and links each report", () => {
    const page = renderStormPage(
      storedStorm([
        stormMember("late-client", null),
        stormMember("checkout", apiServerFailing("checkout")),
        stormMember("payments", apiServerFailing("payments"), false),
        stormMember("search", apiServerFailing("search")),
        stormMember("report-exporter", rbac("report-exporter")),
      ]),
      { reportHref },
    );
    expect(page).toContain("<title>Storm in prod-eu: 5 alert groups</title>");
    expect(page).toContain("<dd>4 firing, 1 resolved</dd>");
    expect(page).toContain('<time datetime="2026-12-04T09:41:02.000Z">2026-12-04 09:41:02 UTC</time>');
    expect(page).toContain('<time datetime="2026-12-04T09:42:37.000Z">2026-12-04 09:42:37 UTC</time>');
    expect(page).toContain("It explains 3 of the 5 groups.");
    expect(page.indexOf("Shared cause: the API server")).toBeLessThan(page.indexOf("<h2"));
    expect(headings(page)).toEqual([
      "3 groups: The API server is failing the requests",
      "1 group: Client not allowed by RBAC (403)",
      "1 group: not diagnosed yet",
    ]);
    expect(page).toContain('<li><a href="../n-checkout?token=t-n-checkout">checkout</a>: checkout gets 5xx.</li>');
    expect(page).toContain(
      '<li><a href="../n-payments?token=t-n-payments">payments</a> — <strong>resolved</strong> ✅: payments gets 5xx.</li>',
    );
    // Not diagnosed yet: no report to link, named from its group key.
    expect(page).toContain("<li>late-client</li>");
  });

  it("says when no one cause on a shared component was found, and names groups without links when reports are not linked", () => {
    const page = renderStormPage(
      storedStorm([stormMember("report-exporter", rbac("report-exporter")), stormMember("checkout", apiServerFailing("checkout"))], ""),
    );
    expect(page).toContain("No one cause on a shared component found");
    expect(page).not.toContain("Shared cause:");
    expect(page).toContain("<title>Storm: 2 alert groups</title>");
    expect(page).toContain("<dd>(no cluster label)</dd>");
    expect(page).not.toContain("<a ");
  });

  it("escapes alert data in names, verdicts and the cluster", () => {
    const hostile = '<script>alert("x")</script>';
    const page = renderStormPage(
      storedStorm([stormMember("a", { ...rbac(hostile), cause: { id: "c", title: hostile, summary: hostile } })], hostile),
      {
        reportHref,
      },
    );
    expect(page).not.toContain(hostile);
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });
});
