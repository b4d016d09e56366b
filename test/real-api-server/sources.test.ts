// The reads issue #13 found wrong, against a real kube-apiserver: lists past their first page, a cut sorted list, the
// log of a pod without a node (204, no Content-Type), and an API group named without its version. Each failed before
// its fix, here as against the fake (test/sources/kubernetes.test.ts).
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { BackendGuard } from "../../src/sources/backend-guard.ts";
import { type KubernetesRead, KubernetesSource } from "../../src/sources/kubernetes.ts";
import { createKubernetesClient, loadKubeConfig } from "../../src/sources/kubernetes-client.ts";
import { type LogRead, LogsSource } from "../../src/sources/logs.ts";
import { type AuditEvent, type RealKubeApi, startRealKubeApi } from "../support/kube-apiserver.ts";
import { event, pod } from "../support/kube-objects.ts";
import { RealClusterLoader } from "../support/real-cluster-loader.ts";

let api: RealKubeApi;
let objects: KubernetesSource;
let logs: LogsSource;
const signal = () => new AbortController().signal;
const names = (items: unknown) => (items as KubernetesObject[]).map((o) => o.metadata?.name);

/** 600 Events whose names sort oldest first, so the newest are on the last page the server returns. */
const events: KubeObject[] = Array.from({ length: 600 }, (_, i) =>
  event({
    name: `ev-${String(i).padStart(4, "0")}`,
    namespace: "paging",
    involvedObject: { kind: "Pod", name: "x" },
    reason: "R",
    message: `m${i}`,
    lastTimestamp: new Date(Date.UTC(2026, 0, 15, 9, 0, 0) + i * 1000).toISOString().replace(".000Z", "Z"),
  }),
);
const listEvents = (overrides: Partial<KubernetesRead> = {}): KubernetesRead => ({
  apiVersion: "v1",
  kind: "Event",
  namespace: "paging",
  limit: 500,
  ...overrides,
});
const eventListsSince = (from: number): AuditEvent[] =>
  api
    .audit()
    .slice(from)
    .filter((e) => e.verb === "list" && e.objectRef?.resource === "events" && e.objectRef.namespace === "paging");

beforeAll(async () => {
  api = await startRealKubeApi();
  const pending = pod({ name: "unscheduled", namespace: "paging", nodeName: "", phase: "Pending" });
  const problems = await new RealClusterLoader(api).sync({ objects: [...events, pending] });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const client = createKubernetesClient(loadKubeConfig(api.adminKubeconfig), "alert-enricher/test");
  objects = new KubernetesSource(client);
  logs = new LogsSource(client);
}, 120_000);

afterAll(async () => {
  await api?.stop();
});

describe("reads against a real kube-apiserver", () => {
  it("follows continue tokens past the first page", async () => {
    await api.call("DELETE", "/api/v1/namespaces/paging/events/ev-0599?gracePeriodSeconds=0"); // 599 left
    const from = api.audit().length;
    const output = await objects.read(listEvents({ limit: 1000 }), signal());
    expect(output.data.count).toBe(599);
    expect(output.data.truncated).toBe(false);
    expect(new Set(names(output.data.items)).size).toBe(599);
    // Three pages of at most 250, each after the first asking with the token the server gave.
    const pages = eventListsSince(from).map((e) => new URL(e.requestURI, "https://x").searchParams);
    expect(pages.map((p) => p.get("limit"))).toEqual(["250", "250", "250"]);
    expect(pages.map((p) => p.has("continue"))).toEqual([false, true, true]);
  });

  it("stops at the limit and says the list was cut, and that its order is partial", async () => {
    const output = await objects.read(listEvents({ sortBy: "lastTimestamp" }), signal());
    expect(output.data.count).toBe(500);
    expect(output.data.truncated).toBe(true);
    expect(output.data.orderPartial).toBe(true);
    // The server lists by name: the newest of those read is the 500th, not the newest of all.
    expect(names(output.data.items)[0]).toBe("ev-0499");
    expect(output.summary).toBe("500 Events (stopped at the limit of 500), newest first among the 500 read of more");
  });

  it("reads the log of a pod without a node as no logs, not as a failing API server", async () => {
    const guard = new BackendGuard({ name: "API server", maxInFlight: 4, failureThreshold: 1, cooldownMs: 60_000 });
    const read = guard.wrap((request: LogRead, s: AbortSignal) => logs.read(request, s));
    const request: LogRead = {
      namespace: "paging",
      pod: "unscheduled",
      patterns: { e: "error" },
      tailLines: 100,
      limitBytes: 10_000,
      maxExcerpts: 5,
    };
    const output = await read(request, signal());
    expect(output.data).toMatchObject({ pod: "unscheduled", lines: 0, noNode: true, excerpts: [] });
    expect(guard.stats).toMatchObject({ consecutiveFailures: 0, circuitOpenUntil: 0 });
  });

  it("reads an API group named without its version at the version the server prefers", async () => {
    const output = await objects.read({ apiVersion: "flowcontrol.apiserver.k8s.io", kind: "FlowSchema", limit: 500 }, signal());
    expect(output.data.apiVersion).toBe("flowcontrol.apiserver.k8s.io/v1");
    expect(names(output.data.items)).toContain("catch-all");
  });
});
