import { describe, expect, it } from "vitest";
import { type RunLimits, runPlaybook, type StepSources } from "../../src/engine/run-playbook.ts";
import type { SourceOutput } from "../../src/sources/source.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { PODS_STEP, stepsOnlyPlaybook } from "../support/playbook-fixtures.ts";

const LIMITS: RunLimits = { stepTimeoutMs: 300, deadlineMs: 2000, listLimit: 100, logTailLines: 100, logLimitBytes: 10_000 };
const alert = kubeClientErrorsPayload().alerts[0] as NonNullable<ReturnType<typeof kubeClientErrorsPayload>["alerts"][0]>;

const never = <T>() => new Promise<T>(() => {});
const output = (data: Record<string, unknown>, summary = "ok"): SourceOutput => ({ data, request: "GET /x", summary });

describe("runPlaybook", () => {
  it("starts independent steps together and a dependent step only after the step it reads", async () => {
    const events: string[] = [];
    const sources: StepSources = {
      kubernetes: async (request) => {
        events.push(`start ${request.kind}`);
        await new Promise((r) => setTimeout(r, 50));
        events.push(`end ${request.kind}`);
        return output({ items: [{ metadata: { name: "p1", namespace: "ns" } }], count: 1 });
      },
      logs: async (request) => {
        events.push(`logs ${request.pod}`);
        return output({ lines: 1, matches: {}, excerpts: [] });
      },
      prometheus: async () => output({ series: [], count: 0, value: null }),
    };
    const run = await runPlaybook(
      stepsOnlyPlaybook(`
${PODS_STEP}
  - { id: nodes, title: nodes, kubernetes: { apiVersion: v1, kind: Node } }
  - id: logs
    title: logs
    forEach: steps.pods.items
    logs: { namespace: "{{ item.metadata.namespace }}", pod: "{{ item.metadata.name }}", patterns: { e: error } }`),
      alert,
      sources,
      LIMITS,
    );
    expect(events.slice(0, 2)).toEqual(["start Pod", "start Node"]);
    expect(events.indexOf("logs p1")).toBeGreaterThan(events.indexOf("end Pod"));
    expect(run.steps.map((s) => s.status)).toEqual(["ok", "ok", "ok"]);
    expect(run.partial).toBe(false);
  });

  it("cuts a step that hangs at its timeout, says who did not answer, and still runs the rest", async () => {
    const sources: StepSources = {
      kubernetes: () => never(),
      logs: () => never(),
      prometheus: async () => output({ series: [{ labels: {}, value: 0.5 }], count: 1, value: 0.5 }, "1 series"),
    };
    const started = Date.now();
    const run = await runPlaybook(
      stepsOnlyPlaybook(`
  - { id: pods, title: pods, kubernetes: { apiVersion: v1, kind: Pod, namespace: kube-system } }
  - { id: ratio, title: ratio, prometheus: { query: "up" } }`),
      alert,
      sources,
      LIMITS,
    );
    expect(Date.now() - started).toBeLessThan(1500);
    const [pods, ratio] = run.steps;
    expect(pods?.status).toBe("timeout");
    expect(pods?.error).toBe("API server did not answer a Pod list in kube-system in 0.3 s");
    expect(ratio?.status).toBe("ok");
    expect(run.partial).toBe(true);
    // A step that could not read is unknown: absent from what conditions see, so nothing reads it as "no pods".
    expect(Object.keys(run.scope.steps as object)).toEqual(["ratio"]);
    expect(run.unknown.get("steps.pods")?.reason).toBe("API server did not answer a Pod list in kube-system in 0.3 s");
  });

  it("stops at the playbook deadline and marks steps that never started as skipped", async () => {
    const sources: StepSources = { kubernetes: () => never(), logs: () => never(), prometheus: () => never() };
    const run = await runPlaybook(
      stepsOnlyPlaybook(
        `
  - { id: first, title: first, timeout: 5s, kubernetes: { apiVersion: v1, kind: Pod } }
  - { id: second, title: second, when: "steps.first.status == 'ok'", kubernetes: { apiVersion: v1, kind: Pod, namespace: "{{ steps.first.items[0].metadata.namespace }}" } }`,
        { deadline: "200ms" },
      ),
      alert,
      sources,
      LIMITS,
    );
    expect(run.steps[0]?.status).toBe("timeout");
    expect(run.steps[0]?.error).toContain("when the playbook deadline was reached");
    expect(run.steps[1]?.status).toBe("skipped");
    expect(run.partial).toBe(true);
  });

  it("records a failed read as a finding and does not let it stop the other steps", async () => {
    const sources: StepSources = {
      kubernetes: async () => {
        throw new Error("API server answered 403 Forbidden: pods is forbidden");
      },
      logs: () => never(),
      prometheus: async () => output({ series: [], count: 0, value: null }),
    };
    const run = await runPlaybook(
      stepsOnlyPlaybook(`
${PODS_STEP}
  - { id: q, title: q, prometheus: { query: "up" } }`),
      alert,
      sources,
      LIMITS,
    );
    expect(run.steps[0]).toMatchObject({ status: "failed", error: "API server answered 403 Forbidden: pods is forbidden" });
    expect(run.steps[1]?.status).toBe("ok");
  });

  it("runs a forEach step once per item, at most maxItems times, and adds up what it found", async () => {
    const pods = Array.from({ length: 8 }, (_, i) => ({ metadata: { name: `p${i}`, namespace: "ns" } }));
    const read: string[] = [];
    const sources: StepSources = {
      kubernetes: async () => output({ items: pods, count: pods.length }),
      logs: async (request) => {
        read.push(request.pod);
        return output({ lines: 10, matches: { refused: 2 }, excerpts: [{ pattern: "refused", line: "dial tcp: connection refused" }] });
      },
      prometheus: () => never(),
    };
    const run = await runPlaybook(
      stepsOnlyPlaybook(`
${PODS_STEP}
  - id: logs
    title: logs
    forEach: steps.pods.items
    maxItems: 3
    logs: { namespace: "{{ item.metadata.namespace }}", pod: "{{ item.metadata.name }}", patterns: { refused: "connection refused|ECONNREFUSED" } }`),
      alert,
      sources,
      LIMITS,
    );
    expect(read).toEqual(["p0", "p1", "p2"]);
    const logs = (run.scope.steps as Record<string, { lines: number; matches: { refused: number } }>).logs;
    expect(logs?.lines).toBe(30);
    expect(logs?.matches.refused).toBe(6);
    expect(run.logExcerpts).toHaveLength(3);
    // The regex travels with the excerpt, so the report marks what matched rather than the pattern's name.
    expect(run.logExcerpts[0]).toMatchObject({ step: "logs", pod: "ns/p0", pattern: "refused", regex: "connection refused|ECONNREFUSED" });
  });

  it("keeps a hostile label value inside its PromQL string, so it cannot change the query", async () => {
    const queries: string[] = [];
    const sources: StepSources = {
      kubernetes: () => never(),
      logs: () => never(),
      prometheus: async (request) => {
        queries.push(request.query);
        return output({ series: [], count: 0, value: null });
      },
    };
    const hostile = { ...alert, labels: { ...alert.labels, instance: 'x"}[5m]) or vector(1) #' } };
    await runPlaybook(
      stepsOnlyPlaybook(`
  - { id: q, title: q, prometheus: { query: 'rate(rest_client_requests_total{instance="{{ alert.labels.instance }}"}[5m])' } }`),
      hostile,
      sources,
      LIMITS,
    );
    expect(queries).toEqual(['rate(rest_client_requests_total{instance="x\\"}[5m]) or vector(1) #"}[5m])']);
  });

  it("refuses to put a label value that is not a valid label value into a label selector", async () => {
    const sources: StepSources = { kubernetes: async () => output({ items: [] }), logs: () => never(), prometheus: () => never() };
    const run = await runPlaybook(
      stepsOnlyPlaybook(`
  - { id: pods, title: pods, kubernetes: { apiVersion: v1, kind: Pod, labelSelector: "app={{ alert.labels.instance }}" } }`),
      { ...alert, labels: { ...alert.labels, instance: "a,b=c" } },
      sources,
      LIMITS,
    );
    expect(run.steps[0]?.status).toBe("skipped");
    expect(run.steps[0]?.summary).toContain("is not a valid label value");
  });
});

describe("what a step read, for the report", () => {
  it("keeps the first 20 objects of a list as a table with namespace, name, status and age", async () => {
    const items = Array.from({ length: 23 }, (_, i) => ({
      metadata: { namespace: "ns", name: `p${i}`, creationTimestamp: "2026-11-20T09:00:00Z" },
      status: { phase: "Running" },
    }));
    const sources: StepSources = {
      kubernetes: async () => output({ items, count: items.length }),
      logs: () => never(),
      prometheus: () => never(),
    };
    const run = await runPlaybook(
      stepsOnlyPlaybook(`
${PODS_STEP}`),
      alert,
      sources,
      LIMITS,
    );
    expect(run.steps[0]?.table?.columns).toEqual(["namespace", "name", "status", "created"]);
    expect(run.steps[0]?.table?.rows[0]).toEqual(["ns", "p0", "Running", "2026-11-20T09:00:00Z"]);
    expect(run.steps[0]?.table?.rows).toHaveLength(20);
    expect(run.steps[0]?.table?.more).toBe(3);
  });
});
