// A fixed evaluation time (issue #12): `rules test` runs each case at its file's or its own `at:` (default a fixed
// time), and fixtures' "now-5m", the time functions of conditions, the fake API server's log filter and the canned
// Prometheus answers all use it, so a run next year gives what a run today gives.
import { afterEach, describe, expect, it } from "vitest";
import { atTime, compileExpression, evaluationTime, x509 } from "../../src/engine/expressions.ts";
import { DEFAULT_TEST_TIME } from "../../testkit/test-file.ts";
import { type RulesDir, rulesWith } from "./support.ts";

/** worker-1's client certificate of rules/tests/KubernetesClientCertificateExpiresSoon.yaml: 2026-11-23T16:20:49Z for ten years. */
const WORKER_1_10Y =
  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJSakNCN0FJVWRQUFJDaUt3ZC9SMnZXWSs1L3E2c3V5ZlR6UXdDZ1lJS29aSXpqMEVBd0l3RlRFVE1CRUcKQTFVRUF3d0thM1ZpWlhKdVpYUmxjekFlRncweU5qRXhNak14TmpJd05EbGFGdzB6TmpFeE1qQXhOakl3TkRsYQpNRFl4RlRBVEJnTlZCQW9NREhONWMzUmxiVHB1YjJSbGN6RWRNQnNHQTFVRUF3d1VjM2x6ZEdWdE9tNXZaR1U2CmQyOXlhMlZ5TFRFd1dUQVRCZ2NxaGtqT1BRSUJCZ2dxaGtqT1BRTUJCd05DQUFTTWExQ1h3WjgwdFBzdmhtM3UKbCszQWRJRDVEV2lVVUtqVUFWcnJJLzFLVEVNbE1oRTBSa0VFM1pVVi8rTU5FekgrQUZEWHhGYUJHNzkxTWNoegpJSEhHTUFvR0NDcUdTTTQ5QkFNQ0Ewa0FNRVlDSVFESVRDYmtKeHQzZ2QwekpoczJSSzdpc1VXMzRqcGxLNXo1CkEwYXdGK0lEM1FJaEFNTWkrTU9WeWUxeTlVUTh2WkNHMXZRTWUyV2FtTEdiTTUwUW1MaTJyRXNQCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

describe("the time expressions evaluate at", () => {
  it("is the one atTime() sets, for secondsUntil and x509, and the real time outside it", () => {
    const at = Date.parse("2026-11-23T10:00:00Z");
    const until = compileExpression('secondsUntil("2026-11-23T11:00:00Z")');
    const left = compileExpression("x509(cert).secondsLeft");
    expect(atTime(at, () => until.evaluate({}))).toBe(3600);
    expect(atTime(at, () => left.evaluate({ cert: WORKER_1_10Y }))).toBe((Date.parse("2036-11-20T16:20:49Z") - at) / 1000);
    expect(atTime(at, () => x509(WORKER_1_10Y).secondsLeft)).toBe((Date.parse("2036-11-20T16:20:49Z") - at) / 1000);
    const outside = until.evaluate({}) as number;
    expect(Math.abs(outside - (Date.parse("2026-11-23T11:00:00Z") - Date.now()) / 1000)).toBeLessThan(5);
    expect(Math.abs(evaluationTime() - Date.now())).toBeLessThan(1000);
  });

  it("stays each run's own across awaits when runs overlap", async () => {
    const until = compileExpression('secondsUntil("2026-11-23T11:00:00Z")');
    const later = async (at: string) =>
      atTime(Date.parse(at), async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        await Promise.resolve();
        return until.evaluate({});
      });
    expect(await Promise.all([later("2026-11-23T10:00:00Z"), later("2026-11-23T10:59:00Z")])).toEqual([3600, 60]);
  });
});

