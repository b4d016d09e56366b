// Brings a real API server to a case's cluster state (ClusterState, as the fake serves it): creates what is missing,
// replaces what differs, deletes what the case does not have, then writes each object's status through its status
// subresource, as a controller would. Cases follow each other on one server, so only differences are written.
//
// What a real server does not let a client choose is left to it and said here: creationTimestamp, uid and
// resourceVersion are its own; a Service's clusterIP comes from the service range; a Node's addresses become
// 127.0.0.1 (the stand-in kubelet), so logs are read through the API server as in a cluster.
import type { KubeObject } from "../../testkit/kube-object.ts";
import type { ClusterState } from "../../testkit/fixture-cluster.ts";
import type { ApiAnswer, RealKubeApi } from "./kube-apiserver.ts";

interface Resource {
  path: string;
  namespaced: boolean;
  hasStatus: boolean;
}

interface Loaded {
  object: KubeObject;
  /** The object as this loader last wrote it, to tell whether a case changes it. */
  written: string;
  resource: Resource;
  /** It was on the server before any case (bootstrap objects): restored, never deleted. */
  original?: KubeObject;
}

/** Cluster-scoped objects that change how the server admits others are written last and removed first. */
const ADMISSION_KINDS = new Set([
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
]);

function keyOf(o: KubeObject): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

function rank(o: KubeObject): number {
  if (o.kind === "Namespace") return 0;
  if (o.kind === "CustomResourceDefinition") return 1;
  if (ADMISSION_KINDS.has(o.kind) || o.kind === "APIService") return 3;
  return 2;
}

export class LoadError extends Error {}

export class RealClusterLoader {
  readonly #api: RealKubeApi;
  readonly #loaded = new Map<string, Loaded>();
  #resources = new Map<string, Resource>();

  constructor(api: RealKubeApi) {
    this.#api = api;
  }

