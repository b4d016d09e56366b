import type { KubernetesObject } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { loadPlaybookFile } from "../../src/engine/load-playbooks.ts";
import { runPlaybook } from "../../src/engine/run-playbook.ts";
import { BackendGuard } from "../../src/sources/backend-guard.ts";
import { type KubernetesRead, KubernetesSource } from "../../src/sources/kubernetes.ts";
import { createKubernetesClient, type KubernetesClient, loadKubeConfig } from "../../src/sources/kubernetes-client.ts";
import { type LogRead, LogsSource } from "../../src/sources/logs.ts";
import { SourceError } from "../../src/sources/source.ts";
import { type ClusterState, type FakeKubeApi, type FakeKubeOptions, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { event, pod } from "../support/kube-objects.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";

const USER_AGENT = "alert-enricher/test";

let fake: FakeKubeApi | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function clientFor(state: ClusterState, options: FakeKubeOptions = {}): Promise<KubernetesClient> {
  fake = await startFakeKubeApi(state, options);
  return createKubernetesClient(loadKubeConfig(fake.kubeconfigPath), USER_AGENT);
}

const signal = () => new AbortController().signal;

const pods = (count: number) =>
  Array.from({ length: count }, (_, i) => pod({ name: `web-${String(i).padStart(4, "0")}`, namespace: "shop", labels: { app: "web" } }));

const listPods = (overrides: Partial<KubernetesRead> = {}): KubernetesRead => ({
  apiVersion: "v1",
  kind: "Pod",
  namespace: "shop",
  limit: 500,
  ...overrides,
});

async function sourceErrorOf(promise: Promise<unknown>): Promise<SourceError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}

const names = (items: unknown) => (items as KubernetesObject[]).map((o) => o.metadata?.name);

