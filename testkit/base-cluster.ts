// The cluster every playbook test starts from unless its file says `baseCluster: false`: what a kubeadm v1.31 cluster
// that has run for a month holds besides the few objects a case is about. A playbook that only works in a cluster
// holding nothing but its own evidence (no other pods in kube-system, no events but the one the case planted, no
// control-plane pods, no default FlowSchemas) is caught here rather than on its first real alert.
//
// Everything is a function of the test's clock and of the objects the case brings, so a run is reproducible:
// - nodes cp-1 (control plane, 172.18.0.2) and worker-1..3 (10.0.1.11-13), plus a Node for every node a fixture's pod
//   or endpoint names; each with its kube-node-lease Lease and a kube-proxy pod;
// - the control plane as kubeadm runs it: etcd, kube-apiserver, kube-controller-manager and kube-scheduler as static
//   (mirror) pods of cp-1: `component`/`tier` labels, hostNetwork, no ServiceAccount, owned by the Node;
// - CoreDNS (Deployment, ReplicaSet, two pods, the kube-dns Service and its endpoints), kube-proxy (DaemonSet), the
//   `kubernetes` Service, kubeadm's ConfigMaps, the controllers' ServiceAccounts, leader-election Leases;
// - the API server's own objects: the local APIServices and the default API Priority and Fairness configuration;
// - every namespace, its `default` ServiceAccount and its `kube-root-ca.crt` ConfigMap;
// - ordinary life within the events' one-hour TTL: CronJobs in `batch` every 5 to 15 minutes (their Jobs, pods and
//   the nine events of every run) and a rolling update of the `shop/web` Deployment 20 minutes ago, a few hundred
//   events in all, among them Warnings that have nothing to do with any alert (readiness probes failing while the new
//   pods start, kubelet's DNSConfigForming on a kube-proxy pod);
// - logs of the API server and CoreDNS, each line stamped with the time the kubelet recorded it.
// A fixture object with the same kind, namespace and name as a base object replaces it; `remove:` removes either.
import { createHash } from "node:crypto";
import type { KubeObject } from "./kube-object.ts";
import type { ClusterState } from "./fixture-cluster.ts";

export const BASE_KUBERNETES_VERSION = "v1.31.4";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The cluster was set up this long before the test's clock. */
const CLUSTER_AGE = 30 * DAY;
/** The API server keeps an Event this long after its last update (--event-ttl). */
const EVENT_TTL = HOUR;

/** The cluster CA (CN=kubernetes, EC P-256, from 2026-10-24 for ten years), as kube-root-ca.crt carries it. */
const CLUSTER_CA = `-----BEGIN CERTIFICATE-----
MIIBWzCCAQGgAwIBAgIBATAKBggqhkjOPQQDAjAVMRMwEQYDVQQDDAprdWJlcm5l
dGVzMB4XDTI2MTAyNDA5MzAwMFoXDTM2MTAyMTA5MzAwMFowFTETMBEGA1UEAwwK
a3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAEAkb9jkkJVDAbM
VnDZTv6HvvcsSfEv33B3q3J3cUWYmb5PMlizOkBGRcjEd7KXoxvp+iuUTDDjiHld
hH/9QBWjQjBAMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgKkMB0GA1Ud
DgQWBBSWqtwYcN+6D7vfTkFqIxXOoRJmIDAKBggqhkjOPQQDAgNIADBFAiEArfC4
/WGJiy+iL9rDGd9hCXvhSacmOoufQ8D9pWuLaGsCIELc8iOGI2Q+dh9pBt+fhbHp
utUymivGZevyDEESVI65
-----END CERTIFICATE-----
`;

interface NodeInfo {
  name: string;
  ip: string;
  podCIDR: string;
  controlPlane: boolean;
}

const BASE_NODES: NodeInfo[] = [
  { name: "cp-1", ip: "172.18.0.2", podCIDR: "10.244.0.0/24", controlPlane: true },
  { name: "worker-1", ip: "10.0.1.11", podCIDR: "10.244.1.0/24", controlPlane: false },
  { name: "worker-2", ip: "10.0.1.12", podCIDR: "10.244.2.0/24", controlPlane: false },
  { name: "worker-3", ip: "10.0.1.13", podCIDR: "10.244.3.0/24", controlPlane: false },
];

const KUBE_SYSTEM_SERVICE_ACCOUNTS = [
  "attachdetach-controller",
  "bootstrap-signer",
  "certificate-controller",
  "clusterrole-aggregation-controller",
  "coredns",
  "cronjob-controller",
  "daemon-set-controller",
  "default",
  "deployment-controller",
  "disruption-controller",
  "endpoint-controller",
  "endpointslice-controller",
  "endpointslicemirroring-controller",
  "ephemeral-volume-controller",
  "expand-controller",
  "generic-garbage-collector",
  "horizontal-pod-autoscaler",
  "job-controller",
  "kube-proxy",
  "legacy-service-account-token-cleaner",
  "namespace-controller",
  "node-controller",
  "persistent-volume-binder",
  "pod-garbage-collector",
  "pv-protection-controller",
  "pvc-protection-controller",
  "replicaset-controller",
  "replication-controller",
  "resourcequota-controller",
  "root-ca-cert-publisher",
  "service-account-controller",
  "service-controller",
  "statefulset-controller",
  "token-cleaner",
  "ttl-after-finished-controller",
  "ttl-controller",
  "validatingadmissionpolicy-status-controller",
];

/** The API groups a v1.31 API server serves itself: each has an APIService, Available because it is Local. */
const LOCAL_API_SERVICES: Array<[group: string, version: string, groupPriorityMinimum: number, versionPriority: number]> = [
  ["", "v1", 18000, 1],
  ["admissionregistration.k8s.io", "v1", 16700, 15],
  ["apiextensions.k8s.io", "v1", 16700, 15],
  ["apps", "v1", 17800, 15],
  ["authentication.k8s.io", "v1", 17700, 15],
  ["authorization.k8s.io", "v1", 17600, 15],
  ["autoscaling", "v1", 19100, 15],
  ["autoscaling", "v2", 19100, 9],
  ["batch", "v1", 17400, 15],
  ["certificates.k8s.io", "v1", 17300, 15],
  ["coordination.k8s.io", "v1", 16500, 15],
  ["discovery.k8s.io", "v1", 16200, 15],
  ["events.k8s.io", "v1", 17750, 15],
  ["flowcontrol.apiserver.k8s.io", "v1", 16100, 21],
  ["flowcontrol.apiserver.k8s.io", "v1beta3", 16100, 18],
  ["networking.k8s.io", "v1", 17200, 15],
  ["node.k8s.io", "v1", 16300, 15],
  ["policy", "v1", 17100, 15],
  ["rbac.authorization.k8s.io", "v1", 17000, 15],
  ["scheduling.k8s.io", "v1", 16600, 15],
  ["storage.k8s.io", "v1", 16800, 15],
];

/** The API server's default priority levels: name → nominal concurrency shares (0: exempt). */
const PRIORITY_LEVELS: Array<[name: string, shares: number, queues: number]> = [
  ["exempt", 0, 0],
  ["system", 30, 64],
  ["node-high", 40, 64],
  ["leader-election", 10, 16],
  ["workload-high", 40, 128],
  ["workload-low", 100, 128],
  ["global-default", 20, 128],
  ["catch-all", 5, 0],
];

type Subject = Record<string, unknown>;
const group = (name: string): Subject => ({ kind: "Group", group: { name } });
const user = (name: string): Subject => ({ kind: "User", user: { name } });
const serviceAccount = (namespace: string, name: string): Subject => ({ kind: "ServiceAccount", serviceAccount: { namespace, name } });