  async #discover(): Promise<void> {
    const resources = new Map<string, Resource>();
    const groupVersions = ["v1"];
    const groups = await this.#must("GET", "/apis");
    for (const group of (groups.body as { groups: Array<{ versions: Array<{ groupVersion: string }> }> }).groups) {
      groupVersions.push(...group.versions.map((v) => v.groupVersion));
    }
    await Promise.all(
      groupVersions.map(async (gv) => {
        const answer = await this.#api.call("GET", gv === "v1" ? "/api/v1" : `/apis/${gv}`);
        if (answer.status !== 200) return; // an aggregated API a fixture registered, with nothing behind it
        const list = (answer.body as { resources: Array<{ name: string; kind: string; namespaced: boolean }> }).resources;
        for (const r of list) {
          if (r.name.includes("/")) continue;
          const hasStatus = list.some((s) => s.name === `${r.name}/status`);
          const base = gv === "v1" ? "/api/v1" : `/apis/${gv}`;
          if (!resources.has(`${gv}/${r.kind}`))
            resources.set(`${gv}/${r.kind}`, { path: `${base}/${r.name}`, namespaced: r.namespaced, hasStatus });
        }
      }),
    );
    this.#resources = resources;
  }

  async #resource(o: KubeObject): Promise<Resource> {
    if (!this.#resources.has(`${o.apiVersion}/${o.kind}`)) await this.#discover();
    const found = this.#resources.get(`${o.apiVersion}/${o.kind}`);
    if (!found) throw new LoadError(`the real API server serves no ${o.kind} in ${o.apiVersion}`);
    return found;
  }

  async #must(
    method: string,
    path: string,
    body?: unknown,
    accept: number[] = [],
    headers: Record<string, string | string[]> = {},
  ): Promise<ApiAnswer> {
    const answer = await this.#api.call(method, path, body, undefined, headers);
    if ((answer.status >= 200 && answer.status < 300) || accept.includes(answer.status)) return answer;
    const message = (answer.body as { message?: string } | undefined)?.message ?? JSON.stringify(answer.body);
    throw new LoadError(`${method} ${path}: ${answer.status} ${message}`);
  }

  #objectPath(o: KubeObject, resource: Resource): string {
    const ns = resource.namespaced ? (o.metadata.namespace ?? "default") : undefined;
    const [group, rest] = resource.path.startsWith("/api/v1") ? ["/api/v1", resource.path.slice(7)] : splitGroupPath(resource.path);
    return ns === undefined ? `${group}${rest}/${o.metadata.name}` : `${group}/namespaces/${ns}${rest}/${o.metadata.name}`;
  }

  #collectionPath(o: KubeObject, resource: Resource): string {
    return this.#objectPath(o, resource).replace(/\/[^/]+$/, "");
  }

  #csrRequesters: Promise<unknown> | undefined;

  /**
   * CSRs are created as the users that requested them (creator()), who need the right to, as kubeadm grants it to
   * bootstrap tokens and nodes: here, once, to every authenticated user. Playbooks do not read bindings.
   */
  #letRequestersCreateCsrs(): Promise<unknown> {
    this.#csrRequesters ??= this.#must(
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "fixture-csr-requesters" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:node-bootstrapper" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:authenticated" }],
      },
      [409],
    ).then(() =>
      this.untilAllowed("fixture-csr-requester", ["system:authenticated"], {
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests",
        verb: "create",
      }),
    );
    return this.#csrRequesters;
  }

  /**
   * Waits until the RBAC authorizer lets `user` do `attributes`: it reads bindings from its watch cache, so a binding
   * just written may not count for a moment.
   */
  async untilAllowed(user: string, groups: string[], attributes: { group?: string; resource: string; verb: string }): Promise<void> {
    const review = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user, groups, resourceAttributes: attributes },
    };
    for (let attempt = 0; ; attempt++) {
      const answer = await this.#must("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review);
      if ((answer.body as { status?: { allowed?: boolean } }).status?.allowed) return;
      if (attempt >= 100) throw new LoadError(`${user} is still not allowed to ${attributes.verb} ${attributes.resource}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Brings the server to `state`; returns what it could not write, one line each (the server's own words). */
  async sync(state: ClusterState): Promise<string[]> {
    const problems: string[] = [];
    const wanted = new Map<string, KubeObject>();
    for (const object of state.objects) wanted.set(keyOf(object), object);
    // Namespaces the objects live in exist first, whether or not the case lists them.
    for (const object of state.objects) {
      const ns = object.metadata.namespace;
      if (ns && !wanted.has(`v1/Namespace//${ns}`))
        wanted.set(`v1/Namespace//${ns}`, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    }
    const goners = [...this.#loaded.entries()].filter(([key]) => !wanted.has(key)).sort(([, a], [, b]) => rank(b.object) - rank(a.object));
    for (const [key, loaded] of goners) {
      await this.#remove(loaded);
      this.#loaded.delete(key);
    }
    const ordered = [...wanted.values()].sort((a, b) => rank(a) - rank(b));
    for (const rankNow of [0, 1, 2, 3]) {
      await Promise.all(
        ordered
          .filter((o) => rank(o) === rankNow)
          .map((o) =>
            this.#put(o).catch((error: unknown) => {
              if (!(error instanceof LoadError)) throw error;
              problems.push(`${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}: ${error.message}`);
            }),
          ),
      );
    }
    return problems;
  }

  async #put(wantedObject: KubeObject): Promise<void> {
    const object = forTheServer(wantedObject);
    const written = JSON.stringify(object);
    const key = keyOf(wantedObject);
    const before = this.#loaded.get(key);
    if (before?.written === written) return;
    const resource = await this.#resource(object);
    const path = this.#objectPath(object, resource);
    const { status, ...spec } = object as KubeObject & { status?: unknown };
    let current: KubeObject;
    if (object.kind === "CertificateSigningRequest") await this.#letRequestersCreateCsrs();
    const created = await this.#must("POST", this.#collectionPath(object, resource), spec, [409], creator(object));
    let original = before?.original;
    if (created.status === 409) {
      // An object that was there before the cases is never deleted and created again.
      const keepIt = before === undefined || original !== undefined;
      const { answer: replaced, existing } = await this.#replace(path, spec, keepIt ? [] : [422]);
      if (before === undefined) original = existing;
      if (replaced.status === 422) {
        // A field that cannot change (a Pod's spec, a Job's template): as a person would, delete and create again.
        await this.#delete(object, path);
        current = (await this.#must("POST", this.#collectionPath(object, resource), spec, [], creator(object))).body as KubeObject;
      } else {
        current = replaced.body as KubeObject;
      }
    } else {
      current = created.body as KubeObject;
    }
    // Recorded before its status is written: a status the server refuses must not make the object look pre-existing.
    this.#loaded.set(key, { object, written: "", resource, ...(original ? { original } : {}) });
    // A CSR's Approved or Denied condition is written only through its approval subresource, as kubectl certificate
    // approve does; its status update keeps those it has.
    const decisions = approvalConditions(object);
    if (decisions.length > 0) {
      await this.#must("PUT", `${path}/approval`, { ...current, status: { conditions: decisions } });
      current = (await this.#must("GET", path)).body as KubeObject;
    }
    // The server's own controllers (API Priority and Fairness, the aggregator) write some statuses too: on a
    // conflict, write over their latest version.
    for (let attempt = 0; status !== undefined && resource.hasStatus; attempt++) {
      const answer = await this.#must("PUT", `${path}/status`, { ...current, status }, attempt < 5 ? [409] : []);
      if (answer.status !== 409) break;
      current = (await this.#must("GET", path)).body as KubeObject;
    }
    this.#loaded.set(key, { object, written, resource, ...(original ? { original } : {}) });
  }

  async #remove(loaded: Loaded): Promise<void> {
    const { object, resource, original } = loaded;
    const path = this.#objectPath(object, resource);
    if (original) {
      const { status: _status, ...spec } = forTheServer(original) as KubeObject & { status?: unknown };
      await this.#replace(path, spec as KubeObject);
      return;
    }
    await this.#delete(object, path);
  }

  /**
   * PUTs `spec` over the object's latest version. The server's own controllers (the aggregator's on an APIService) may
   * write it between the read and the write: on a conflict, read it again.
   */
  async #replace(path: string, spec: KubeObject, accept: number[] = []): Promise<{ answer: ApiAnswer; existing: KubeObject }> {
    for (let attempt = 0; ; attempt++) {
      const existing = (await this.#must("GET", path)).body as KubeObject;
      const body = { ...spec, metadata: { ...spec.metadata, resourceVersion: existing.metadata.resourceVersion } };
      const answer = await this.#must("PUT", path, body, attempt < 5 ? [...accept, 409] : accept);
      if (answer.status !== 409) return { answer, existing };
    }
  }

  /** Nothing here finalizes what a controller would (pods on a node, namespaces): delete at once, then finish it. */
  async #delete(object: KubeObject, path: string): Promise<void> {
    await this.#must("PATCH", path, { metadata: { finalizers: null } }, [404]);
    await this.#must("DELETE", `${path}?gracePeriodSeconds=0&propagationPolicy=Background`, undefined, [404]);
    if (object.kind === "Namespace") {
      const finalize = { apiVersion: "v1", kind: "Namespace", metadata: { name: object.metadata.name }, spec: { finalizers: [] } };
      await this.#must("PUT", `${path}/finalize`, finalize, [404, 409]);
    }
  }
}