describe("KubernetesSource lists", () => {
  it("reads in pages of 250 and stops at the limit, saying so", async () => {
    const source = new KubernetesSource(await clientFor({ objects: pods(700) }));
    const output = await source.read(listPods({ limit: 500 }), signal());
    expect(output.data.count).toBe(500);
    expect(output.data.truncated).toBe(true);
    expect(output.summary).toBe("500 Pods (stopped at the limit of 500)");
    const pages = fake?.requests.filter((r) => r.path === "/api/v1/namespaces/shop/pods") ?? [];
    expect(pages.map((r) => r.query.limit)).toEqual(["250", "250"]);
    expect(pages[0]?.query.continue).toBeUndefined();
    expect(pages[1]?.query.continue).toBeTruthy();
  });

  it("reads every page when the objects fit in the limit", async () => {
    const source = new KubernetesSource(await clientFor({ objects: pods(300) }));
    const output = await source.read(listPods(), signal());
    expect(output.data.count).toBe(300);
    expect(output.data.truncated).toBe(false);
    expect(output.summary).toBe("300 Pods");
    expect(new Set(names(output.data.items)).size).toBe(300);
  });

  it("asks for no more than the limit when it is under a page", async () => {
    const source = new KubernetesSource(await clientFor({ objects: pods(30) }));
    const output = await source.read(listPods({ limit: 20 }), signal());
    expect(output.data.count).toBe(20);
    expect(output.summary).toBe("20 Pods (stopped at the limit of 20)");
    expect(fake?.requests.filter((r) => r.path.endsWith("/pods")).map((r) => r.query.limit)).toEqual(["20"]);
  });

  it("passes label and field selectors to the API server", async () => {
    const objects = [
      pod({ name: "web-1", namespace: "shop", labels: { app: "web" }, nodeName: "node-1" }),
      pod({ name: "web-2", namespace: "shop", labels: { app: "web" }, nodeName: "node-2" }),
      pod({ name: "db-1", namespace: "shop", labels: { app: "db" }, nodeName: "node-1" }),
    ];
    const source = new KubernetesSource(await clientFor({ objects }));
    const output = await source.read(listPods({ labelSelector: "app=web", fieldSelector: "spec.nodeName=node-1" }), signal());
    expect(names(output.data.items)).toEqual(["web-1"]);
    expect(output.summary).toBe("1 Pod");
    expect(output.request).toBe("GET /api/v1/namespaces/shop/pods?labelSelector=app=web&fieldSelector=spec.nodeName=node-1&limit=250");
  });

  it("refuses an unsupported field selector with the API server's words", async () => {
    const source = new KubernetesSource(await clientFor({ objects: pods(1) }));
    const error = await sourceErrorOf(source.read(listPods({ fieldSelector: "status.reason=Evicted" }), signal()));
    expect(error.message).toContain("API server answered 400");
    expect(error.message).toContain("field label not supported: status.reason");
  });

  it("sorts newest first by the given field", async () => {
    const at = (minute: number) => `2025-01-15T09:${String(minute).padStart(2, "0")}:00Z`;
    const objects = [
      event({
        name: "b",
        namespace: "kube-system",
        involvedObject: { kind: "Pod", name: "x" },
        reason: "B",
        message: "b",
        lastTimestamp: at(20),
      }),
      event({
        name: "a",
        namespace: "kube-system",
        involvedObject: { kind: "Pod", name: "x" },
        reason: "A",
        message: "a",
        lastTimestamp: at(5),
      }),
      event({
        name: "c",
        namespace: "kube-system",
        involvedObject: { kind: "Pod", name: "x" },
        reason: "C",
        message: "c",
        lastTimestamp: at(40),
      }),
    ];
    const source = new KubernetesSource(await clientFor({ objects }));
    const output = await source.read(
      { apiVersion: "v1", kind: "Event", namespace: "kube-system", limit: 500, sortBy: "lastTimestamp" },
      signal(),
    );
    expect(names(output.data.items)).toEqual(["c", "b", "a"]);
  });

  // Issue #13: client-node's KubernetesObjectApi.list drops `continue` from an EventList's metadata, so only the first
  // page was ever read, and a sorted list cut by its limit was called "newest first" though the server lists by name.
  const events = (count: number) =>
    Array.from({ length: count }, (_, i) =>
      event({
        name: `ev-${String(i).padStart(4, "0")}`,
        namespace: "kube-system",
        involvedObject: { kind: "Pod", name: "x" },
        reason: "R",
        message: `m${i}`,
        // Names sort oldest first, so the newest Events are on the last page the server returns.
        lastTimestamp: new Date(Date.UTC(2025, 0, 15, 9, 0, 0) + i * 1000).toISOString().replace(".000Z", "Z"),
      }),
    );
  const listEvents = (overrides: Partial<KubernetesRead> = {}): KubernetesRead => ({
    apiVersion: "v1",
    kind: "Event",
    namespace: "kube-system",
    limit: 500,
    ...overrides,
  });
  const eventPages = () => fake?.requests.filter((r) => r.path === "/api/v1/namespaces/kube-system/events") ?? [];

  it("follows continue tokens past the first page of Events", async () => {
    const source = new KubernetesSource(await clientFor({ objects: events(300) }));
    const output = await source.read(listEvents(), signal());
    expect(output.data.count).toBe(300);
    expect(output.data.truncated).toBe(false);
    expect(output.summary).toBe("300 Events");
    expect(new Set(names(output.data.items)).size).toBe(300);
    expect(eventPages().map((r) => r.query.limit)).toEqual(["250", "250"]);
    expect(eventPages()[1]?.query.continue).toBeTruthy();
    expect(fake?.requests.every((r) => r.userAgent === USER_AGENT)).toBe(true);
  });

  it("stops a list of several pages at its limit and marks it truncated", async () => {
    const source = new KubernetesSource(await clientFor({ objects: events(600) }));
    const output = await source.read(listEvents(), signal());
    expect(output.data.count).toBe(500);
    expect(output.data.truncated).toBe(true);
    expect(output.data.orderPartial).toBeUndefined();
    expect(output.summary).toBe("500 Events (stopped at the limit of 500)");
    // Discovery, then two pages of 250; the third page is never asked for.
    expect(fake?.requests.map((r) => r.path)).toEqual([
      "/api/v1",
      "/api/v1/namespaces/kube-system/events",
      "/api/v1/namespaces/kube-system/events",
    ]);
    expect(eventPages().map((r) => r.query.limit)).toEqual(["250", "250"]);
  });

  it("says a sorted list cut by its limit is ordered only among what was read", async () => {
    const source = new KubernetesSource(await clientFor({ objects: events(600) }));
    const output = await source.read(listEvents({ sortBy: "lastTimestamp" }), signal());
    expect(output.data.truncated).toBe(true);
    expect(output.data.orderPartial).toBe(true);
    // The newest of all (ev-0599) is on the unread page: the first item is the newest of the 500 read.
    expect(names(output.data.items)[0]).toBe("ev-0499");
    expect(output.summary).toBe("500 Events (stopped at the limit of 500), newest first among the 500 read of more");
  });

  it("says nothing about partial order when a sorted list was read whole", async () => {
    const source = new KubernetesSource(await clientFor({ objects: events(300) }));
    const output = await source.read(listEvents({ sortBy: "lastTimestamp" }), signal());
    expect(output.data.orderPartial).toBe(false);
    expect(names(output.data.items)[0]).toBe("ev-0299");
    expect(output.summary).toBe("300 Events");
  });

  it("returns plain JSON, timestamps as the API server wrote them", async () => {
    const source = new KubernetesSource(await clientFor({ objects: [pod({ name: "web-1", namespace: "shop" })] }));
    const output = await source.read(listPods(), signal());
    const [item] = output.data.items as KubernetesObject[];
    expect(typeof item?.metadata?.creationTimestamp).toBe("string");
  });
});