/** The API server's default FlowSchemas (mandatory and suggested), their subjects as v1.31 writes them. */
const FLOW_SCHEMAS: Array<[name: string, precedence: number, level: string, subjects: Subject[], byUser: boolean]> = [
  ["exempt", 1, "exempt", [group("system:masters")], false],
  ["probes", 2, "exempt", [group("system:unauthenticated"), group("system:authenticated")], false],
  ["system-leader-election", 100, "leader-election", [user("system:kube-controller-manager"), user("system:kube-scheduler")], true],
  [
    "endpoint-controller",
    150,
    "workload-high",
    [user("system:kube-controller-manager"), serviceAccount("kube-system", "endpoint-controller")],
    true,
  ],
  ["workload-leader-election", 200, "leader-election", [serviceAccount("kube-system", "*")], true],
  ["system-node-high", 400, "node-high", [group("system:nodes")], true],
  ["system-nodes", 500, "system", [group("system:nodes")], true],
  ["kube-controller-manager", 800, "workload-high", [user("system:kube-controller-manager")], true],
  ["kube-scheduler", 800, "workload-high", [user("system:kube-scheduler")], true],
  ["kube-system-service-accounts", 900, "workload-high", [serviceAccount("kube-system", "*")], true],
  ["service-accounts", 9000, "workload-low", [group("system:serviceaccounts")], true],
  ["global-default", 9900, "global-default", [group("system:unauthenticated"), group("system:authenticated")], true],
  ["catch-all", 10000, "catch-all", [group("system:unauthenticated"), group("system:authenticated")], true],
];

interface CronJobInfo {
  name: string;
  everyMinutes: number;
  image: string;
  seconds: number;
}

const CRON_JOBS: CronJobInfo[] = [
  { name: "report-exporter", everyMinutes: 5, image: "registry.example.com/batch/report-exporter:2.4.1", seconds: 9 },
  { name: "cache-warmer", everyMinutes: 5, image: "registry.example.com/batch/cache-warmer:1.12.0", seconds: 4 },
  { name: "ledger-reconcile", everyMinutes: 10, image: "registry.example.com/batch/ledger-reconcile:0.9.7", seconds: 21 },
  { name: "sessions-gc", everyMinutes: 15, image: "registry.example.com/batch/sessions-gc:3.0.2", seconds: 2 },
];

function digest(seed: string): Buffer {
  return createHash("sha256").update(seed).digest();
}

function uidOf(seed: string): string {
  const h = digest(seed).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function hexOf(seed: string, length: number): string {
  return digest(seed).toString("hex").slice(0, length);
}

/** A generated-name suffix as the API server makes them (consonants and digits that spell no word). */
function suffixOf(seed: string, length = 5): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const bytes = digest(seed);
  return Array.from({ length }, (_, i) => alphabet.charAt((bytes[i] ?? 0) % alphabet.length)).join("");
}