/**
 * A CSR's spec.username and groups are its creator's, set by the server: it is created as that user (the admin may
 * impersonate anyone), so a kubelet's request names the kubelet.
 */
function creator(o: KubeObject): Record<string, string | string[]> {
  const spec = (o as { spec?: { username?: string; groups?: string[] } }).spec;
  if (o.kind !== "CertificateSigningRequest" || !spec?.username) return {};
  const groups = (spec.groups ?? []).filter((g) => g !== "system:authenticated");
  return { "Impersonate-User": spec.username, ...(groups.length > 0 ? { "Impersonate-Group": groups } : {}) };
}

function approvalConditions(o: KubeObject): unknown[] {
  if (o.kind !== "CertificateSigningRequest") return [];
  const conditions = (o as { status?: { conditions?: Array<{ type?: string }> } }).status?.conditions ?? [];
  return conditions.filter((c) => c.type === "Approved" || c.type === "Denied");
}

function splitGroupPath(path: string): [string, string] {
  const match = /^(\/apis\/[^/]+\/[^/]+)(\/.+)$/.exec(path);
  if (!match) throw new LoadError(`unexpected resource path ${path}`);
  return [match[1] as string, match[2] as string];
}

/** The object as a client may write it: fields the server owns are left to it. */
function forTheServer(o: KubeObject): KubeObject {
  const {
    creationTimestamp: _c,
    resourceVersion: _r,
    uid: _u,
    generation: _g,
    managedFields: _m,
    selfLink: _s,
    deletionTimestamp: _d,
    ...metadata
  } = o.metadata as KubeObject["metadata"] & Record<string, unknown>;
  const copy = { ...structuredClone(o), metadata: metadata as KubeObject["metadata"] } as KubeObject & Record<string, unknown>;
  if (o.kind === "Node") {
    const status = (copy.status ?? {}) as { addresses?: Array<{ type: string; address: string }>; daemonEndpoints?: unknown };
    status.addresses = [{ type: "InternalIP", address: "127.0.0.1" }, ...(status.addresses ?? []).filter((a) => a.type !== "InternalIP")];
    status.daemonEndpoints = { kubeletEndpoint: { Port: 10250 } };
    copy.status = status;
  }
  if (o.kind === "Service") {
    const spec = (copy.spec ?? {}) as { clusterIP?: string; clusterIPs?: string[] };
    if (spec.clusterIP !== "None") {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
  }
  return copy;
}
