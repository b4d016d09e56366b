// The cluster every playbook test starts from (issue #12): what a kubeadm cluster that has run for a month holds, so a
// playbook that only works in a cluster holding nothing but its own evidence is caught.
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { BASE_KUBERNETES_VERSION, baseCluster, completeMetadata } from "../../testkit/base-cluster.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { type FakeKubeApi, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { caseCluster } from "../../testkit/run-playbook-tests.ts";
import type { TestFile } from "../../testkit/test-file.ts";

const AT = Date.parse("2026-11-23T10:00:00Z");

const clientPod: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "kube-state-metrics-6d4b9c7f8-x2x9q", namespace: "monitoring" },
  spec: { nodeName: "worker-7", containers: [{ name: "kube-state-metrics" }] },
  // The address the base would give CoreDNS on worker-1: the base must pick another.
  status: { phase: "Running", podIP: "10.244.1.2" },
};

function of(objects: KubeObject[], kind: string, namespace?: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace));
}

type Pod = KubeObject & { spec: Record<string, unknown>; status: Record<string, unknown> };

describe("the base cluster", () => {
  const { objects, logs } = baseCluster(AT, [clientPod]);

  it("runs the control plane as kubeadm does: static pods of cp-1, owned by the Node, on the host network, without a ServiceAccount", () => {
    const controlPlane = of(objects, "Pod", "kube-system").filter((p) => p.metadata.labels?.tier === "control-plane") as Pod[];
    expect(controlPlane.map((p) => p.metadata.name).sort()).toEqual([
      "etcd-cp-1",
      "kube-apiserver-cp-1",
      "kube-controller-manager-cp-1",
      "kube-scheduler-cp-1",
    ]);
    const node = of(objects, "Node").find((n) => n.metadata.name === "cp-1");
    for (const pod of controlPlane) {
      expect(pod.metadata.labels?.component).toBe(pod.metadata.name.replace(/-cp-1$/, ""));
      expect(pod.spec.hostNetwork).toBe(true);
      expect(pod.spec.serviceAccountName).toBeUndefined();
      expect(pod.spec.nodeName).toBe("cp-1");
      expect(pod.status.podIP).toBe("172.18.0.2");
      expect(pod.metadata.ownerReferences).toEqual([
        { apiVersion: "v1", kind: "Node", name: "cp-1", uid: node?.metadata.uid, controller: true },
      ]);
      expect((pod.metadata.annotations as Record<string, string>)["kubernetes.io/config.source"]).toBe("file");
    }
    const apiserver = controlPlane.find((p) => p.metadata.name === "kube-apiserver-cp-1");
    expect(JSON.stringify(apiserver?.spec)).toContain(`registry.k8s.io/kube-apiserver:${BASE_KUBERNETES_VERSION}`);
    expect(logs?.["kube-system/kube-apiserver-cp-1/kube-apiserver"]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z I\d{4} [\d:.]+ +1 options.go/);
  });

  it("runs CoreDNS and kube-proxy, and a node for every node a fixture's pod runs on", () => {
    const kubeSystem = of(objects, "Pod", "kube-system") as Pod[];
    expect(kubeSystem.filter((p) => p.metadata.labels?.["k8s-app"] === "kube-dns")).toHaveLength(2);
    const nodes = of(objects, "Node").map((n) => n.metadata.name);
    expect(nodes).toEqual(["cp-1", "worker-1", "worker-2", "worker-3", "worker-7"]);
    const proxies = kubeSystem.filter((p) => p.metadata.labels?.["k8s-app"] === "kube-proxy");
    expect(proxies.map((p) => p.spec.nodeName).sort()).toEqual(nodes);
    expect(proxies.every((p) => p.spec.hostNetwork === true && p.spec.serviceAccountName === "kube-proxy")).toBe(true);
    expect(of(objects, "Service").map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(
      expect.arrayContaining(["default/kubernetes", "kube-system/kube-dns"]),
    );
  });

  it("gives no pod an address a fixture's pod holds", () => {
    const ips = (of(objects, "Pod") as Pod[]).filter((p) => p.spec.hostNetwork !== true).map((p) => p.status.podIP);
    expect(ips).not.toContain("10.244.1.2");
    expect(new Set(ips).size).toBe(ips.length);
  });

  it("has every namespace, the fixture's too, with its default ServiceAccount and kube-root-ca.crt", () => {
    const namespaces = of(objects, "Namespace").map((n) => n.metadata.name);
    expect(namespaces).toEqual(
      expect.arrayContaining(["default", "kube-system", "kube-public", "kube-node-lease", "monitoring", "shop", "batch"]),
    );
    for (const namespace of namespaces) {
      expect(of(objects, "ServiceAccount", namespace).map((s) => s.metadata.name)).toContain("default");
      const ca = of(objects, "ConfigMap", namespace).find((c) => c.metadata.name === "kube-root-ca.crt");
      expect((ca?.data as Record<string, string>)["ca.crt"]).toContain("-----BEGIN CERTIFICATE-----");
    }
  });

  it("holds the API server's own objects: local APIServices and the default API Priority and Fairness configuration", () => {
    expect(of(objects, "APIService").map((a) => a.metadata.name)).toEqual(expect.arrayContaining(["v1.", "v1.apps", "v2.autoscaling"]));
    expect(of(objects, "FlowSchema").map((f) => f.metadata.name)).toEqual(
      expect.arrayContaining(["exempt", "system-leader-election", "service-accounts", "global-default", "catch-all"]),
    );
    expect(of(objects, "PriorityLevelConfiguration").map((f) => f.metadata.name)).toEqual(
      expect.arrayContaining(["exempt", "workload-low", "catch-all"]),
    );
  });

  it("has a few hundred ordinary events of the last hour, a few of them unrelated Warnings", () => {
    const events = of(objects, "Event");
    expect(events.length).toBeGreaterThan(250);
    const reasons = new Set(events.map((e) => e.reason));
    for (const reason of ["Scheduled", "Pulled", "Created", "Started", "SuccessfulCreate", "ScalingReplicaSet"])
      expect(reasons).toContain(reason);
    const warnings = events.filter((e) => e.type === "Warning");
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.map((e) => e.reason)).toEqual(expect.arrayContaining(["Unhealthy", "DNSConfigForming"]));
    for (const e of events) {
      const last = Date.parse(e.lastTimestamp as string);
      expect(last).toBeLessThanOrEqual(AT);
      expect(last).toBeGreaterThan(AT - 60 * 60_000);
    }
  });

  it("is the same for the same clock, and moves with it", () => {
    expect(baseCluster(AT, [clientPod])).toEqual(baseCluster(AT, [clientPod]));
    const later = baseCluster(AT + 3_600_000, [clientPod]);
    const created = (o: { objects: KubeObject[] }) => of(o.objects, "Node")[0]?.metadata.creationTimestamp;
    expect(Date.parse(created(later) as string) - Date.parse(created({ objects }) as string)).toBe(3_600_000);
  });
});