function identity(o: KubeObject): string {
  const slash = o.apiVersion.indexOf("/");
  const groupName = slash === -1 ? "" : o.apiVersion.slice(0, slash);
  return `${groupName}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Layers of objects, later layers replacing earlier objects of the same group, kind, namespace and name. */
export function layerObjects(layers: KubeObject[][]): KubeObject[] {
  const byIdentity = new Map<string, KubeObject>();
  for (const layer of layers) for (const o of layer) byIdentity.set(identity(o), o);
  return [...byIdentity.values()];
}

/** The uid and creationTimestamp the API server gives every object, where a fixture leaves them out. */
export function completeMetadata(objects: KubeObject[], at: number): KubeObject[] {
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  return objects.map((o) => {
    if (o.metadata.uid !== undefined && o.metadata.creationTimestamp !== undefined) return o;
    // An Event is created when it is first seen.
    const seen = o.kind === "Event" ? (o.firstTimestamp ?? o.eventTime ?? o.lastTimestamp ?? o.deprecatedFirstTimestamp) : undefined;
    return {
      ...o,
      metadata: {
        ...o.metadata,
        uid: o.metadata.uid ?? uidOf(identity(o)),
        creationTimestamp: o.metadata.creationTimestamp ?? (typeof seen === "string" ? seen : stamp(at - CLUSTER_AGE)),
      },
    };
  });
}

const built = new Map<string, ClusterState>();

/**
 * Builds the base cluster at time `at` around the fixture's own objects (their namespaces, nodes and pod addresses).
 * Cases of a file mostly share these, so the result is kept and shared: treat it as read-only.
 */
export function baseCluster(at: number, fixtureObjects: KubeObject[]): ClusterState {
  const key = JSON.stringify([
    at,
    fixtureObjects.map((o) =>
      o.kind === "Node"
        ? ["Node", o.metadata.name, nodeAddress(o)]
        : o.kind === "Pod" || o.kind === "EndpointSlice"
          ? [o.kind, o.metadata.namespace, text(o, "spec.nodeName"), text(o, "status.podIP"), JSON.stringify(o.endpoints ?? null)]
          : o.metadata.namespace,
    ),
  ]);
  let cluster = built.get(key);
  if (!cluster) {
    cluster = new BaseCluster(at, fixtureObjects).build();
    if (built.size >= 64) built.delete(built.keys().next().value as string);
    built.set(key, cluster);
  }
  return cluster;
}

class BaseCluster {
  readonly #at: number;
  readonly #fixture: KubeObject[];
  readonly #objects: KubeObject[] = [];
  readonly #logs: Record<string, string> = {};
  readonly #usedIPs: Set<string>;
  readonly #nodes: NodeInfo[];

  constructor(at: number, fixture: KubeObject[]) {
    this.#at = at;
    this.#fixture = fixture;
    this.#usedIPs = new Set(fixture.flatMap((o) => (o.kind === "Pod" ? [text(o, "status.podIP")].filter((ip) => ip !== "") : [])));
    this.#nodes = this.#nodeInfos();
  }

  /** An RFC 3339 time `ago` ms before the clock, to the second as the API server writes them. */
  #time(ago: number): string {
    return new Date(this.#at - ago).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  #add(...objects: KubeObject[]): void {
    this.#objects.push(...objects);
  }

  #meta(kind: string, name: string, namespace: string | undefined, ago: number, extra: Record<string, unknown> = {}) {
    return {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: uidOf(`${kind}/${namespace ?? ""}/${name}`),
      creationTimestamp: this.#time(ago),
      ...extra,
    };
  }

  /** The base nodes, and one worker for every other node a fixture's pod or endpoint runs on. */
  #nodeInfos(): NodeInfo[] {
    const named = new Set<string>();
    for (const o of this.#fixture) {
      if (o.kind === "Pod" && text(o, "spec.nodeName") !== "") named.add(text(o, "spec.nodeName"));
      if (o.kind === "EndpointSlice" && Array.isArray(o.endpoints)) {
        for (const e of o.endpoints as unknown[]) if (text(e, "nodeName") !== "") named.add(text(e, "nodeName"));
      }
    }
    const defined = new Set(this.#fixture.filter((o) => o.kind === "Node").map((o) => o.metadata.name));
    const nodes = [...BASE_NODES];
    let n = 0;
    for (const name of [...named].sort()) {
      if (nodes.some((b) => b.name === name)) continue;
      n++;
      if (defined.has(name)) continue;
      nodes.push({ name, ip: `10.0.1.${20 + n}`, podCIDR: `10.244.${10 + n}.0/24`, controlPlane: false });
    }
    return nodes;
  }

  /** The next free pod IP on a node, skipping any a fixture's pod holds. */
  #podIP(node: NodeInfo, from: number): string {
    const prefix = node.podCIDR.replace(/\.0\/24$/, ".");
    for (let host = from; host < 255; host++) {
      const ip = `${prefix}${host}`;
      if (!this.#usedIPs.has(ip)) {
        this.#usedIPs.add(ip);
        return ip;
      }
    }
    throw new Error(`no free pod IP on ${node.name}`);
  }

  #node(name: string): NodeInfo {
    const node = this.#nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  build(): ClusterState {
    for (const node of this.#nodes) this.#nodeObjects(node);
    this.#controlPlane(this.#node("cp-1"));
    this.#coreDns();
    this.#kubeProxy();
    this.#apiServerObjects();
    this.#shop();
    this.#batch();
    this.#namespaces();
    return { objects: this.#objects, logs: this.#logs };
  }

  #nodeObjects(node: NodeInfo): void {
    const conditions = [
      ["MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
      ["DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
      ["PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
      ["Ready", "True", "KubeletReady", "kubelet is posting ready status"],
    ].map(([type, status, reason, message]) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: this.#time(17 * SECOND),
      lastTransitionTime: this.#time(CLUSTER_AGE - 2 * MINUTE),
    }));
    this.#add(
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: this.#meta("Node", node.name, undefined, CLUSTER_AGE, {
          labels: {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node.name,
            "kubernetes.io/os": "linux",
            ...(node.controlPlane
              ? { "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": "" }
              : {}),
          },
          annotations: {
            "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
            "node.alpha.kubernetes.io/ttl": "0",
            "volumes.kubernetes.io/controller-managed-attach-detach": "true",
          },
        }),
        spec: {
          podCIDR: node.podCIDR,
          podCIDRs: [node.podCIDR],
          ...(node.controlPlane ? { taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] } : {}),
        },
        status: {
          addresses: [
            { type: "InternalIP", address: node.ip },
            { type: "Hostname", address: node.name },
          ],
          capacity: { cpu: "4", "ephemeral-storage": "101430960Ki", "hugepages-2Mi": "0", memory: "16374584Ki", pods: "110" },
          allocatable: { cpu: "4", "ephemeral-storage": "93478772582", "hugepages-2Mi": "0", memory: "16272184Ki", pods: "110" },
          conditions,
          daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
          nodeInfo: {
            architecture: "amd64",
            bootID: uidOf(`boot/${node.name}`),
            containerRuntimeVersion: "containerd://1.7.22",
            kernelVersion: "6.8.0-49-generic",
            kubeProxyVersion: BASE_KUBERNETES_VERSION,
            kubeletVersion: BASE_KUBERNETES_VERSION,
            machineID: hexOf(`machine/${node.name}`, 32),
            operatingSystem: "linux",
            osImage: "Ubuntu 24.04.1 LTS",
            systemUUID: uidOf(`system/${node.name}`),
          },
        },
      },
      {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: this.#meta("Lease", node.name, "kube-node-lease", CLUSTER_AGE, {
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: uidOf(`Node//${node.name}`) }],
        }),
        spec: { holderIdentity: node.name, leaseDurationSeconds: 40, renewTime: `${this.#time(4 * SECOND).slice(0, -1)}.118273Z` },
      },
    );
  }

  /** A kubelet mirror pod of a static pod manifest in /etc/kubernetes/manifests, as kubeadm writes them. */
  #staticPod(node: NodeInfo, component: string, image: string, command: string[], cpu: string, annotations: Record<string, string>): void {
    const name = `${component}-${node.name}`;
    const hash = hexOf(`manifest/${name}`, 32);
    const started = this.#time(CLUSTER_AGE - MINUTE);
    this.#add({
      apiVersion: "v1",
      kind: "Pod",
      metadata: this.#meta("Pod", name, "kube-system", CLUSTER_AGE - MINUTE, {
        labels: { component, tier: "control-plane" },
        annotations: {
          ...annotations,
          "kubernetes.io/config.hash": hash,
          "kubernetes.io/config.mirror": hash,
          "kubernetes.io/config.seen": `${this.#time(CLUSTER_AGE - 30 * SECOND).slice(0, -1)}.214710163Z`,
          "kubernetes.io/config.source": "file",
        },
        ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: uidOf(`Node//${node.name}`), controller: true }],
      }),
      spec: {
        nodeName: node.name,
        hostNetwork: true,
        priority: 2000001000,
        priorityClassName: "system-node-critical",
        restartPolicy: "Always",
        schedulerName: "default-scheduler",
        dnsPolicy: "ClusterFirst",
        enableServiceLinks: true,
        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
        terminationGracePeriodSeconds: 30,
        tolerations: [{ operator: "Exists", effect: "NoExecute" }],
        containers: [
          {
            name: component,
            image,
            imagePullPolicy: "IfNotPresent",
            command,
            resources: { requests: { cpu } },
            terminationMessagePath: "/dev/termination-log",
            terminationMessagePolicy: "File",
          },
        ],
      },
      status: {
        phase: "Running",
        hostIP: node.ip,
        hostIPs: [{ ip: node.ip }],
        podIP: node.ip,
        podIPs: [{ ip: node.ip }],
        qosClass: "Burstable",
        startTime: started,
        conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
          type,
          status: "True",
          lastProbeTime: null,
          lastTransitionTime: started,
        })),
        containerStatuses: [
          {
            name: component,
            ready: true,
            started: true,
            restartCount: 0,
            image,
            imageID: `${image.replace(/:[^:]*$/, "")}@sha256:${hexOf(`image/${image}`, 64)}`,
            containerID: `containerd://${hexOf(`container/${name}`, 64)}`,
            state: { running: { startedAt: started } },
          },
        ],
      },
    });
  }

  #controlPlane(node: NodeInfo): void {
    const registry = "registry.k8s.io";
    this.#staticPod(
      node,
      "etcd",
      `${registry}/etcd:3.5.15-0`,
      [
        "etcd",
        `--advertise-client-urls=https://${node.ip}:2379`,
        "--data-dir=/var/lib/etcd",
        `--listen-client-urls=https://127.0.0.1:2379,https://${node.ip}:2379`,
        `--name=${node.name}`,
      ],
      "100m",
      { "kubeadm.kubernetes.io/etcd.advertise-client-urls": `https://${node.ip}:2379` },
    );
    this.#staticPod(
      node,
      "kube-apiserver",
      `${registry}/kube-apiserver:${BASE_KUBERNETES_VERSION}`,
      [
        "kube-apiserver",
        `--advertise-address=${node.ip}`,
        "--authorization-mode=Node,RBAC",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--enable-admission-plugins=NodeRestriction",
        "--etcd-servers=https://127.0.0.1:2379",
        "--secure-port=6443",
        "--service-cluster-ip-range=10.96.0.0/12",
        "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
      ],
      "250m",
      { "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": `${node.ip}:6443` },
    );
    this.#staticPod(
      node,
      "kube-controller-manager",
      `${registry}/kube-controller-manager:${BASE_KUBERNETES_VERSION}`,
      [
        "kube-controller-manager",
        "--allocate-node-cidrs=true",
        "--cluster-cidr=10.244.0.0/16",
        "--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
        "--kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--leader-elect=true",
        "--use-service-account-credentials=true",
      ],
      "200m",
      {},
    );
    this.#staticPod(
      node,
      "kube-scheduler",
      `${registry}/kube-scheduler:${BASE_KUBERNETES_VERSION}`,
      [
        "kube-scheduler",
        "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--kubeconfig=/etc/kubernetes/scheduler.conf",
        "--leader-elect=true",
      ],
      "100m",
      {},
    );
    for (const holder of ["kube-controller-manager", "kube-scheduler"]) {
      this.#add({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: this.#meta("Lease", holder, "kube-system", CLUSTER_AGE),
        spec: {
          holderIdentity: `${node.name}_${uidOf(`leader/${holder}`)}`,
          leaseDurationSeconds: 15,
          leaseTransitions: 0,
          acquireTime: `${this.#time(CLUSTER_AGE - MINUTE).slice(0, -1)}.402933Z`,
          renewTime: `${this.#time(2 * SECOND).slice(0, -1)}.771034Z`,
        },
      });
    }
    const apiserverLease = `apiserver-${suffixOf("apiserver-lease", 26).toLowerCase()}`;
    this.#add({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: this.#meta("Lease", apiserverLease, "kube-system", CLUSTER_AGE - MINUTE, {
        labels: { "apiserver.kubernetes.io/identity": "kube-apiserver", "kubernetes.io/hostname": node.name },
      }),
      spec: {
        holderIdentity: `${apiserverLease}_${uidOf("apiserver-holder")}`,
        leaseDurationSeconds: 3600,
        renewTime: `${this.#time(7 * SECOND).slice(0, -1)}.000118Z`,
      },
    });
    const started = this.#at - CLUSTER_AGE + MINUTE;
    this.#logs[`kube-system/kube-apiserver-${node.name}/kube-apiserver`] = [
      klog(started + 0.41 * SECOND, "I", "options.go:228", `external host was not specified, using ${node.ip}`),
      klog(started + 0.42 * SECOND, "I", "server.go:142", `Version: ${BASE_KUBERNETES_VERSION}`),
      klog(started + 2.1 * SECOND, "I", "secure_serving.go:213", "Serving securely on [::]:6443"),
      klog(started + 2.3 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: serviceaccounts"),
      klog(started + 2.9 * SECOND, "W", "lease.go:265", `Resetting endpoints for master service "kubernetes" to [${node.ip}]`),
      klog(started + 3.2 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: endpoints"),
      klog(started + 3.4 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: leases.coordination.k8s.io"),
      klog(started + 41 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: deployments.apps"),
      klog(
        started + 41.2 * SECOND,
        "I",
        "alloc.go:330",
        '"allocated clusterIPs" service="kube-system/kube-dns" clusterIPs={"IPv4":"10.96.0.10"}',
      ),
      klog(started + 44 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: controllerrevisions.apps"),
      klog(started + 44.3 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: replicasets.apps"),
      klog(this.#at - 29 * DAY, "I", "alloc.go:330", '"allocated clusterIPs" service="shop/web" clusterIPs={"IPv4":"10.96.41.7"}'),
      klog(this.#at - 29 * DAY + 3 * MINUTE, "I", "controller.go:615", "quota admission added evaluator for: cronjobs.batch"),
      klog(this.#at - 29 * DAY + 3 * MINUTE + 0.2 * SECOND, "I", "controller.go:615", "quota admission added evaluator for: jobs.batch"),
      klog(this.#at - 20 * MINUTE, "I", "controller.go:615", "quota admission added evaluator for: replicasets.apps"),
      klog(this.#at - 6 * MINUTE, "I", "controller.go:615", "quota admission added evaluator for: jobs.batch"),
    ].join("\n");
  }

  /** A pod of a controller (ReplicaSet or DaemonSet or Job), running or finished. */
  #pod(options: {
    name: string;
    namespace: string;
    node: NodeInfo;
    owner: { apiVersion: string; kind: string; name: string };
    labels: Record<string, string>;
    serviceAccount: string;
    image: string;
    container: string;
    startedAgo: number;
    hostNetwork?: boolean;
    ip?: string;
    finishedAgo?: number;
    ports?: Array<Record<string, unknown>>;
    priorityClassName?: string;
  }): KubeObject {
    const ip = options.hostNetwork ? options.node.ip : (options.ip ?? this.#podIP(options.node, 2));
    // A fixture's Node without an InternalIP gives its pods none: the API server refuses an empty one.
    const addresses = {
      ...(options.node.ip ? { hostIP: options.node.ip, hostIPs: [{ ip: options.node.ip }] } : {}),
      ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
    };
    const started = this.#time(options.startedAgo);
    const finished = options.finishedAgo !== undefined;
    const state = finished
      ? {
          terminated: {
            exitCode: 0,
            reason: "Completed",
            startedAt: started,
            finishedAt: this.#time(options.finishedAgo ?? 0),
            containerID: `containerd://${hexOf(`container/${options.name}`, 64)}`,
          },
        }
      : { running: { startedAt: started } };
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: this.#meta("Pod", options.name, options.namespace, options.startedAgo + 2 * SECOND, {
        generateName: options.name.replace(/[^-]+$/, ""),
        labels: options.labels,
        ownerReferences: [
          {
            ...options.owner,
            uid: uidOf(`${options.owner.kind}/${options.namespace}/${options.owner.name}`),
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      }),
      spec: {
        nodeName: options.node.name,
        serviceAccountName: options.serviceAccount,
        serviceAccount: options.serviceAccount,
        restartPolicy: finished ? "OnFailure" : "Always",
        schedulerName: "default-scheduler",
        dnsPolicy: options.hostNetwork ? "ClusterFirstWithHostNet" : "ClusterFirst",
        ...(options.hostNetwork ? { hostNetwork: true } : {}),
        ...(options.priorityClassName ? { priorityClassName: options.priorityClassName } : {}),
        terminationGracePeriodSeconds: 30,
        containers: [{ ...container(options.container, options.image, options.ports), imagePullPolicy: "IfNotPresent" }],
      },
      status: {
        phase: finished ? "Succeeded" : "Running",
        ...addresses,
        qosClass: "Burstable",
        startTime: this.#time(options.startedAgo + SECOND),
        conditions: [
          { type: "PodReadyToStartContainers", status: finished ? "False" : "True" },
          { type: "Initialized", status: "True" },
          { type: "Ready", status: finished ? "False" : "True", ...(finished ? { reason: "PodCompleted" } : {}) },
          { type: "ContainersReady", status: finished ? "False" : "True", ...(finished ? { reason: "PodCompleted" } : {}) },
          { type: "PodScheduled", status: "True" },
        ].map((c) => ({ ...c, lastProbeTime: null, lastTransitionTime: started })),
        containerStatuses: [
          {
            name: options.container,
            ready: !finished,
            started: !finished,
            restartCount: 0,
            image: options.image,
            imageID: `${options.image.replace(/:[^:]*$/, "")}@sha256:${hexOf(`image/${options.image}`, 64)}`,
            containerID: `containerd://${hexOf(`container/${options.name}`, 64)}`,
            state,
          },
        ],
      },
    };
  }

  #event(options: {
    namespace: string;
    involved: { kind: string; name: string; namespace?: string; apiVersion?: string; fieldPath?: string };
    reason: string;
    message: string;
    component: string;
    host?: string;
    type?: "Normal" | "Warning";
    firstAgo: number;
    lastAgo?: number;
    count?: number;
  }): KubeObject {
    const name = `${options.involved.name}.${hexOf(`event/${options.namespace}/${options.involved.name}/${options.reason}/${options.firstAgo}`, 16)}`;
    const { kind, namespace = options.namespace, apiVersion = "v1", fieldPath } = options.involved;
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: this.#meta("Event", name, options.namespace, options.firstAgo),
      involvedObject: {
        kind,
        namespace,
        name: options.involved.name,
        uid: uidOf(`${kind}/${namespace}/${options.involved.name}`),
        apiVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason: options.reason,
      message: options.message,
      source: { component: options.component, ...(options.host ? { host: options.host } : {}) },
      firstTimestamp: this.#time(options.firstAgo),
      lastTimestamp: this.#time(options.lastAgo ?? options.firstAgo),
      count: options.count ?? 1,
      type: options.type ?? "Normal",
      eventTime: null,
      reportingComponent: options.component,
      reportingInstance: options.host ?? "",
    };
  }

  /** The kubelet's events for a pod it started: scheduled, image, created, started. */
  #podStartEvents(pod: KubeObject, startedAgo: number, pulled: "present" | "pulled"): KubeObject[] {
    const namespace = pod.metadata.namespace ?? "";
    const node = text(pod, "spec.nodeName");
    const container = text((pod.spec as { containers: unknown[] }).containers[0], "name");
    const image = text((pod.spec as { containers: unknown[] }).containers[0], "image");
    const involved = { kind: "Pod", name: pod.metadata.name };
    const onContainer = { ...involved, fieldPath: `spec.containers{${container}}` };
    const kubelet = { component: "kubelet", host: node, namespace };
    const images =
      pulled === "present"
        ? [
            this.#event({
              ...kubelet,
              involved: onContainer,
              reason: "Pulled",
              message: `Container image "${image}" already present on machine`,
              firstAgo: startedAgo + SECOND,
            }),
          ]
        : [
            this.#event({
              ...kubelet,
              involved: onContainer,
              reason: "Pulling",
              message: `Pulling image "${image}"`,
              firstAgo: startedAgo + 3 * SECOND,
            }),
            this.#event({
              ...kubelet,
              involved: onContainer,
              reason: "Pulled",
              message: `Successfully pulled image "${image}" in 2.118s (2.118s including waiting). Image size: 48213411 bytes.`,
              firstAgo: startedAgo + SECOND,
            }),
          ];
    return [
      this.#event({
        namespace,
        involved,
        reason: "Scheduled",
        message: `Successfully assigned ${namespace}/${pod.metadata.name} to ${node}`,
        component: "default-scheduler",
        firstAgo: startedAgo + 4 * SECOND,
      }),
      ...images,
      this.#event({
        ...kubelet,
        involved: onContainer,
        reason: "Created",
        message: `Created container ${container}`,
        firstAgo: startedAgo + SECOND,
      }),
      this.#event({
        ...kubelet,
        involved: onContainer,
        reason: "Started",
        message: `Started container ${container}`,
        firstAgo: startedAgo,
      }),
    ];
  }

  #coreDns(): void {
    const hash = "7c65d6cfc9";
    const image = "registry.k8s.io/coredns/coredns:v1.11.3";
    const labels = { "k8s-app": "kube-dns", "pod-template-hash": hash };
    const ports = [
      { name: "dns", containerPort: 53, protocol: "UDP" },
      { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
      { name: "metrics", containerPort: 9153, protocol: "TCP" },
    ];
    const template = (templateLabels: Record<string, string>) => ({
      metadata: { labels: templateLabels },
      spec: {
        serviceAccountName: "coredns",
        priorityClassName: "system-cluster-critical",
        containers: [container("coredns", image, ports)],
      },
    });
    const pods = [this.#node("worker-1"), this.#node("worker-2")].map((node) =>
      this.#pod({
        name: `coredns-${hash}-${suffixOf(`coredns/${node.name}`)}`,
        namespace: "kube-system",
        node,
        owner: { apiVersion: "apps/v1", kind: "ReplicaSet", name: `coredns-${hash}` },
        labels,
        serviceAccount: "coredns",
        image,
        container: "coredns",
        startedAgo: CLUSTER_AGE - 2 * MINUTE,
        priorityClassName: "system-cluster-critical",
        ports,
      }),
    );
    this.#add(...pods);
    for (const pod of pods) {
      this.#logs[`kube-system/${pod.metadata.name}/coredns`] = [
        `${this.#time(CLUSTER_AGE - 2 * MINUTE)} .:53`,
        `${this.#time(CLUSTER_AGE - 2 * MINUTE)} [INFO] plugin/reload: Running configuration SHA512 = 591cf328cccc12bc490481273e738df59329c62c0b729d94e8b61db9961c2fa5f046dd37f1cf888b953814040d180f52594972691cd6ff41be96639138a43908`,
        `${this.#time(CLUSTER_AGE - 2 * MINUTE)} CoreDNS-1.11.3`,
        `${this.#time(CLUSTER_AGE - 2 * MINUTE)} linux/amd64, go1.21.11, a6338e9`,
      ].join("\n");
    }
    const rsLabels = { "k8s-app": "kube-dns" };
    this.#add(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: this.#meta("Deployment", "coredns", "kube-system", CLUSTER_AGE - 3 * MINUTE, {
          labels: rsLabels,
          annotations: { "deployment.kubernetes.io/revision": "1" },
          generation: 1,
        }),
        spec: {
          replicas: 2,
          selector: { matchLabels: rsLabels },
          template: template(rsLabels),
        },
        status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
      },
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: this.#meta("ReplicaSet", `coredns-${hash}`, "kube-system", CLUSTER_AGE - 3 * MINUTE, {
          labels,
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "Deployment", name: "coredns", uid: uidOf("Deployment/kube-system/coredns"), controller: true },
          ],
        }),
        spec: { replicas: 2, selector: { matchLabels: labels }, template: template(labels) },
        status: { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 },
      },
      {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: this.#meta("ServiceAccount", "coredns", "kube-system", CLUSTER_AGE - 3 * MINUTE),
      },
      this.#service(
        "kube-system",
        "kube-dns",
        "10.96.0.10",
        rsLabels,
        [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
          { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
        ],
        { "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS", "k8s-app": "kube-dns" },
      ),
      this.#endpointSlice("kube-system", "kube-dns", pods, [
        { name: "dns", port: 53, protocol: "UDP" },
        { name: "dns-tcp", port: 53, protocol: "TCP" },
        { name: "metrics", port: 9153, protocol: "TCP" },
      ]),
      this.#configMap("kube-system", "coredns", CLUSTER_AGE - 3 * MINUTE, {
        Corefile: [
          ".:53 {",
          "    errors",
          "    health {",
          "       lameduck 5s",
          "    }",
          "    ready",
          "    kubernetes cluster.local in-addr.arpa ip6.arpa {",
          "       pods insecure",
          "       fallthrough in-addr.arpa ip6.arpa",
          "       ttl 30",
          "    }",
          "    prometheus :9153",
          "    forward . /etc/resolv.conf {",
          "       max_concurrent 1000",
          "    }",
          "    cache 30",
          "    loop",
          "    reload",
          "    loadbalance",
          "}",
          "",
        ].join("\n"),
      }),
    );
  }

  #kubeProxy(): void {
    const revision = "6c6f5f4b8d";
    const image = `registry.k8s.io/kube-proxy:${BASE_KUBERNETES_VERSION}`;
    const nodes = [
      ...this.#nodes,
      // Nodes the fixture defines itself run kube-proxy too.
      ...this.#fixture
        .filter((o) => o.kind === "Node" && !this.#nodes.some((n) => n.name === o.metadata.name))
        .map((o) => ({ name: o.metadata.name, ip: nodeAddress(o), podCIDR: "", controlPlane: false })),
    ];
    const pods = nodes.map((node) =>
      this.#pod({
        name: `kube-proxy-${suffixOf(`kube-proxy/${node.name}`)}`,
        namespace: "kube-system",
        node,
        owner: { apiVersion: "apps/v1", kind: "DaemonSet", name: "kube-proxy" },
        labels: { "controller-revision-hash": revision, "k8s-app": "kube-proxy", "pod-template-generation": "1" },
        serviceAccount: "kube-proxy",
        image,
        container: "kube-proxy",
        startedAgo: CLUSTER_AGE - 90 * SECOND,
        hostNetwork: true,
        priorityClassName: "system-node-critical",
      }),
    );
    this.#add(...pods);
    // The kubelet warns on every pod sync when the node's resolv.conf lists more nameservers than a pod may have.
    const noisy = pods.find((p) => text(p, "spec.nodeName") === "worker-2") ?? pods[0];
    if (noisy) {
      this.#add(
        this.#event({
          namespace: "kube-system",
          involved: { kind: "Pod", name: noisy.metadata.name },
          reason: "DNSConfigForming",
          message:
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.0.1.2 10.0.1.3 1.1.1.1",
          component: "kubelet",
          host: text(noisy, "spec.nodeName"),
          type: "Warning",
          firstAgo: CLUSTER_AGE - 90 * SECOND,
          lastAgo: 97 * SECOND,
          count: 4312,
        }),
      );
    }
    const labels = { "k8s-app": "kube-proxy" };
    this.#add(
      {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: this.#meta("DaemonSet", "kube-proxy", "kube-system", CLUSTER_AGE - 2 * MINUTE, {
          labels,
          annotations: { "deprecated.daemonset.template.generation": "1" },
          generation: 1,
        }),
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: "kube-proxy",
              hostNetwork: true,
              priorityClassName: "system-node-critical",
              containers: [container("kube-proxy", image)],
            },
          },
        },
        status: {
          currentNumberScheduled: pods.length,
          desiredNumberScheduled: pods.length,
          numberAvailable: pods.length,
          numberReady: pods.length,
          updatedNumberScheduled: pods.length,
          numberMisscheduled: 0,
          observedGeneration: 1,
        },
      },
      this.#configMap("kube-system", "kube-proxy", CLUSTER_AGE - 2 * MINUTE, {
        "config.conf":
          "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: 10.244.0.0/16\nmode: iptables\n",
        "kubeconfig.conf":
          "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: https://172.18.0.2:6443\n  name: default\n",
      }),
    );
  }

  #service(
    namespace: string,
    name: string,
    clusterIP: string,
    selector: Record<string, string> | undefined,
    ports: Array<Record<string, unknown>>,
    labels: Record<string, string> = {},
  ): KubeObject {
    return {
      apiVersion: "v1",
      kind: "Service",
      metadata: this.#meta("Service", name, namespace, CLUSTER_AGE - 3 * MINUTE, { labels }),
      spec: {
        type: "ClusterIP",
        clusterIP,
        clusterIPs: [clusterIP],
        internalTrafficPolicy: "Cluster",
        ipFamilies: ["IPv4"],
        ipFamilyPolicy: "SingleStack",
        ports,
        ...(selector ? { selector } : {}),
        sessionAffinity: "None",
      },
      status: { loadBalancer: {} },
    };
  }

  #endpointSlice(namespace: string, service: string, pods: KubeObject[], ports: Array<Record<string, unknown>>): KubeObject {
    return {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: this.#meta(
        "EndpointSlice",
        `${service}-${suffixOf(`slice/${namespace}/${service}`)}`,
        namespace,
        CLUSTER_AGE - 2 * MINUTE,
        {
          generateName: `${service}-`,
          labels: { "kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" },
          ownerReferences: [
            {
              apiVersion: "v1",
              kind: "Service",
              name: service,
              uid: uidOf(`Service/${namespace}/${service}`),
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
      ),
      addressType: "IPv4",
      endpoints: pods.map((pod) => ({
        addresses: [text(pod, "status.podIP")],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: text(pod, "spec.nodeName"),
        targetRef: { kind: "Pod", namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      })),
      ports,
    };
  }

  #configMap(namespace: string, name: string, ago: number, data: Record<string, string>): KubeObject {
    return { apiVersion: "v1", kind: "ConfigMap", metadata: this.#meta("ConfigMap", name, namespace, ago), data };
  }

  #apiServerObjects(): void {
    const cp = this.#node("cp-1");
    this.#add(
      this.#service("default", "kubernetes", "10.96.0.1", undefined, [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }], {
        component: "apiserver",
        provider: "kubernetes",
      }),
      {
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: this.#meta("EndpointSlice", "kubernetes", "default", CLUSTER_AGE - MINUTE, {
          labels: { "kubernetes.io/service-name": "kubernetes" },
        }),
        addressType: "IPv4",
        endpoints: [{ addresses: [cp.ip], conditions: { ready: true } }],
        ports: [{ name: "https", port: 6443, protocol: "TCP" }],
      },
      {
        apiVersion: "v1",
        kind: "Endpoints",
        metadata: this.#meta("Endpoints", "kubernetes", "default", CLUSTER_AGE - MINUTE, {
          labels: { "endpointslice.kubernetes.io/skip-mirror": "true" },
        }),
        subsets: [{ addresses: [{ ip: cp.ip }], ports: [{ name: "https", port: 6443, protocol: "TCP" }] }],
      },
    );
    for (const [groupName, version, groupPriorityMinimum, versionPriority] of LOCAL_API_SERVICES) {
      // The core group's is "v1." as the API server names it.
      const name = `${version}.${groupName}`;
      this.#add({
        apiVersion: "apiregistration.k8s.io/v1",
        kind: "APIService",
        metadata: this.#meta("APIService", name, undefined, CLUSTER_AGE - MINUTE, {
          labels: { "kube-aggregator.kubernetes.io/automanaged": "onstart" },
        }),
        spec: { ...(groupName === "" ? {} : { group: groupName }), version, groupPriorityMinimum, versionPriority },
        status: {
          conditions: [
            {
              type: "Available",
              status: "True",
              reason: "Local",
              message: "Local APIServices are always available",
              lastTransitionTime: this.#time(CLUSTER_AGE - MINUTE),
            },
          ],
        },
      });
    }
    const autoUpdate = { "apf.kubernetes.io/autoupdate-spec": "true" };
    for (const [name, shares, queues] of PRIORITY_LEVELS) {
      this.#add({
        apiVersion: "flowcontrol.apiserver.k8s.io/v1",
        kind: "PriorityLevelConfiguration",
        metadata: this.#meta("PriorityLevelConfiguration", name, undefined, CLUSTER_AGE - MINUTE, { annotations: autoUpdate }),
        spec:
          shares === 0
            ? { type: "Exempt", exempt: { nominalConcurrencyShares: 0, lendablePercent: 0 } }
            : {
                type: "Limited",
                limited: {
                  nominalConcurrencyShares: shares,
                  lendablePercent: name === "workload-low" ? 90 : name === "global-default" ? 50 : 0,
                  limitResponse:
                    queues === 0
                      ? { type: "Reject" }
                      : { type: "Queue", queuing: { queues, handSize: queues >= 128 ? 6 : 4, queueLengthLimit: 50 } },
                },
              },
        status: {},
      });
    }
    for (const [name, matchingPrecedence, level, subjects, byUser] of FLOW_SCHEMAS) {
      this.#add({
        apiVersion: "flowcontrol.apiserver.k8s.io/v1",
        kind: "FlowSchema",
        metadata: this.#meta("FlowSchema", name, undefined, CLUSTER_AGE - MINUTE, { annotations: autoUpdate }),
        spec: {
          matchingPrecedence,
          priorityLevelConfiguration: { name: level },
          ...(byUser ? { distinguisherMethod: { type: "ByUser" } } : {}),
          rules: [
            {
              subjects,
              resourceRules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true, namespaces: ["*"] }],
              nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
            },
          ],
        },
        status: {
          conditions: [
            {
              type: "Dangling",
              status: "False",
              reason: "Found",
              message: `This FlowSchema references the PriorityLevelConfiguration object named "${level}" and it exists`,
              lastTransitionTime: this.#time(CLUSTER_AGE - MINUTE),
            },
          ],
        },
      });
    }
    this.#add(
      ...KUBE_SYSTEM_SERVICE_ACCOUNTS.filter((name) => name !== "coredns" && name !== "default").map((name): KubeObject => ({
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: this.#meta("ServiceAccount", name, "kube-system", CLUSTER_AGE - MINUTE),
      })),
      this.#configMap("kube-system", "kubeadm-config", CLUSTER_AGE - 2 * MINUTE, {
        ClusterConfiguration: [
          "apiServer: {}",
          "apiVersion: kubeadm.k8s.io/v1beta4",
          "caCertificateValidityPeriod: 87600h0m0s",
          "certificateValidityPeriod: 8760h0m0s",
          "certificatesDir: /etc/kubernetes/pki",
          "clusterName: kubernetes",
          `controlPlaneEndpoint: ${cp.ip}:6443`,
          "controllerManager: {}",
          "dns: {}",
          "etcd:",
          "  local:",
          "    dataDir: /var/lib/etcd",
          "imageRepository: registry.k8s.io",
          "kind: ClusterConfiguration",
          `kubernetesVersion: ${BASE_KUBERNETES_VERSION}`,
          "networking:",
          "  dnsDomain: cluster.local",
          "  podSubnet: 10.244.0.0/16",
          "  serviceSubnet: 10.96.0.0/12",
          "scheduler: {}",
          "",
        ].join("\n"),
      }),
      this.#configMap("kube-system", "kubelet-config", CLUSTER_AGE - 2 * MINUTE, {
        kubelet: [
          "apiVersion: kubelet.config.k8s.io/v1beta1",
          "authentication:",
          "  x509:",
          "    clientCAFile: /etc/kubernetes/pki/ca.crt",
          "cgroupDriver: systemd",
          "clusterDNS:",
          "- 10.96.0.10",
          "clusterDomain: cluster.local",
          "kind: KubeletConfiguration",
          "rotateCertificates: true",
          "staticPodPath: /etc/kubernetes/manifests",
          "",
        ].join("\n"),
      }),
      this.#configMap("kube-system", "extension-apiserver-authentication", CLUSTER_AGE - MINUTE, {
        "client-ca-file": CLUSTER_CA,
        "requestheader-allowed-names": '["front-proxy-client"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-username-headers": '["X-Remote-User"]',
      }),
      this.#configMap("kube-system", "kube-apiserver-legacy-service-account-token-tracking", CLUSTER_AGE - MINUTE, {
        since: this.#time(CLUSTER_AGE - MINUTE).slice(0, 10),
      }),
      this.#configMap("kube-public", "cluster-info", CLUSTER_AGE - 2 * MINUTE, {
        kubeconfig: [
          "apiVersion: v1",
          "clusters:",
          "- cluster:",
          `    certificate-authority-data: ${Buffer.from(CLUSTER_CA).toString("base64")}`,
          `    server: https://${cp.ip}:6443`,
          '  name: ""',
          "contexts: null",
          'current-context: ""',
          "kind: Config",
          "preferences: {}",
          "users: null",
          "",
        ].join("\n"),
      }),
    );
  }

  /** shop/web: three replicas, rolled out to a new ReplicaSet 20 minutes ago. */
  #shop(): void {
    const namespace = "shop";
    const [oldHash, newHash] = ["5d8c7b9f4", "74f6d8c9b7"];
    const image = "registry.example.com/shop/web:1.8.3";
    const selector = { app: "web" };
    const workers = ["worker-1", "worker-2", "worker-3"].map((name) => this.#node(name));
    const rollout = 20 * MINUTE;
    const webPorts = [{ name: "http", containerPort: 8080, protocol: "TCP" }];
    const pods = workers.map((node, i) =>
      this.#pod({
        name: `web-${newHash}-${suffixOf(`web/${i}`)}`,
        namespace,
        node,
        owner: { apiVersion: "apps/v1", kind: "ReplicaSet", name: `web-${newHash}` },
        labels: { ...selector, "pod-template-hash": newHash },
        serviceAccount: "web",
        image,
        container: "web",
        startedAgo: rollout - i * 40 * SECOND - 5 * SECOND,
        ip: this.#podIP(node, 41),
        ports: webPorts,
      }),
    );
    this.#add(...pods);
    const deployment = { kind: "Deployment", name: "web", apiVersion: "apps/v1" };
    const newRs = { kind: "ReplicaSet", name: `web-${newHash}`, apiVersion: "apps/v1" };
    const oldRs = { kind: "ReplicaSet", name: `web-${oldHash}`, apiVersion: "apps/v1" };
    const events: KubeObject[] = [];
    pods.forEach((pod, i) => {
      const created = rollout - i * 40 * SECOND;
      const old = `web-${oldHash}-${suffixOf(`web-old/${i}`)}`;
      const ip = text(pod, "status.podIP");
      events.push(
        this.#event({
          namespace,
          involved: deployment,
          reason: "ScalingReplicaSet",
          message: `Scaled up replica set web-${newHash} to ${i + 1}${i === 0 ? "" : ` from ${i}`}`,
          component: "deployment-controller",
          firstAgo: created,
        }),
        this.#event({
          namespace,
          involved: newRs,
          reason: "SuccessfulCreate",
          message: `Created pod: ${pod.metadata.name}`,
          component: "replicaset-controller",
          firstAgo: created - SECOND,
        }),
        ...this.#podStartEvents(pod, created - 6 * SECOND, i === 0 ? "pulled" : "present"),
        this.#event({
          namespace,
          involved: { kind: "Pod", name: pod.metadata.name, fieldPath: "spec.containers{web}" },
          reason: "Unhealthy",
          message: `Readiness probe failed: Get "http://${ip}:8080/healthz": dial tcp ${ip}:8080: connect: connection refused`,
          component: "kubelet",
          host: text(pod, "spec.nodeName"),
          type: "Warning",
          firstAgo: created - 9 * SECOND,
          lastAgo: created - 14 * SECOND,
          count: 2,
        }),
        this.#event({
          namespace,
          involved: deployment,
          reason: "ScalingReplicaSet",
          message: `Scaled down replica set web-${oldHash} to ${2 - i} from ${3 - i}`,
          component: "deployment-controller",
          firstAgo: created - 20 * SECOND,
        }),
        this.#event({
          namespace,
          involved: oldRs,
          reason: "SuccessfulDelete",
          message: `Deleted pod: ${old}`,
          component: "replicaset-controller",
          firstAgo: created - 20 * SECOND,
        }),
        this.#event({
          namespace,
          involved: { kind: "Pod", name: old, fieldPath: "spec.containers{web}" },
          reason: "Killing",
          message: "Stopping container web",
          component: "kubelet",
          host: workers[(i + 1) % 3]?.name,
          firstAgo: created - 21 * SECOND,
        }),
      );
    });
    this.#add(...events);
    // A ReplicaSet's template carries the pod-template-hash its selector adds to the Deployment's.
    const template = (hash?: string) => ({
      metadata: { labels: hash === undefined ? selector : { ...selector, "pod-template-hash": hash } },
      spec: { serviceAccountName: "web", containers: [container("web", image, webPorts)] },
    });
    this.#add(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: this.#meta("Deployment", "web", namespace, 29 * DAY, {
          labels: selector,
          annotations: { "deployment.kubernetes.io/revision": "7" },
          generation: 7,
        }),
        spec: {
          replicas: 3,
          selector: { matchLabels: selector },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
          template: template(),
        },
        status: { observedGeneration: 7, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 },
      },
      ...[
        [newHash, 3, rollout, "7"],
        [oldHash, 0, 6 * DAY, "6"],
      ].map(([hash, replicas, ago, revision]): KubeObject => ({
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: this.#meta("ReplicaSet", `web-${hash}`, namespace, ago as number, {
          labels: { ...selector, "pod-template-hash": hash as string },
          annotations: { "deployment.kubernetes.io/revision": revision as string, "deployment.kubernetes.io/desired-replicas": "3" },
          ownerReferences: [
            {
              apiVersion: "apps/v1",
              kind: "Deployment",
              name: "web",
              uid: uidOf(`Deployment/${namespace}/web`),
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        }),
        spec: {
          replicas,
          selector: { matchLabels: { ...selector, "pod-template-hash": hash as string } },
          template: template(hash as string),
        },
        status: { replicas, fullyLabeledReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 },
      })),
      { apiVersion: "v1", kind: "ServiceAccount", metadata: this.#meta("ServiceAccount", "web", namespace, 29 * DAY) },
      this.#service(namespace, "web", "10.96.41.7", selector, [{ name: "http", port: 80, protocol: "TCP", targetPort: "http" }], selector),
      this.#endpointSlice(namespace, "web", pods, [{ name: "http", port: 8080, protocol: "TCP" }]),
    );
  }

  /** batch: CronJobs every 5 to 15 minutes; the events of every run in the last hour, the last three runs' Jobs and pods. */
  #batch(): void {
    const namespace = "batch";
    const workers = ["worker-1", "worker-2", "worker-3"].map((name) => this.#node(name));
    let spread = 0;
    for (const cron of CRON_JOBS) {
      const period = cron.everyMinutes * MINUTE;
      // Runs whose events are still kept, oldest first; the one starting at the clock itself has not run yet.
      const runs: number[] = [];
      for (let start = Math.floor((this.#at - MINUTE) / period) * period; start > this.#at - EVENT_TTL; start -= period)
        runs.unshift(start);
      const cronJob = { kind: "CronJob", name: cron.name, apiVersion: "batch/v1" };
      runs.forEach((start, i) => {
        const ago = this.#at - start;
        const job = `${cron.name}-${Math.floor(start / MINUTE)}`;
        const pod = `${job}-${suffixOf(`pod/${job}`)}`;
        const node = workers[spread++ % workers.length] as NodeInfo;
        const done = ago - cron.seconds * SECOND;
        const podObject = this.#pod({
          name: pod,
          namespace,
          node,
          owner: { apiVersion: "batch/v1", kind: "Job", name: job },
          labels: {
            "batch.kubernetes.io/job-name": job,
            "job-name": job,
            "batch.kubernetes.io/controller-uid": uidOf(`Job/${namespace}/${job}`),
            "controller-uid": uidOf(`Job/${namespace}/${job}`),
          },
          serviceAccount: "default",
          image: cron.image,
          container: cron.name,
          startedAgo: ago - 2 * SECOND,
          ip: this.#podIP(node, 100),
          finishedAgo: done,
        });
        const jobRef = { kind: "Job", name: job, apiVersion: "batch/v1" };
        this.#add(
          this.#event({
            namespace,
            involved: cronJob,
            reason: "SuccessfulCreate",
            message: `Created job ${job}`,
            component: "cronjob-controller",
            firstAgo: ago,
          }),
          this.#event({
            namespace,
            involved: jobRef,
            reason: "SuccessfulCreate",
            message: `Created pod: ${pod}`,
            component: "job-controller",
            firstAgo: ago,
          }),
          ...this.#podStartEvents(podObject, ago - 2 * SECOND, "present"),
          this.#event({
            namespace,
            involved: jobRef,
            reason: "Completed",
            message: "Job completed",
            component: "job-controller",
            firstAgo: done - SECOND,
          }),
          this.#event({
            namespace,
            involved: cronJob,
            reason: "SawCompletedJob",
            message: `Saw completed job: ${job}, condition: Complete`,
            component: "cronjob-controller",
            firstAgo: done - SECOND,
          }),
          this.#event({
            namespace,
            involved: cronJob,
            reason: "SuccessfulDelete",
            message: `Deleted job ${cron.name}-${Math.floor((start - 3 * period) / MINUTE)}`,
            component: "cronjob-controller",
            firstAgo: done - SECOND,
          }),
        );
        if (i >= runs.length - 3) {
          this.#add(podObject, {
            apiVersion: "batch/v1",
            kind: "Job",
            metadata: this.#meta("Job", job, namespace, ago, {
              labels: {
                "batch.kubernetes.io/controller-uid": uidOf(`Job/${namespace}/${job}`),
                "controller-uid": uidOf(`Job/${namespace}/${job}`),
              },
              annotations: { "batch.kubernetes.io/cronjob-scheduled-timestamp": new Date(start).toISOString().replace(/\.\d{3}Z$/, "Z") },
              ownerReferences: [
                {
                  apiVersion: "batch/v1",
                  kind: "CronJob",
                  name: cron.name,
                  uid: uidOf(`CronJob/${namespace}/${cron.name}`),
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
            }),
            spec: {
              backoffLimit: 6,
              completions: 1,
              parallelism: 1,
              template: { spec: { containers: [container(cron.name, cron.image)], restartPolicy: "OnFailure" } },
            },
            status: {
              startTime: this.#time(ago),
              completionTime: this.#time(done),
              succeeded: 1,
              ready: 0,
              terminating: 0,
              uncountedTerminatedPods: {},
              conditions: [
                { type: "SuccessCriteriaMet", status: "True", lastProbeTime: this.#time(done), lastTransitionTime: this.#time(done) },
                { type: "Complete", status: "True", lastProbeTime: this.#time(done), lastTransitionTime: this.#time(done) },
              ],
            },
          });
        }
      });
      const last = runs.at(-1) ?? this.#at - period;
      this.#add({
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: this.#meta("CronJob", cron.name, namespace, 29 * DAY + 3 * MINUTE, { generation: 1 }),
        spec: {
          schedule: `*/${cron.everyMinutes} * * * *`,
          concurrencyPolicy: "Forbid",
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 1,
          suspend: false,
          jobTemplate: {
            spec: { template: { spec: { containers: [container(cron.name, cron.image)], restartPolicy: "OnFailure" } } },
          },
        },
        status: {
          lastScheduleTime: new Date(last).toISOString().replace(/\.\d{3}Z$/, "Z"),
          lastSuccessfulTime: this.#time(this.#at - last - cron.seconds * SECOND),
          active: [],
        },
      });
    }
  }

  /** Every namespace any object lives in, with what the namespace controller and kube-root-ca publisher put there. */
  #namespaces(): void {
    const names = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);
    for (const o of [...this.#objects, ...this.#fixture]) if (o.metadata.namespace) names.add(o.metadata.namespace);
    for (const name of [...names].sort()) {
      const system = ["default", "kube-system", "kube-public", "kube-node-lease"].includes(name);
      const ago = system ? CLUSTER_AGE : 29 * DAY;
      this.#add({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: this.#meta("Namespace", name, undefined, ago, { labels: { "kubernetes.io/metadata.name": name } }),
        spec: { finalizers: ["kubernetes"] },
        status: { phase: "Active" },
      });
      this.#add({ apiVersion: "v1", kind: "ServiceAccount", metadata: this.#meta("ServiceAccount", "default", name, ago - MINUTE) });
      this.#add({
        ...this.#configMap(name, "kube-root-ca.crt", ago - MINUTE, { "ca.crt": CLUSTER_CA }),
        metadata: {
          ...this.#meta("ConfigMap", "kube-root-ca.crt", name, ago - MINUTE),
          annotations: {
            "kubernetes.io/description":
              "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
          },
        },
      });
    }
  }
}

