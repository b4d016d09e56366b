// A group's diagnosis in one line: what a storm counts and groups by.
import { describe, expect, it } from "vitest";
import { groupVerdictOf, nameFromGroupKey } from "../../src/diagnosis/group-verdict.ts";
import { makeAlertDiagnosis, makeCause, makeDiagnosis } from "../support/diagnosis-fixtures.ts";

const labels = { alertname: "KubeClientErrors", cluster: "prod-eu", job: "report-exporter" };

describe("groupVerdictOf", () => {
  it("names the headline cause of the first alert with one, and the group by its job", () => {
    const rbac = makeCause({
      id: "authorization_failure",
      title: "Client not allowed by RBAC (403)",
      summary: "report-exporter may not list pods.",
    });
    const d = makeDiagnosis({
      commonLabels: labels,
      alerts: [
        makeAlertDiagnosis({ verdict: "could_not_check", causes: [] }),
        makeAlertDiagnosis({ verdict: "cause", causes: [rbac, makeCause()] }),
      ],
    });
    expect(groupVerdictOf(d)).toEqual({
      verdict: "cause",
      cause: { id: "authorization_failure", title: "Client not allowed by RBAC (403)", summary: "report-exporter may not list pods." },
      name: "report-exporter",
    });
  });

  it("says could not check before no cause, and none when no playbook ran", () => {
    const noCause = makeAlertDiagnosis({ verdict: "no_cause", causes: [makeCause({ id: "no_correlation" })] });
    const blind = makeAlertDiagnosis({ verdict: "could_not_check", causes: [] });
    expect(groupVerdictOf(makeDiagnosis({ commonLabels: labels, alerts: [noCause, blind] }))).toEqual({
      verdict: "could_not_check",
      name: "report-exporter",
    });
    expect(groupVerdictOf(makeDiagnosis({ commonLabels: labels, alerts: [noCause] })).verdict).toBe("no_cause");
    const plain = makeAlertDiagnosis({ playbook: null, causes: [] });
    delete plain.verdict;
    expect(groupVerdictOf(makeDiagnosis({ commonLabels: { alertname: "Watchdog" }, groupLabels: {}, alerts: [plain] }))).toEqual({
      verdict: "none",
      name: "Watchdog",
    });
  });
});

describe("nameFromGroupKey", () => {
  it("names a group not diagnosed yet by the label its diagnosis would name it by, or gives its key", () => {
    expect(nameFromGroupKey('{}:{alertname="KubeClientErrors", cluster="prod-eu", job="loki-gateway"}')).toBe("loki-gateway");
    expect(nameFromGroupKey('{}/{severity="critical"}:{alertname="KubeAPIErrorBudgetBurn"}')).toBe("KubeAPIErrorBudgetBurn");
    expect(nameFromGroupKey('{}:{job="say \\"hi\\"", pod="p"}')).toBe('say \\"hi\\"');
    expect(nameFromGroupKey("{}:{}")).toBe("{}:{}");
  });
});