describe("KubernetesSource gets", () => {
  it("returns the object when it exists", async () => {
    const source = new KubernetesSource(await clientFor({ objects: [pod({ name: "web-1", namespace: "shop" })] }));
    const output = await source.read(listPods({ name: "web-1" }), signal());
    expect(output.data).toMatchObject({ found: true, count: 1, name: "web-1", namespace: "shop" });
    expect((output.data.object as KubernetesObject).metadata?.name).toBe("web-1");
    expect(output.summary).toBe("Pod web-1 found");
    expect(output.request).toBe("GET /api/v1/namespaces/shop/pods/web-1");
  });

  it("says a missing object was not found instead of failing", async () => {
    const source = new KubernetesSource(await clientFor({ objects: [] }));
    const output = await source.read(
      { apiVersion: "v1", kind: "ServiceAccount", namespace: "monitoring", name: "ksm", limit: 1 },
      signal(),
    );
    expect(output.data).toMatchObject({ found: false, count: 0, items: [], name: "ksm", namespace: "monitoring" });
    expect(output.summary).toBe("ServiceAccount ksm not found");
  });

  it("turns a refusal into a sentence with the status and the server's message", async () => {
    const source = new KubernetesSource(
      await clientFor(
        { objects: [pod({ name: "web-1", namespace: "shop" })] },
        {
          failWith: (req) =>
            req.path === "/api/v1/namespaces/shop/pods/web-1"
              ? { status: 403, message: 'pods "web-1" is forbidden: User "system:serviceaccount:x:y" cannot get resource "pods"' }
              : undefined,
        },
      ),
    );
    const error = await sourceErrorOf(source.read(listPods({ name: "web-1" }), signal()));
    expect(error.message).toBe(
      'API server answered 403 Forbidden: pods "web-1" is forbidden: User "system:serviceaccount:x:y" cannot get resource "pods"',
    );
  });

  it("says the API server could not be reached when it is gone", async () => {
    const client = await clientFor({ objects: [] });
    await fake?.close();
    const error = await sourceErrorOf(new KubernetesSource(client).read(listPods(), signal()));
    expect(error.message).toContain("API server could not be reached");
  });
});