/** A container as a workload's pod template and its pods declare it. */
function container(name: string, image: string, ports?: Array<Record<string, unknown>>): Record<string, unknown> {
  return {
    name,
    image,
    ...(ports ? { ports } : {}),
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
  };
}

function text(o: unknown, path: string): string {
  let current: unknown = o;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return "";
    current = (current as Record<string, unknown>)[part];
  }
  return typeof current === "string" ? current : "";
}

function nodeAddress(node: KubeObject): string {
  const addresses = (node.status as { addresses?: Array<{ type?: string; address?: string }> } | undefined)?.addresses ?? [];
  return addresses.find((a) => a.type === "InternalIP")?.address ?? "";
}

/** A klog line as the container runtime stores it: the kubelet's RFC 3339 timestamp, then klog's own header. */
function klog(ms: number, level: "I" | "W" | "E", where: string, message: string): string {
  const time = new Date(Math.round(ms));
  const iso = time.toISOString();
  const pad = (n: number) => String(n).padStart(2, "0");
  const micros = String(time.getUTCMilliseconds() * 1000 + 118).padStart(6, "0");
  const header = `${level}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())} ${iso.slice(11, 19)}.${micros}       1 ${where}]`;
  return `${iso.slice(0, 19)}.${micros}000Z ${header} ${message}`;
}
