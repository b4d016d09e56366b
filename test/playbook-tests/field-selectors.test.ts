// The fake kube-apiserver takes exactly the field selectors a v1.36 server takes, and refuses the rest with its 400.
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { event, namespace, node, pod, secret } from "../support/kube-objects.ts";
import { list, names, read, serve } from "./fake-api-reads.ts";

function replicaSet(name: string, replicas: number): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name, namespace: "shop" },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { spec: { containers: [{ name: "app", image: "app:1" }] } } },
    status: { replicas },
  };
}

function job(name: string, succeeded: number): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: "ci" },
    spec: { template: { spec: { containers: [{ name: "job", image: "job:1" }], restartPolicy: "Never" } } },
    status: succeeded > 0 ? { succeeded } : {},
  };
}

function service(name: string, type: string): KubeObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "shop" }, spec: { type, ports: [{ port: 80 }] } };
}

const hostAgent = (): KubeObject => {
  const agent = pod({ name: "agent", namespace: "shop", podIP: "10.0.1.11", nodeName: "worker-1" });
  return { ...agent, spec: { ...(agent.spec as object), hostNetwork: true } };
};

function cluster(): KubeObject[] {
  return [
    pod({ name: "web-1", namespace: "shop", podIP: "10.244.1.17" }),
    hostAgent(),
    namespace({ name: "shop" }),
    namespace({ name: "ci" }),
    node({ name: "worker-1" }),
    node({ name: "worker-2", unschedulable: true }),
    replicaSet("web-5d8c7b9f4", 0),
    replicaSet("web-74f6d8c9b7", 3),
    job("nightly-1", 1),
    job("nightly-2", 0),
    service("web", "ClusterIP"),
    service("edge", "LoadBalancer"),
    secret({ name: "db", namespace: "shop", type: "kubernetes.io/basic-auth" }),
    event({
      namespace: "shop",
      involvedObject: { kind: "Pod", name: "web-1" },
      reason: "BackOff",
      message: "Back-off restarting failed container",
      type: "Warning",
      source: "kubelet",
    }),
    event({
      namespace: "default",
      involvedObject: { kind: "Node", name: "worker-2", namespace: "" },
      reason: "NodeNotReady",
      message: "Node worker-2 status is now: NodeNotReady",
      source: "node-controller",
    }),
  ];
}

describe("field selectors on the fake kube-apiserver", () => {
  it("refuses the selectors a v1.36 server refuses, with its 400 Status and message", async () => {
    const fake = await serve(cluster());
    const refused: Array<[path: string, selector: string, message: string]> = [
      ["/api/v1/namespaces", "name=shop", "field label not supported: name"],
      ["/api/v1/namespaces", "metadata.namespace=shop", "field label not supported: metadata.namespace"],
      ["/api/v1/nodes", "metadata.namespace=", "field label not supported: metadata.namespace"],
      [
        "/apis/apps/v1/namespaces/shop/replicasets",
        "status.replicas=0",
        '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
      ],
      ["/apis/events.k8s.io/v1/namespaces/shop/events", "source=kubelet", "field label not supported: source"],
      ["/apis/events.k8s.io/v1/namespaces/shop/events", "involvedObject.name=web-1", "field label not supported: involvedObject.name"],
      ["/apis/batch/v1/namespaces/ci/jobs", "status.failed=0", 'field label "status.failed" not supported for Job'],
      ["/api/v1/namespaces/shop/pods", "spec.containers.image=app", "field label not supported: spec.containers.image"],
    ];
    for (const [path, fieldSelector, message] of refused) {
      const answer = await read(fake, path, { fieldSelector });
      expect(answer, `${path}?fieldSelector=${fieldSelector}`).toEqual({
        status: 400,
        body: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "BadRequest", code: 400 },
      });
    }
  });

  it("takes the selectors playbooks use, and matches them as the real server does", async () => {
    const fake = await serve(cluster());
    const byIP = await list(fake, "/api/v1/pods", { fieldSelector: "status.podIP=10.244.1.17" });
    expect(names(byIP)).toEqual(["web-1"]);
    const warnings = await list(fake, "/api/v1/events", { fieldSelector: "type=Warning" });
    expect(warnings.items.map((e) => e.reason)).toEqual(["BackOff"]);
    const notReady = await list(fake, "/api/v1/namespaces/default/events", {
      fieldSelector: "involvedObject.kind=Node,reason=NodeNotReady",
    });
    expect(notReady.items.map((e) => e.reason)).toEqual(["NodeNotReady"]);
    const succeeded = await list(fake, "/apis/batch/v1/jobs", { fieldSelector: "status.successful=1" });
    expect(names(succeeded)).toEqual(["nightly-1"]);
    const cordoned = await list(fake, "/api/v1/nodes", { fieldSelector: "spec.unschedulable=true" });
    expect(names(cordoned)).toEqual(["worker-2"]);
  });

  it("takes spec.hostNetwork on pods and spec.type on services, which newer servers than v1.24 added", async () => {
    const fake = await serve(cluster());
    expect(names(await list(fake, "/api/v1/namespaces/shop/pods", { fieldSelector: "spec.hostNetwork=true" }))).toEqual(["agent"]);
    // A pod that does not say is not on the host network.
    expect(names(await list(fake, "/api/v1/namespaces/shop/pods", { fieldSelector: "spec.hostNetwork=false" }))).toEqual(["web-1"]);
    expect(names(await list(fake, "/api/v1/namespaces/shop/services", { fieldSelector: "spec.type!=ClusterIP" }))).toEqual(["edge"]);
  });

  it("maps events.k8s.io's regarding and reportingController onto the core Event's fields", async () => {
    const fake = await serve(cluster());
    const answer = await list(fake, "/apis/events.k8s.io/v1/namespaces/shop/events", {
      fieldSelector: "regarding.kind=Pod,regarding.name=web-1,reportingController=kubelet",
    });
    expect(answer.items.map((e) => e.note)).toEqual(["Back-off restarting failed container"]);
  });

  it("names the refused label that sorts first, as the server sorts a selector's terms before converting them", async () => {
    const fake = await serve(cluster());
    const answer = await read(fake, "/api/v1/namespaces", { fieldSelector: "zone=a,name=shop" });
    expect(answer.body.message).toBe("field label not supported: name");
  });

  it("answers a selector it cannot parse 400 with the parser's message", async () => {
    const fake = await serve(cluster());
    const unescaped = await read(fake, "/api/v1/namespaces/shop/secrets", { fieldSelector: "type=a=b" });
    expect(unescaped).toMatchObject({ status: 400, body: { message: "invalid field selector: unescaped character in value: 61" } });
    const noOperator = await read(fake, "/api/v1/namespaces/shop/secrets", { fieldSelector: "type" });
    expect(noOperator.body.message).toBe("invalid selector: 'type'; can't understand 'type'");
    const escaped = await list(fake, "/api/v1/namespaces/shop/secrets", { fieldSelector: "type=kubernetes.io/basic-auth" });
    expect(names(escaped)).toEqual(["db"]);
  });
});
