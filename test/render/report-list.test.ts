// The list of recent diagnoses: each row says which instance it is about, and recurrence counts that instance only.
import { describe, expect, it } from "vitest";
import type { Diagnosis } from "../../src/model/diagnosis.ts";
import { identifyingLabels, instanceText, recurrence, renderReportList } from "../../src/render/report-list.ts";
import { makeAlert, makeAlertDiagnosis, makeCause, makeDiagnosis } from "../support/diagnosis-fixtures.ts";

const NOW = Date.parse("2026-08-20T12:00:00Z");

function entry(hoursAgo: number, instance: string, overrides: Partial<Diagnosis> = {}) {
  const alert = makeAlert({ labels: { ...makeAlert().labels, instance } });
  const receivedAt = new Date(NOW - hoursAgo * 3_600_000).toISOString();
  const id = `n-${instance}-${hoursAgo}`;
  return {
    id,
    receivedAt,
    href: `reports/${id}?token=t`,
    diagnosis: makeDiagnosis({ notificationId: id, alerts: [makeAlertDiagnosis({ alert })], ...overrides }),
  };
}

/** Each row's alert, instance and recurrence cells, as text. */
function rows(html: string): string[][] {
  return [
    ...html.matchAll(/<tr><th scope="row"><a [^>]*>([^<]*)<\/a><\/th><td class="instance">([^<]*)<\/td>.*?<td>([^<]*)<\/td><\/tr>/g),
  ].map((m) => [m[1] ?? "", m[2] ?? "", m[3] ?? ""]);
}

describe("the report list", () => {
  it("counts two instances of one alert apart, not as one alert recurring", () => {
    const all = [entry(1, "10.0.0.1:8443"), entry(2, "10.0.0.2:8443"), entry(3, "10.0.0.1:8443"), entry(4, "10.0.0.1:8443")];
    expect(rows(renderReportList(all, all, {}, "tok"))).toEqual([
      ["KubeClientErrors", "instance=10.0.0.1:8443", "fired 3 times in 24 h, same cause each time"],
      ["KubeClientErrors", "instance=10.0.0.2:8443", "once"],
      ["KubeClientErrors", "instance=10.0.0.1:8443", "fired 2 times in 24 h, same cause each time"],
      ["KubeClientErrors", "instance=10.0.0.1:8443", "once"],
    ]);
  });

  it("names every label the alert's instances differ by, where-labels first, and always the instance", () => {
    const other = makeAlert({ labels: { ...makeAlert().labels, pod: "ksm-1", namespace: "kube-system" } });
    const all = [
      entry(1, "10.0.0.1:8443"),
      { ...entry(2, "10.0.0.1:8443"), diagnosis: makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert: other })] }) },
    ];
    const labels = identifyingLabels(all);
    expect(labels.get("KubeClientErrors")).toEqual(["namespace", "instance", "pod"]);
    expect(instanceText(other, labels)).toBe("namespace=kube-system instance=10.244.1.17:8443 pod=ksm-1");
    // One alert alone: its instance still shows.
    expect(instanceText(makeAlert(), identifyingLabels([entry(1, "10.244.1.17:8443")]))).toBe("instance=10.244.1.17:8443");
  });

  it("tells a changed cause of the same instance from a steady one", () => {
    const changed = entry(0.5, "10.0.0.1:8443", {
      alerts: [
        makeAlertDiagnosis({
          alert: makeAlert({ labels: { ...makeAlert().labels, instance: "10.0.0.1:8443" } }),
          causes: [makeCause({ id: "network", title: "Network errors" })],
        }),
      ],
    });
    const all = [changed, entry(1, "10.0.0.1:8443"), entry(2, "10.0.0.2:8443")];
    expect(recurrence(changed, all)).toBe("fired 2 times in 24 h, 2 different causes");
    expect(recurrence(all[2] as (typeof all)[number], all)).toBeUndefined();
  });

  it("says how many more alerts a row's group holds beside the one it names", () => {
    const two = makeDiagnosis({
      alerts: [
        makeAlertDiagnosis(),
        makeAlertDiagnosis({ alert: makeAlert({ labels: { ...makeAlert().labels, instance: "10.0.0.9:8443" } }) }),
      ],
    });
    const all = [{ ...entry(1, "x"), diagnosis: two }];
    expect(rows(renderReportList(all, all, {}, "tok"))[0]?.[1]).toBe("instance=10.244.1.17:8443 and 1 more alert");
  });

  it("shows when each diagnosis arrived as a <time> the page's script turns into local time", () => {
    const all = [entry(1, "10.0.0.1:8443")];
    expect(renderReportList(all, all, {}, "tok")).toContain('<time datetime="2026-08-20T11:00:00.000Z">2026-08-20 11:00:00 UTC</time>');
  });
});
