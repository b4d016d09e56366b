// Tests for the plain-text rendering used by the console sink and incident notes.
import { describe, expect, it } from "vitest";
import { renderPlainTextNote, renderText } from "../../src/render/text.ts";
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

describe("renderText", () => {
  it("shows status, alert and where it fires on the alert's header line", () => {
    expect(renderText(makeDiagnosis())).toContain(
      "[FIRING] KubeClientErrors (cluster=prod-eu-1 namespace=monitoring instance=10.244.1.17:8443 job=kube-state-metrics)",
    );
  });

  it("gives the probable cause with its confidence, the evidence and the remediation to do now", () => {
    const text = renderText(makeDiagnosis());
    expect(text).toContain(`Probable cause (86%): ${FIXTURE_CAUSE}`);
    expect(text).toContain(
      "  - ServiceAccount token Secret kube-state-metrics-token was rotated at 09:58 [events at 2026-08-20T09:58:12Z]",
    );
    expect(text).toContain(`do now: ${FIXTURE_REMEDIATION}`);
    expect(text).toContain("then:   kubectl -n monitoring get pods");
  });

  it("lists the other causes considered with their confidence", () => {
    const text = renderText(makeDiagnosis());
    expect(text).toContain(
      "Other causes considered:\n  - API server throttling the client (429) (9%)\n  - Network errors reaching the API server (5%)",
    );
  });

  it("tabulates the steps with status, duration, id and result or error", () => {
    const steps = [
      ...makeSteps(),
      {
        id: "apf",
        title: "Requests rejected by API Priority and Fairness",
        kind: "prometheus" as const,
        status: "timeout" as const,
        durationMs: 5000,
        request: "sum by (priority_level) (rate(apiserver_flowcontrol_rejected_requests_total[5m]))",
        summary: "",
        error: "Prometheus did not answer in 5 s",
      },
    ];
    const text = renderText(makeDiagnosis({ alerts: [makeAlertDiagnosis({ steps, partial: true })] }));
    expect(text).toMatch(/STATUS\s+DURATION\s+STEP\s+RESULT/);
    expect(text).toMatch(/ok\s+84 ms\s+error-codes\s+3 series/);
    expect(text).toMatch(/timeout\s+5000 ms\s+apf\s+error: Prometheus did not answer in 5 s/);
  });

  it("marks a partial diagnosis", () => {
    const text = renderText(makeDiagnosis({ alerts: [makeAlertDiagnosis({ partial: true })] }));
    expect(text).toMatch(/^\[FIRING\] KubeClientErrors .* PARTIAL$/m);
    expect(renderText(makeDiagnosis())).not.toContain("PARTIAL");
  });

  it("includes log excerpts and links", () => {
    const text = renderText(makeDiagnosis());
    expect(text).toContain("kube-state-metrics-7d9f8b6c5-x2x4k/kube-state-metrics [Unauthorized]: E0820 10:13:58.412");
    expect(text).toContain("Runbook: https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubeclienterrors");
    expect(text).toContain("Diagnosis report: https://enricher.example.com/reports/n-0001");
  });

  it("prints labels and annotations plainly when no playbook covers the alert", () => {
    const alert = makeAlert({ labels: { alertname: "Watchdog", severity: "none" }, annotations: { summary: "Always firing" } });
    const text = renderText(
      makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert, playbook: null, causes: [], steps: [], logExcerpts: [] })] }),
    );
    expect(text).toContain("No playbook covers this alert");
    expect(text).toContain("Labels:\n  alertname=Watchdog\n  severity=none");
    expect(text).toContain("Annotations:\n  summary: Always firing");
    expect(text).not.toContain("Probable cause");
  });

  it("shows control characters from alert data instead of sending them to the terminal", () => {
    const alert = makeAlert({ labels: { ...makeAlert().labels, namespace: "mon\u001b[2Jitoring" } });
    const text = renderText(makeDiagnosis({ alerts: [makeAlertDiagnosis({ alert })] }));
    expect(text).not.toContain("\u001b");
    expect(text).toContain("namespace=mon\\x1b[2Jitoring");
  });

  it("says how many alerts Alertmanager dropped", () => {
    expect(renderText(makeDiagnosis({ truncatedAlerts: 4 }))).toContain("4 more alerts were dropped by Alertmanager");
  });
});

describe("renderPlainTextNote", () => {
  it("carries the cause, the evidence and the remediation in a few lines", () => {
    const note = renderPlainTextNote(makeDiagnosis());
    expect(note).toContain(`Probable cause (86%): ${FIXTURE_CAUSE}`);
    expect(note).toContain(`Do now: ${FIXTURE_REMEDIATION}`);
    expect(note).toContain("Report: https://enricher.example.com/reports/n-0001");
    expect(note).not.toContain("STATUS");
  });
});

describe("multi-line remediation", () => {
  it("prints a heredoc manifest unindented, so the command can be copied from the terminal and run", () => {
    const heredoc = "kubectl apply -f - <<'EOF'\napiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nEOF";
    const text = renderText(makeDiagnosis({ alerts: [makeAlertDiagnosis({ causes: [makeCause({ remediation: [heredoc] })] })] }));
    expect(text).toContain(`  do now:\n${heredoc}`);
  });

  it("says in the text and in the incident note that the group is part of a storm, and what most of the storm points to", () => {
    const d = makeDiagnosis({ storm: FIXTURE_STORM });
    expect(renderText(d).split("\n")).toContain(FIXTURE_STORM_LINE);
    expect(renderPlainTextNote(d).split("\n")).toContain(FIXTURE_STORM_LINE);
    expect(renderText(makeDiagnosis())).not.toContain("Part of a storm");
  });
});
