// Drives the fake kube-apiserver through the real @kubernetes/client-node to show it speaks, and refuses, like the real one.
import { ApiException, CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { type ClusterState, type FakeKubeApi, type FakeKubeOptions, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { event, flowSchema, pod, resourceQuota, secret, serviceAccount } from "../support/kube-objects.ts";

const NOW = new Date("2025-01-15T10:00:00Z");

function cluster(): ClusterState {
  return {
    objects: [
      pod({ name: "web-1", namespace: "shop", labels: { app: "web", tier: "frontend" }, nodeName: "node-a" }),
      pod({
        name: "web-2",
        namespace: "shop",
        labels: { app: "web", tier: "frontend" },
        nodeName: "node-b",
        waitingReason: "ContainerCreating",
      }),
      pod({ name: "api-1", namespace: "shop", labels: { app: "api", tier: "backend" }, containers: ["api", "envoy"], nodeName: "node-a" }),
      pod({
        name: "crashy",
        namespace: "shop",
        labels: { app: "crashy" },
        restarts: 4,
        waitingReason: "CrashLoopBackOff",
        lastTerminationReason: "OOMKilled",
      }),
      pod({ name: "web-1", namespace: "other", labels: { app: "web" } }),
      event({
        namespace: "shop",
        involvedObject: { kind: "Pod", name: "crashy" },
        reason: "BackOff",
        message: "Back-off restarting failed container app in pod crashy_shop",
        type: "Warning",
        count: 12,
        lastTimestamp: "2025-01-15T09:59:00Z",
      }),
      event({
        namespace: "shop",
        involvedObject: { kind: "Pod", name: "web-1" },
        reason: "Pulled",
        message: "Container image already present",
      }),
      serviceAccount({ name: "web", namespace: "shop" }),
      resourceQuota({ name: "compute", namespace: "shop", hard: { "limits.memory": "8Gi" }, used: { "limits.memory": "7Gi" } }),
      flowSchema({ name: "alert-enricher", priorityLevel: "workload-low", subjects: [{ kind: "User", user: { name: "enricher" } }] }),
      secret({ name: "db", namespace: "shop", type: "kubernetes.io/basic-auth", data: { username: "app" } }),
    ],
    logs: {
      "shop/web-1/app": [
        "2025-01-15T09:50:00Z starting",
        "2025-01-15T09:58:00Z listening on :8080",
        "2025-01-15T09:59:30Z GET /healthz 200",
      ].join("\n"),
      "shop/api-1/api": "line 1\nline 2\nline 3\n",
      "shop/crashy/app/previous": "loading model\nfatal: out of memory\n",
    },
  };
}

interface Clients {
  fake: FakeKubeApi;
  objects: KubernetesObjectApi;
  core: CoreV1Api;
}

let fake: FakeKubeApi | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function start(state: ClusterState = cluster(), options: FakeKubeOptions = {}): Promise<Clients> {
  fake = await startFakeKubeApi(state, { now: () => NOW, ...options });
  const kc = new KubeConfig();
  kc.loadFromFile(fake.kubeconfigPath);
  return { fake, objects: KubernetesObjectApi.makeApiClient(kc), core: kc.makeApiClient(CoreV1Api) };
}

/** The status code and decoded Status body of a failed client-node call. */
async function failureOf(call: Promise<unknown>): Promise<{ code: number; body: { reason?: string; message?: string; code?: number } }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) {
      const body: unknown = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
      return { code: error.code, body: body as { reason?: string; message?: string; code?: number } };
    }
    throw error;
  }
  throw new Error("expected the call to fail");
}

function names(items: KubernetesObject[]): string[] {
  return items.map((i) => i.metadata?.name ?? "");
}