describe("a case's cluster", () => {
  const spec: TestFile = {
    playbook: "Example",
    cluster: {
      objects: [
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "kube-apiserver-cp-1", namespace: "kube-system", labels: { component: "kube-apiserver" } },
          spec: { containers: [{ name: "kube-apiserver" }] },
          status: { phase: "Running", containerStatuses: [{ name: "kube-apiserver", ready: false, restartCount: 4 }] },
        },
      ],
    },
    cases: [],
  };

  it("starts from the base, the file's objects replacing the base's of the same kind, namespace and name", () => {
    const { objects } = caseCluster(spec, { name: "x", expect: { cause: "x" } }, AT);
    const apiservers = objects.filter((o) => o.kind === "Pod" && o.metadata.name === "kube-apiserver-cp-1");
    expect(apiservers).toHaveLength(1);
    expect((apiservers[0] as Pod).status.containerStatuses).toEqual([{ name: "kube-apiserver", ready: false, restartCount: 4 }]);
    // Completed as the API server would: every object has a uid and a creation time.
    expect(apiservers[0]?.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(apiservers[0]?.metadata.creationTimestamp).toBe("2026-10-24T10:00:00Z");
  });

  it("lets remove: take out a base object, and baseCluster: false leave the base out", () => {
    const removed = caseCluster(
      spec,
      { name: "x", cluster: { remove: [{ kind: "Deployment", namespace: "kube-system", name: "coredns" }] }, expect: { cause: "x" } },
      AT,
    );
    expect(removed.objects.some((o) => o.kind === "Deployment" && o.metadata.name === "coredns")).toBe(false);
    expect(removed.objects.some((o) => o.kind === "Pod" && o.metadata.name.startsWith("coredns-"))).toBe(true);
    const bare = caseCluster({ ...spec, baseCluster: false }, { name: "x", expect: { cause: "x" } }, AT);
    expect(bare.objects).toEqual(spec.cluster?.objects);
    expect(bare.logs).toEqual({});
  });

  it("fills in only the uid and creation time a fixture leaves out", () => {
    const event: KubeObject = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e", namespace: "shop" },
      firstTimestamp: "2026-11-23T09:50:00Z",
    };
    const given: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "shop", uid: "u", creationTimestamp: "2026-11-23T09:00:00Z" },
    };
    const [e, c] = completeMetadata([event, given], AT);
    expect(e?.metadata.creationTimestamp).toBe("2026-11-23T09:50:00Z");
    expect(c).toBe(given);
  });
});

describe("the base cluster served by the fake API server", () => {
  let fake: FakeKubeApi | undefined;

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it("answers the reads a playbook makes with the real server's selectors", async () => {
    fake = await startFakeKubeApi(baseCluster(AT, [clientPod]), { now: () => new Date(AT) });
    const kc = new KubeConfig();
    kc.loadFromFile(fake.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const apiservers = await core.listNamespacedPod({ namespace: "kube-system", labelSelector: "component=kube-apiserver" });
    expect(apiservers.items.map((p) => p.metadata?.name)).toEqual(["kube-apiserver-cp-1"]);
    const warnings = await core.listEventForAllNamespaces({ fieldSelector: "type=Warning" });
    expect(warnings.items.length).toBeGreaterThan(0);
    const hostNetwork = await core.listPodForAllNamespaces({ fieldSelector: "spec.hostNetwork=true" });
    expect(hostNetwork.items.length).toBe(4 + 5);
    const log = await core.readNamespacedPodLog({ name: "kube-apiserver-cp-1", namespace: "kube-system", sinceSeconds: 3600 });
    expect(log.split("\n").filter(Boolean)).toHaveLength(2);
  });
});