/** The age of a ConfigMap, the web pod's log since 10 minutes, the last point of a 3-minute history, the alert's start. */
const CLOCKED_PLAYBOOK = `alert: Example
title: Example
runbook: example.md
steps:
  - id: settings
    title: The settings ConfigMap
    kubernetes: { apiVersion: v1, kind: ConfigMap, namespace: shop, name: settings }
  - id: web_logs
    title: The web pod's last ten minutes
    logs: { namespace: shop, pod: web-1, container: app, sinceSeconds: 600, patterns: { failed: failed } }
  - id: history
    title: Error history
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m]))', range: 3m }
causes:
  - id: clock
    title: What the clock says
    symptom: { when: "true", text: the clock }
    confidence: 0.5
    summary: >-
      age {{ fixed(-secondsUntil(steps.settings.object.metadata.creationTimestamp), 0) }} s;
      {{ steps.web_logs.lines }} log lines;
      last point {{ steps.history.series[0].points[2].t }};
      fired {{ alert.startsAt }}
noCorrelation:
  title: No correlation
  summary: nothing
`;

function clockedTests(fileAt: string): string {
  return `playbook: Example
${fileAt}
alert: { startsAt: now-1m }
cluster:
  objects:
    - apiVersion: v1
      kind: Pod
      metadata: { name: web-1, namespace: shop }
      spec: { nodeName: worker-1, containers: [{ name: app, image: registry.example.com/app:1.0 }] }
    - apiVersion: v1
      kind: ConfigMap
      metadata: { name: settings, namespace: shop, creationTimestamp: now-90m }
  logs:
    shop/web-1/app: |
      2026-11-23T09:45:00Z request failed
      2026-11-23T09:55:00Z request failed
      2026-11-23T09:58:00Z request ok
prometheus:
  history: { range: [{ values: [0.1, 0.2, 0.3] }] }
cases:
  - name: at the file's clock
    expect:
      cause: clock
      summary: "age 5400 s; 2 log lines; last point 2026-11-23T10:00:00.000Z; fired 2026-11-23T09:59:00.000Z"
  - name: at its own clock, two hours later
    at: 2026-11-23T12:00:00+00:00
    expect:
      cause: clock
      summary: "age 5400 s; 0 log lines; last point 2026-11-23T12:00:00.000Z; fired 2026-11-23T11:59:00.000Z"
  - name: with a ConfigMap created at a fixed time
    cluster:
      remove: [{ kind: ConfigMap, namespace: shop, name: settings }]
      objects:
        - apiVersion: v1
          kind: ConfigMap
          metadata: { name: settings, namespace: shop, creationTimestamp: "2026-11-23T09:00:00Z" }
    expect:
      cause: clock
      summary: "age 3600 s;"
`;
}

let rules: RulesDir | undefined;

afterEach(() => {
  rules?.remove();
  rules = undefined;
});

describe("a test file's clock", () => {
  it("governs now-relative fixtures, time functions, the log filter and Prometheus answers, per file and per case", async () => {
    rules = rulesWith(clockedTests("at: 2026-11-23T10:00:00Z"), CLOCKED_PLAYBOOK);
    const results = await rules.run();
    expect(results.map((r) => [r.name, r.problems])).toEqual([
      ["at the file's clock", []],
      ["at its own clock, two hours later", []],
      ["with a ConfigMap created at a fixed time", []],
    ]);
  });

  it(`defaults to ${DEFAULT_TEST_TIME}`, async () => {
    expect(DEFAULT_TEST_TIME).toBe("2026-11-23T10:00:00Z");
    rules = rulesWith(clockedTests(""), CLOCKED_PLAYBOOK);
    expect((await rules.run())[0]).toMatchObject({ name: "at the file's clock", passed: true });
  });

  it("refuses a time that is not RFC 3339, with its line", async () => {
    rules = rulesWith(clockedTests("at: yesterday"), CLOCKED_PLAYBOOK);
    await expect(rules.run()).rejects.toThrow(`${rules.file}:2: at: must be an RFC 3339 time such as 2026-11-23T10:00:00Z`);
  });
});
