// Issue #11 item 6: a kube-system Event whose message carried a Bearer token, a JWT and password=… reached the
// PagerDuty payload, the report and the database verbatim, since only pod logs were redacted. Now the engine redacts
// whatever any source returns (run-playbook.ts), so these test sources, which redact nothing, pass through it too.
import { describe, expect, it } from "vitest";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { type CompiledPlaybook, loadPlaybookFile } from "../../src/engine/load-playbooks.ts";
import type { StepSources } from "../../src/engine/run-playbook.ts";
import { renderPagerDutyEvent } from "../../src/render/pagerduty-event.ts";
import { renderReportPage } from "../../src/render/report-page.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const BEARER = "8f14e45fceea167a5a36dedd4bea2543";
const JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IkFCQyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW0ifQ.c2lnbmF0dXJlLXBhcnQ";
const PASSWORD = "Zq9hunter2";
const LOG_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const LABEL_PASSWORD = "s3cr3t-in-a-label";
const ERROR_TOKEN = "AKIAIOSFODNN7EXAMPLE";
const SECRETS = [BEARER, JWT, "c2lnbmF0dXJlLXBhcnQ", PASSWORD, LOG_TOKEN, LABEL_PASSWORD, ERROR_TOKEN];

/** The steps and cause of the shipped KubeClientErrors playbook that quote kube-system Events, plus a log, a query and a read that fails. */
const PLAYBOOK = `
alert: KubeClientErrors
title: Kubernetes API client errors
runbook: r
steps:
  - id: control_plane_events
    title: Recent kube-system events, newest first
    kubernetes: { apiVersion: v1, kind: Event, namespace: kube-system, limit: 500, sortBy: lastTimestamp }
  - id: client_logs
    title: The client's log
    logs: { namespace: monitoring, pod: kube-state-metrics-0, patterns: { unauthorized: Unauthorized } }
  - id: client_errors
    title: Client errors by host
    prometheus: { query: "sum by (host) (rate(rest_client_requests_total[5m]))" }
  - id: client_account
    title: The client's ServiceAccount
    kubernetes: { apiVersion: v1, kind: ServiceAccount, namespace: monitoring, name: kube-state-metrics }
causes:
  - id: client_error_events
    title: Control-plane events report client errors
    confidence: 0.5
    symptom:
      when: steps.control_plane_events.items.exists(e, containsAny(e.?message.orValue(""), ["connection refused", "timeout", "unauthorized", "forbidden"]))
      text: kube-system events report client errors
    summary: >-
      kube-system events report client errors: {{ steps.control_plane_events.items[0].message }}
      (hosts: {{ join(steps.client_errors.series.map(s, s.labels.host), ", ") }})
    evidence:
      - step: control_plane_events
        each: steps.control_plane_events.items.filter(e, containsAny(e.?message.orValue(""), ["unauthorized"]))
        at: "{{ item.?lastTimestamp.orValue('') }}"
        text: "{{ item.reason }} on {{ item.involvedObject.kind }}/{{ item.involvedObject.name }}: {{ item.message }}"
    remediation:
      - kubectl -n kube-system get events --sort-by=.lastTimestamp
noCorrelation:
  title: No correlation found
  summary: nothing matched
`;

function playbook(): CompiledPlaybook {
  const result = loadPlaybookFile("KubeClientErrors.yaml", PLAYBOOK);
  if ("problems" in result) throw new Error(result.problems.map((p) => `${p.line}: ${p.message}`).join("\n"));
  return result.playbook;
}

/** Sources that hand back what a cluster might hold, secrets and all, as a careless source would. */
const sources: StepSources = {
  kubernetes: async (request) => {
    if (request.kind === "ServiceAccount") throw new Error(`API server answered 401 Unauthorized for key ${ERROR_TOKEN}`);
    const message = `Get "https://10.96.0.1:443/api/v1/secrets": Unauthorized; sent Authorization: Bearer ${BEARER}, token ${JWT}, password=${PASSWORD}`;
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "kube-controller-manager-node-1.17f3a9c2e4b1d0a8", namespace: "kube-system" },
      involvedObject: { kind: "Pod", name: "kube-controller-manager-node-1", namespace: "kube-system" },
      reason: "FailedSync",
      type: "Warning",
      message,
      lastTimestamp: new Date(Date.now() - 30_000).toISOString(),
      count: 4,
    };
    return {
      data: { items: [event], count: 1, truncated: false },
      request: "GET /api/v1/namespaces/kube-system/events",
      summary: `1 Event: ${message}`,
    };
  },
  logs: async () => ({
    data: {
      lines: 1,
      matches: { unauthorized: 1 },
      excerpts: [{ pattern: "unauthorized", line: `E1123 reflector.go:147] Unauthorized, cloning with ${LOG_TOKEN}` }],
    },
    request: "GET /api/v1/namespaces/monitoring/pods/kube-state-metrics-0/log",
    summary: "1 line, unauthorized ×1",
  }),
  prometheus: async () => {
    const labels = { host: `https://ksm:${LABEL_PASSWORD}@10.96.0.1:443` };
    const now = Date.now();
    const points = Array.from({ length: 5 }, (_, i) => ({ t: new Date(now - (4 - i) * 60_000).toISOString(), v: 0.05 }));
    return { data: { series: [{ labels, value: 0.05, points }], count: 1, value: 0.05 }, request: "query", summary: `host ${labels.host}` };
  },
};

describe("secrets in what the cluster returns", () => {
  it("reach neither the diagnosis, nor the PagerDuty event, nor the report page, and the cause still holds", async () => {
    const limits = { stepTimeoutMs: 1000, deadlineMs: 5000, listLimit: 500, logTailLines: 100, logLimitBytes: 10_000 };
    const diagnosis = await diagnose("n-secrets", kubeClientErrorsPayload(), {
      playbooks: [playbook()],
      sources,
      limits,
      maxPlaybookRuns: 1,
    });
    const alert = diagnosis.alerts[0];
    expect(alert?.causes[0]?.id).toBe("client_error_events");
    const evidence = alert?.causes[0]?.evidence.map((e) => e.text).join("\n") ?? "";
    expect(evidence).toContain("FailedSync on Pod/kube-controller-manager-node-1");
    expect(evidence).toContain("Unauthorized; sent Authorization: Bearer [REDACTED], token [REDACTED jwt], password=[REDACTED]");
    expect(alert?.logExcerpts[0]?.line).toBe("E1123 reflector.go:147] Unauthorized, cloning with [REDACTED github token]");
    expect(alert?.steps.find((s) => s.id === "client_account")?.error).toContain("API server answered 401 Unauthorized");

    const stored = JSON.stringify(diagnosis);
    const pagerDuty = JSON.stringify(renderPagerDutyEvent(diagnosis, "e93facc04764012d7bfb002500d5d1a6"));
    const report = renderReportPage(diagnosis);
    expect(report).toContain("[REDACTED jwt]");
    for (const secret of SECRETS) {
      expect(stored, "the stored diagnosis").not.toContain(secret);
      expect(pagerDuty, "the PagerDuty event").not.toContain(secret);
      expect(report, "the report page").not.toContain(secret);
    }
  });
});
