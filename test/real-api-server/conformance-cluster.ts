// One cluster for the conformance suite, held by the real kube-apiserver and by the fake alike: every case's objects
// (the last case to name an object wins) and the probes' own, loaded into the real server; then the fake is given
// the same objects, with what a client cannot choose taken from the real server (creationTimestamp, uid,
// resourceVersion, generation, a Service's allocated clusterIP) and the objects the real server made itself (its
// namespaces, APIServices, API Priority and Fairness configuration, the kubernetes Service).
import type { KubeObject } from "../../testkit/kube-object.ts";
import type { ClusterState } from "../../testkit/fixture-cluster.ts";
import type { RealKubeApi } from "../support/kube-apiserver.ts";
import { RealClusterLoader } from "../support/real-cluster-loader.ts";

export interface ConformanceCluster {
  /** What the fake serves: the same objects as the real server. */
  fakeState: ClusterState;
  /** Objects the real server refused, one line each (its own words), left out of both. */
  refused: string[];
  /** How many objects the real server made itself and the fake was given. */
  serverOwn: number;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function objectKey(o: KubeObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Where the server keeps an object: both Event APIs are one storage, so an Event is one object whichever it came in. */
function storageKey(o: KubeObject): string {
  return o.kind === "Event" ? `Event/${o.metadata.namespace ?? ""}/${o.metadata.name}` : objectKey(o);
}

/** Every case's objects and logs in one state, the later case winning. */
export function unionOf(states: ClusterState[]): ClusterState {
  const objects = new Map<string, KubeObject>();
  const logs: Record<string, string> = {};
  for (const state of states) {
    for (const o of state.objects) objects.set(objectKey(o), o);
    Object.assign(logs, state.logs ?? {});
  }
  return { objects: [...objects.values()], logs };
}

/** A Node as the loader writes it: its kubelet is the stand-in at 127.0.0.1:10250, for the real server and the fake alike. */
function withStandInKubelet(o: KubeObject): KubeObject {
  if (o.kind !== "Node") return o;
  const copy = structuredClone(o) as KubeObject & { status?: Json };
  const status = copy.status ?? {};
  const addresses = Array.isArray(status.addresses) ? status.addresses.filter(isRecord) : [];
  status.addresses = [{ type: "InternalIP", address: "127.0.0.1" }, ...addresses.filter((a) => a.type !== "InternalIP")];
  status.daemonEndpoints = { kubeletEndpoint: { Port: 10250 } };
  copy.status = status;
  return copy;
}

/** The metadata the server sets on create, never the client. */
const SERVER_SET_METADATA = [
  "creationTimestamp",
  "uid",
  "resourceVersion",
  "generation",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink",
];

function refusedPrefix(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}: `;
}

interface ListedResource {
  apiVersion: string;
  kind: string;
  path: string;
}

async function listedResources(api: RealKubeApi, kinds: Set<string>): Promise<ListedResource[]> {
  const groups = (await api.call("GET", "/apis")).body as { groups: Array<{ preferredVersion: { groupVersion: string } }> };
  const groupVersions = ["v1", ...groups.groups.map((g) => g.preferredVersion.groupVersion)];
  const found: ListedResource[] = [];
  for (const gv of groupVersions) {
    const base = gv === "v1" ? "/api/v1" : `/apis/${gv}`;
    const answer = await api.call("GET", base);
    if (answer.status !== 200) continue;
    for (const r of (answer.body as { resources: Array<{ name: string; kind: string; verbs: string[] }> }).resources) {
      if (r.name.includes("/") || !r.verbs.includes("list") || !kinds.has(`${gv}/${r.kind}`)) continue;
      // The core Event API lists every Event, whichever API wrote it.
      if (gv === "events.k8s.io/v1") continue;
      found.push({ apiVersion: gv, kind: r.kind, path: `${base}/${r.name}` });
    }
  }
  return found;
}

/** Loads `state` into the real server and returns what the fake must hold to hold the same. */
export async function loadConformanceCluster(api: RealKubeApi, state: ClusterState): Promise<ConformanceCluster> {
  const wanted = state.objects.map(withStandInKubelet);
  const loader = new RealClusterLoader(api);
  const refused = await loader.sync({ objects: wanted });
  const kept = wanted.filter((o) => !refused.some((line) => line.startsWith(refusedPrefix(o))));
  // An object whose status the server refused is there without it: the loader removes it again.
  if (kept.length !== wanted.length) await loader.sync({ objects: kept });

  const kinds = new Set([...kept.map((o) => (o.kind === "Event" ? "v1/Event" : `${o.apiVersion}/${o.kind}`)), "v1/Namespace"]);
  const onServer = new Map<string, KubeObject>();
  for (const resource of await listedResources(api, kinds)) {
    const list = (await api.call("GET", resource.path)).body as { items: KubeObject[] };
    for (const item of list.items) {
      const o = { ...item, apiVersion: resource.apiVersion, kind: resource.kind };
      onServer.set(storageKey(o), o);
    }
  }
  const keptKeys = new Set(kept.map(storageKey));
  const objects = kept.map((o) => {
    const served = onServer.get(storageKey(o));
    if (!served) return o;
    const copy = structuredClone(o) as KubeObject & { spec?: Json };
    const metadata = copy.metadata as Json;
    for (const field of SERVER_SET_METADATA) {
      const value = (served.metadata as Json)[field];
      if (value === undefined) delete metadata[field];
      else metadata[field] = value;
    }
    if (o.kind === "Service" && isRecord(copy.spec) && isRecord(served.spec)) {
      copy.spec.clusterIP = served.spec.clusterIP;
      copy.spec.clusterIPs = served.spec.clusterIPs;
    }
    return copy;
  });
  const serverOwn = [...onServer.entries()].filter(([key]) => !keptKeys.has(key)).map(([, o]) => o);
  return { fakeState: { objects: [...objects, ...serverOwn], logs: state.logs ?? {} }, refused, serverOwn: serverOwn.length };
}