describe("the fake kube-apiserver", () => {
  it("lists pods through the generic client with label and field selectors", async () => {
    const { objects } = await start();
    const byLabel = await objects.list("v1", "Pod", "shop", undefined, undefined, undefined, undefined, "app in (web, api),tier!=backend");
    expect(names(byLabel.items)).toEqual(["web-1", "web-2"]);

    const byField = await objects.list(
      "v1",
      "Pod",
      "shop",
      undefined,
      undefined,
      undefined,
      "spec.nodeName=node-a,status.phase==Running",
      "tier",
    );
    expect(names(byField.items)).toEqual(["api-1", "web-1"]);

    const everywhere = await objects.list("v1", "Pod", undefined, undefined, undefined, undefined, "metadata.name=web-1");
    expect(byField.kind).toBe("PodList");
    expect(everywhere.items.map((i) => i.metadata?.namespace)).toEqual(["other", "shop"]);
  });

  it("serves list items without apiVersion and kind, like a real server", async () => {
    const { fake } = await start();
    const body = (await (await fetch(`${fake.url}/api/v1/namespaces/shop/serviceaccounts`)).json()) as {
      items: Array<Record<string, unknown>>;
    };
    expect(body.items[0]).not.toHaveProperty("kind");
    expect(body.items[0]).not.toHaveProperty("apiVersion");
  });

  it("reads one object by name after discovery", async () => {
    const { objects, fake } = await start();
    const quota = await objects.read({ apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "compute", namespace: "shop" } });
    expect(quota.kind).toBe("ResourceQuota");
    expect(fake.requests.map((r) => r.path)).toEqual(["/api/v1", "/api/v1/namespaces/shop/resourcequotas/compute"]);
    expect(fake.requests[0]?.userAgent).toBeTruthy();

    const schema = await objects.read({
      apiVersion: "flowcontrol.apiserver.k8s.io/v1",
      kind: "FlowSchema",
      metadata: { name: "alert-enricher" },
    });
    expect(schema.metadata?.name).toBe("alert-enricher");
  });

  it("discovers well-known kinds that have no objects", async () => {
    const { objects } = await start({ objects: [] });
    const webhooks = await objects.list("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration");
    expect(webhooks.items).toEqual([]);
  });

  it("surfaces a missing object as an ApiException with code 404 and a NotFound Status", async () => {
    const { objects, core } = await start();
    const missing = await failureOf(objects.read({ apiVersion: "v1", kind: "Pod", metadata: { name: "ghost", namespace: "shop" } }));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ reason: "NotFound", message: 'pods "ghost" not found', code: 404 });

    const grouped = await failureOf(
      objects.read({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "shop" } }),
    );
    expect(grouped.body.message).toBe('deployments.apps "web" not found');

    const log = await failureOf(core.readNamespacedPodLog({ name: "ghost", namespace: "shop" }));
    expect(log.code).toBe(404);
  });

  it("answers 404 for a namespaced list of a cluster-scoped kind and for an unknown group", async () => {
    const { fake } = await start();
    expect((await fetch(`${fake.url}/api/v1/namespaces/shop/nodes`)).status).toBe(404);
    expect((await fetch(`${fake.url}/apis/monitoring.coreos.com/v1`)).status).toBe(404);
  });

  it("rejects a field selector the kind does not support with the server's message", async () => {
    const { objects } = await start();
    const rejected = await failureOf(objects.list("v1", "Pod", "shop", undefined, undefined, undefined, "spec.foo=bar"));
    expect(rejected.code).toBe(400);
    expect(rejected.body).toMatchObject({ reason: "BadRequest", message: "field label not supported: spec.foo" });

    const setBased = await failureOf(objects.list("v1", "Pod", "shop", undefined, undefined, undefined, "status.phase in (Running)"));
    expect(setBased.code).toBe(400);

    const secretType = await objects.list("v1", "Secret", "shop", undefined, undefined, undefined, "type=kubernetes.io/basic-auth");
    expect(names(secretType.items)).toEqual(["db"]);
  });

  it("rejects a malformed label selector with 400 BadRequest", async () => {
    const { objects } = await start();
    // ("app in ()" is no error: a real server reads it as app in ("").)
    for (const selector of ["app in web", "app=(web)", "app=web,", "app=a b", "-app"]) {
      const rejected = await failureOf(objects.list("v1", "Pod", "shop", undefined, undefined, undefined, undefined, selector));
      expect(rejected, selector).toMatchObject({ code: 400, body: { reason: "BadRequest" } });
    }
  });

  it("serves events through both Event APIs and rejects involvedObject fields on events.k8s.io", async () => {
    const { objects, fake } = await start();
    const core = await objects.list(
      "v1",
      "Event",
      "shop",
      undefined,
      undefined,
      undefined,
      "involvedObject.kind=Pod,involvedObject.name=crashy,type=Warning",
    );
    expect(core.items).toHaveLength(1);

    const rejected = await failureOf(
      objects.list("events.k8s.io/v1", "Event", "shop", undefined, undefined, undefined, "involvedObject.name=crashy"),
    );
    expect(rejected.code).toBe(400);
    expect(rejected.body.message).toBe("field label not supported: involvedObject.name");

    const url = `${fake.url}/apis/events.k8s.io/v1/namespaces/shop/events?fieldSelector=${encodeURIComponent("regarding.name=crashy,reportingController=kubelet")}`;
    const body = (await (await fetch(url)).json()) as { kind: string; items: Array<Record<string, unknown>> };
    expect(body.kind).toBe("EventList");
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).toMatchObject({ regarding: { name: "crashy" }, note: expect.stringContaining("Back-off"), deprecatedCount: 12 });
  });

  it("pages a list with limit and continue, and expires tokens when the state changes", async () => {
    const { objects, fake } = await start();
    const first = await objects.list("v1", "Pod", "shop", undefined, undefined, undefined, undefined, undefined, 2);
    expect(names(first.items)).toEqual(["api-1", "crashy"]);
    // client-node deserializes ListMeta.continue as `_continue`.
    expect(first.metadata?._continue).toBeTruthy();
    expect(first.metadata?.remainingItemCount).toBe(2);

    const second = await objects.list(
      "v1",
      "Pod",
      "shop",
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      2,
      first.metadata?._continue,
    );
    expect(names(second.items)).toEqual(["web-1", "web-2"]);
    expect(second.metadata?._continue).toBeFalsy();

    fake.setState(cluster());
    const expired = await failureOf(
      objects.list("v1", "Pod", "shop", undefined, undefined, undefined, undefined, undefined, 2, first.metadata?._continue),
    );
    expect(expired.code).toBe(410);
    expect(expired.body.message).toMatch(/^The provided continue parameter is too old/);

    const garbage = await failureOf(
      objects.list("v1", "Pod", "shop", undefined, undefined, undefined, undefined, undefined, 2, "not-a-token"),
    );
    expect(garbage.code).toBe(400);
    expect(garbage.body.message).toMatch(/^invalid continue token: continue key is not valid/);
  });

  it("answers a list narrowed to one name with no continue token, whatever the limit, as the real API server does", async () => {
    const { fake } = await start();
    const page = async (path: string) =>
      (await (await fetch(`${fake.url}${path}`)).json()) as {
        items: Array<{ metadata: { name: string } }>;
        metadata: { continue?: string };
      };
    // A real kube-apiserver reads the one key (ListPredicate's MatchesSingle): limit does not apply, no continue.
    const one = await page(`/api/v1/namespaces/shop/pods?fieldSelector=${encodeURIComponent("metadata.name=api-1")}&limit=1`);
    expect(one.items.map((o) => o.metadata.name)).toEqual(["api-1"]);
    expect(one.metadata.continue).toBeUndefined();
    const none = await page(`/api/v1/namespaces/shop/pods?fieldSelector=${encodeURIComponent("metadata.name=nope")}&limit=1`);
    expect(none.items).toEqual([]);
    expect(none.metadata.continue).toBeUndefined();
    // Across namespaces there is no single key: the list is paged as any other.
    const everywhere = await page(`/api/v1/pods?fieldSelector=${encodeURIComponent("metadata.name=api-1")}&limit=1`);
    expect(everywhere.metadata.continue).toBeTruthy();
  });

  it("reads metadata.namespace and metadata.name across all namespaces as one key, with no continue token", async () => {
    const { fake } = await start();
    const page = async (query: string) =>
      (await (await fetch(`${fake.url}/api/v1/pods?${query}`)).json()) as {
        items: Array<{ metadata: { name: string; namespace: string } }>;
        metadata: { continue?: string };
      };
    // Store.ListPredicate narrows a list of every namespace to the one its field selector requires.
    const one = await page(`fieldSelector=${encodeURIComponent("metadata.namespace=shop,metadata.name=web-1")}&limit=1`);
    expect(one.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(["shop/web-1"]);
    expect(one.metadata.continue).toBeUndefined();
    const shop = await page(`fieldSelector=${encodeURIComponent("metadata.namespace=shop")}&limit=10`);
    expect(shop.items.map((o) => o.metadata.namespace)).toEqual(["shop", "shop", "shop", "shop"]);
    expect(shop.metadata.continue).toBeUndefined();
  });

  it("leaves the continue token off a page that ends the list, and counts what remains only without selectors", async () => {
    const { fake } = await start();
    const page = async (query: string) =>
      (await (await fetch(`${fake.url}/api/v1/namespaces/shop/pods?${query}`)).json()) as {
        items: unknown[];
        metadata: { continue?: string; remainingItemCount?: number };
      };
    const exact = await page("limit=4");
    expect(exact.items).toHaveLength(4);
    expect(exact.metadata).not.toHaveProperty("continue");
    const cut = await page("limit=2");
    expect(cut.metadata.remainingItemCount).toBe(2);
    // The token is the server's: JSON in unpadded URL-safe base64 (a client may pass it on unescaped), naming the key
    // just past the last one served, relative to the namespace listed.
    expect(cut.metadata.continue).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(cut.metadata.continue ?? "", "base64url").toString())).toMatchObject({
      v: "meta.k8s.io/v1",
      start: "crashy\u0000",
    });
    const selected = await page(`limit=1&labelSelector=${encodeURIComponent("app=web")}`);
    expect(selected.metadata.continue).toBeTruthy();
    expect(selected.metadata).not.toHaveProperty("remainingItemCount");
  });

  it("serves a list at resourceVersion=0 whole from the cache, whatever the limit", async () => {
    const { fake } = await start();
    const body = (await (await fetch(`${fake.url}/api/v1/namespaces/shop/pods?resourceVersion=0&limit=1`)).json()) as {
      items: unknown[];
      metadata: { continue?: string };
    };
    expect(body.items).toHaveLength(4);
    expect(body.metadata.continue).toBeUndefined();
  });

  it("tails a pod log and hides the kubelet timestamps unless asked", async () => {
    const { core } = await start();
    expect(await core.readNamespacedPodLog({ name: "web-1", namespace: "shop", tailLines: 2 })).toBe(
      "listening on :8080\nGET /healthz 200\n",
    );
    const recent = await core.readNamespacedPodLog({ name: "web-1", namespace: "shop", sinceSeconds: 300, timestamps: true });
    expect(recent).toBe("2025-01-15T09:58:00Z listening on :8080\n2025-01-15T09:59:30Z GET /healthz 200\n");
    expect(await core.readNamespacedPodLog({ name: "web-1", namespace: "shop", limitBytes: 5 })).toBe("start");
  });

  it("requires a container name for a multi-container pod and rejects an unknown one", async () => {
    const { core } = await start();
    const unnamed = await failureOf(core.readNamespacedPodLog({ name: "api-1", namespace: "shop" }));
    expect(unnamed.code).toBe(400);
    expect(unnamed.body.message).toBe("a container name must be specified for pod api-1, choose one of: [api envoy]");

    const unknown = await failureOf(core.readNamespacedPodLog({ name: "api-1", namespace: "shop", container: "sidecar" }));
    expect(unknown.body.message).toBe("container sidecar is not valid for pod api-1");

    expect(await core.readNamespacedPodLog({ name: "api-1", namespace: "shop", container: "api", tailLines: 1 })).toBe("line 3\n");
  });

  it("serves the previous instance's log and refuses logs of a container that never started", async () => {
    const { core } = await start();
    expect(await core.readNamespacedPodLog({ name: "crashy", namespace: "shop", previous: true })).toContain("fatal: out of memory");
    const noPrevious = await failureOf(core.readNamespacedPodLog({ name: "web-1", namespace: "shop", previous: true }));
    expect(noPrevious.body.message).toBe('previous terminated container "app" in pod "web-1" not found');
    const waiting = await failureOf(core.readNamespacedPodLog({ name: "web-2", namespace: "shop" }));
    expect(waiting.body.message).toBe('container "app" in pod "web-2" is waiting to start: ContainerCreating');
  });

  it("answers the log of a pod with no node 204, empty, with no Content-Type, as the real API server does", async () => {
    const pending = pod({ name: "unscheduled", namespace: "shop", nodeName: "", phase: "Pending" });
    const quiet = pod({ name: "quiet", namespace: "shop", nodeName: "node-a" });
    const { fake } = await start({ objects: [pending, quiet], logs: { "shop/quiet/app": "" } });
    const noNode = await fetch(`${fake.url}/api/v1/namespaces/shop/pods/unscheduled/log?tailLines=10`);
    expect(noNode.status).toBe(204);
    expect(noNode.headers.get("content-type")).toBeNull();
    expect(await noNode.text()).toBe("");
    // A node-bound pod with an empty log: 200 text/plain, empty.
    const empty = await fetch(`${fake.url}/api/v1/namespaces/shop/pods/quiet/log?tailLines=10`);
    expect(empty.status).toBe(200);
    expect(empty.headers.get("content-type")).toBe("text/plain");
    expect(await empty.text()).toBe("");
  });

  it("serves a built-in group in the versions it is told, converting the objects held", async () => {
    const { fake } = await start(
      { objects: [flowSchema({ name: "service-accounts", priorityLevel: "workload-low", matchingPrecedence: 9000 })] },
      { groupVersions: { "flowcontrol.apiserver.k8s.io": ["v1beta3", "v1beta2"] } },
    );
    const group = (await (await fetch(`${fake.url}/apis/flowcontrol.apiserver.k8s.io`)).json()) as {
      preferredVersion: { groupVersion: string };
    };
    expect(group.preferredVersion.groupVersion).toBe("flowcontrol.apiserver.k8s.io/v1beta3");
    expect((await fetch(`${fake.url}/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas`)).status).toBe(404);
    const list = (await (await fetch(`${fake.url}/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas`)).json()) as {
      apiVersion: string;
      items: KubernetesObject[];
    };
    expect(list.apiVersion).toBe("flowcontrol.apiserver.k8s.io/v1beta3");
    expect(names(list.items)).toEqual(["service-accounts"]);
  });

  it("rejects sinceSeconds together with sinceTime as invalid log options", async () => {
    const { fake } = await start();
    const response = await fetch(`${fake.url}/api/v1/namespaces/shop/pods/web-1/log?sinceSeconds=60&sinceTime=2025-01-15T09:00:00Z`);
    expect(response.status).toBe(422);
    expect(((await response.json()) as { message: string }).message).toContain(
      "at most one of `sinceTime` or `sinceSeconds` may be specified",
    );
  });

  it("refuses a POST with 405 and records that it was attempted", async () => {
    const { objects, fake } = await start();
    const created = await failureOf(objects.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "shop" } }));
    expect(created.code).toBe(405);
    expect(created.body.reason).toBe("MethodNotAllowed");
    expect(fake.requests.filter((r) => r.method !== "GET")).toEqual([
      expect.objectContaining({ method: "POST", path: "/api/v1/namespaces/shop/configmaps" }),
    ]);
  });

  it("refuses watches", async () => {
    const { fake } = await start();
    expect((await fetch(`${fake.url}/api/v1/namespaces/shop/pods?watch=true`)).status).toBe(400);
  });

  it("simulates a sick server with injected failures, latency and hung requests", async () => {
    const { objects, fake } = await start(cluster(), {
      latencyMs: 50,
      failWith: (req) =>
        req.path.endsWith("/secrets") ? { status: 429, message: "too many requests, please try again later" } : undefined,
      hang: (req) => req.path.endsWith("/events"),
    });
    const throttled = await failureOf(objects.list("v1", "Secret", "shop"));
    expect(throttled).toMatchObject({ code: 429, body: { reason: "TooManyRequests" } });

    const startedAt = Date.now();
    await objects.list("v1", "ServiceAccount", "shop");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(50);

    const hung = await Promise.race([
      fetch(`${fake.url}/api/v1/namespaces/shop/events`).then(
        () => "answered",
        () => "dropped at close",
      ),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 300)),
    ]);
    expect(hung).toBe("still waiting");
  });
});