describe("KubernetesClient requests", () => {
  it("identifies itself with the given User-Agent and only reads", async () => {
    const source = new KubernetesSource(await clientFor({ objects: pods(3) }));
    await source.read(listPods(), signal());
    await source.read(listPods({ name: "web-0001" }), signal());
    expect(fake?.requests.length).toBeGreaterThan(0);
    expect(fake?.requests.every((r) => r.userAgent === USER_AGENT && r.method === "GET")).toBe(true);
  });

  it("abandons a request the API server never answers when the signal aborts", async () => {
    const hangs = (path: string) => path === "/api/v1/namespaces/shop/pods";
    const source = new KubernetesSource(await clientFor({ objects: pods(1) }, { hang: (req) => hangs(req.path) }));
    const controller = new AbortController();
    const pending = source.read(listPods(), controller.signal);
    await until(() => fake?.requests.some((r) => hangs(r.path)) ?? false);
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect(controller.signal.aborted).toBe(true);
  });
});

describe("LogsSource", () => {
  const ksmLog = [
    'I1123 09:00:01.000000       1 server.go:180] "Starting kube-state-metrics"',
    "E1123 09:41:07.118273       1 reflector.go:147] Failed to watch *v1.Pod: failed to list *v1.Pod: Unauthorized",
    "E1123 09:41:08.201771       1 reflector.go:147] failed to list *v1.Node: Unauthorized (token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl)",
    "W1123 09:41:09.000000       1 client.go:10] dial tcp 10.96.0.1:443: connect: connection refused",
    "E1123 09:41:10.000000       1 reflector.go:147] failed to list *v1.Secret: Unauthorized",
  ].join("\n");

  const state = (): ClusterState => ({
    objects: [
      pod({ name: "ksm", namespace: "monitoring", containers: ["kube-state-metrics", "kube-rbac-proxy"] }),
      pod({ name: "single", namespace: "monitoring" }),
    ],
    logs: { "monitoring/ksm/kube-state-metrics": ksmLog, "monitoring/ksm/kube-rbac-proxy": "", "monitoring/single/app": "one\ntwo\n" },
  });

  const logRead = (overrides: Partial<LogRead> = {}): LogRead => ({
    namespace: "monitoring",
    pod: "ksm",
    container: "kube-state-metrics",
    tailLines: 2000,
    limitBytes: 1024 * 1024,
    patterns: { unauthorized: "Unauthorized", refused: "connection refused", forbidden: "forbidden" },
    maxExcerpts: 2,
    ...overrides,
  });

  it("counts the lines matching each pattern and keeps the last excerpts of each, with credentials redacted", async () => {
    const logs = new LogsSource(await clientFor(state()));
    const output = await logs.read(logRead(), signal());
    expect(output.data).toMatchObject({ pod: "ksm", namespace: "monitoring", container: "kube-state-metrics", lines: 5 });
    expect(output.data.matches).toEqual({ unauthorized: 3, refused: 1, forbidden: 0 });
    const excerpts = output.data.excerpts as Array<{ pattern: string; line: string }>;
    expect(excerpts.filter((e) => e.pattern === "unauthorized").map((e) => e.line)).toEqual([
      "E1123 09:41:08.201771       1 reflector.go:147] failed to list *v1.Node: Unauthorized (token [REDACTED jwt])",
      "E1123 09:41:10.000000       1 reflector.go:147] failed to list *v1.Secret: Unauthorized",
    ]);
    expect(JSON.stringify(output.data)).not.toContain("eyJhbGciOiJSUzI1NiJ9");
    expect(output.summary).toBe("monitoring/ksm/kube-state-metrics: 5 lines, unauthorized ×3, refused ×1");
  });

  it("reads only the tail it asks for", async () => {
    const logs = new LogsSource(await clientFor(state()));
    const output = await logs.read(logRead({ tailLines: 2 }), signal());
    expect(output.data.lines).toBe(2);
    expect(output.data.matches).toEqual({ unauthorized: 1, refused: 1, forbidden: 0 });
    expect(fake?.requests.find((r) => r.path.endsWith("/log"))?.query).toMatchObject({ tailLines: "2", container: "kube-state-metrics" });
  });

  it("says when no pattern matched", async () => {
    const logs = new LogsSource(await clientFor(state()));
    const output = await logs.read(logRead({ container: undefined, pod: "single" }), signal());
    expect(output.summary).toBe("monitoring/single: 2 lines, no pattern matched");
  });

  it("passes on the API server's message when a pod has several containers and none is named", async () => {
    const logs = new LogsSource(await clientFor(state()));
    const error = await sourceErrorOf(logs.read(logRead({ container: undefined }), signal()));
    expect(error.message).toContain("API server answered 400");
    expect(error.message).toContain("a container name must be specified for pod ksm, choose one of: [kube-state-metrics kube-rbac-proxy]");
  });

  it("reads a pod with no node as a known absence of logs: no error, no count against the API server", async () => {
    const pending = pod({ name: "unscheduled", namespace: "monitoring", nodeName: "", phase: "Pending" });
    const logs = new LogsSource(await clientFor({ objects: [pending] }));
    const guard = new BackendGuard({ name: "API server", maxInFlight: 4, failureThreshold: 1, cooldownMs: 60_000 });
    const read = guard.wrap((request: LogRead, s: AbortSignal) => logs.read(request, s));
    const output = await read(logRead({ pod: "unscheduled", container: undefined }), signal());
    expect(output.data).toMatchObject({ pod: "unscheduled", lines: 0, noNode: true, excerpts: [] });
    expect(output.summary).toBe("pod monitoring/unscheduled has no node yet, so it has no logs");
    expect(guard.stats).toMatchObject({ consecutiveFailures: 0, circuitOpenUntil: 0 });

    // Through the engine: the step is read (known, absent), not unknown.
    const loaded = loadPlaybookFile(
      "test.yaml",
      `
alert: A
title: t
runbook: r
steps:
  - id: log
    title: log
    logs: { namespace: monitoring, pod: unscheduled, patterns: { e: error } }
causes: []
noCorrelation:
  title: No correlation found
  summary: nothing matched
`,
    );
    if ("problems" in loaded) throw new Error(JSON.stringify(loaded.problems));
    const alert = kubeClientErrorsPayload().alerts[0];
    if (!alert) throw new Error("no alert");
    const run = await runPlaybook(
      loaded.playbook,
      alert,
      { kubernetes: () => Promise.reject(new Error("unused")), logs: read, prometheus: () => Promise.reject(new Error("unused")) },
      { stepTimeoutMs: 5000, deadlineMs: 10_000, listLimit: 100, logTailLines: 100, logLimitBytes: 10_000 },
    );
    expect(run.steps[0]).toMatchObject({ status: "ok", summary: "pod monitoring/unscheduled has no node yet, so it has no logs" });
    expect(run.steps[0]).not.toHaveProperty("unknown", true);
    expect(guard.stats.consecutiveFailures).toBe(0);
  });

  it("reads an empty log of a pod on a node as zero lines", async () => {
    const logs = new LogsSource(await clientFor(state()));
    const output = await logs.read(logRead({ container: "kube-rbac-proxy" }), signal());
    expect(output.data).toMatchObject({ lines: 0, noNode: false });
    expect(output.summary).toBe("monitoring/ksm/kube-rbac-proxy: 0 lines, no pattern matched");
  });

  it("passes on the API server's message for a pod that does not exist", async () => {
    const logs = new LogsSource(await clientFor(state()));
    const error = await sourceErrorOf(logs.read(logRead({ pod: "gone" }), signal()));
    expect(error.message).toBe('API server answered 404 NotFound: pods "gone" not found');
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
