import { describe, expect, it } from "vitest";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import type { StepSources } from "../../src/engine/run-playbook.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const playbooks = loadPlaybooks("rules");
const limits = { stepTimeoutMs: 1000, deadlineMs: 5000, listLimit: 100, logTailLines: 100, logLimitBytes: 10_000 };

function countingSources(): { sources: StepSources; reads: () => number } {
  let reads = 0;
  const empty = async () => {
    reads++;
    return { data: {}, request: "", summary: "" };
  };
  return { sources: { kubernetes: empty, logs: empty, prometheus: empty }, reads: () => reads };
}

describe("diagnose", () => {
  it("does not query a cluster for a resolved alert, and says why no playbook ran", async () => {
    const { sources, reads } = countingSources();
    const firing = kubeClientErrorsPayload();
    const resolved = {
      ...firing,
      status: "resolved" as const,
      alerts: firing.alerts.map((a) => ({ ...a, status: "resolved" as const, endsAt: new Date().toISOString() })),
    };
    const diagnosis = await diagnose("n1", resolved, { playbooks, sources, limits, maxPlaybookRuns: 10 });
    expect(reads()).toBe(0);
    expect(diagnosis.alerts[0]).toMatchObject({
      playbook: null,
      causes: [],
      note: "Resolved; the KubeClientErrors playbook runs only while an alert fires.",
    });
  });

  it("runs at most MAX_PLAYBOOK_RUNS_PER_NOTIFICATION playbooks for a huge group and forwards the rest plainly", async () => {
    const { sources } = countingSources();
    const one = kubeClientErrorsPayload();
    const alerts = Array.from({ length: 5 }, (_, i) => ({
      ...one.alerts[0],
      fingerprint: `f${i}`,
      labels: { ...one.alerts[0]?.labels, instance: `10.0.0.${i}:443` },
    }));
    const payload = { ...one, alerts: alerts as typeof one.alerts };
    const diagnosis = await diagnose("n2", payload, { playbooks, sources, limits, maxPlaybookRuns: 2 });
    expect(diagnosis.alerts.filter((a) => a.playbook === "KubeClientErrors")).toHaveLength(2);
    const skipped = diagnosis.alerts.filter((a) => a.playbook === null);
    expect(skipped).toHaveLength(3);
    expect(skipped[0]?.note).toContain("MAX_PLAYBOOK_RUNS_PER_NOTIFICATION");
  });

  it("finds a playbook by any of its alert names and builds the silence link from ALERTMANAGER_URL when set", async () => {
    const { sources } = countingSources();
    const payload = kubeClientErrorsPayload({ alertname: "KubernetesApiClientErrors" });
    const diagnosis = await diagnose("n3", payload, {
      playbooks,
      sources,
      limits,
      maxPlaybookRuns: 1,
      alertmanagerUrl: "https://am.example.com",
      publicUrl: "https://enricher.example.com/",
    });
    const alert = diagnosis.alerts[0];
    expect(alert?.playbook).toBe("KubernetesApiClientErrors");
    expect(alert?.links.silence).toMatch(
      /^https:\/\/am\.example\.com\/#\/silences\/new\?filter=%7Balertname%3D%22KubernetesApiClientErrors%22/,
    );
    expect(alert?.links.report).toBe("https://enricher.example.com/reports/n3");
  });
});
