// In-process stand-in for a kube-apiserver (as of v1.36): discovery, get and list with label and field selectors and
// paging, pod logs, and refusal of every write. Where a playbook can tell the difference it answers as the real server
// (test/real-api-server/conformance.test.ts holds it to one, request by request):
// - selectors: each kind takes exactly the field labels the real server's conversions take (field-selectors.ts); label
//   selectors parse and fail as the real parser does (label-selectors.ts); both refused with the same 400 and message;
// - an object reads back as if created through the server: API defaults filled in (api-defaults.ts), written back as
//   Go writes the stored struct (api-encoding.ts), times in the server's precision (api-timestamps.ts), both Event APIs
//   served from one core/v1 storage (event-apis.ts);
// - lists come in key order (namespace/name); a continue token comes back only when a page was cut with objects left
//   after it, never for a single-key read (metadata.name in one namespace) and never past the end, and holds the key
//   relative to the namespace listed; remainingItemCount only for a list without selectors (list-pages.ts,
//   continue-tokens.ts);
// - query parameters convert as the server converts them, with Go's errors (query-parameters.ts); a log read is
//   checked as the API server checks it (422 with causes, 400, 204 for a pod with no node; pod-log-requests.ts), then
//   answered as a kubelet answers it (kubelet-logs.ts);
// - /apis lists what it serves and every version an Available APIService it holds announces (discovery.ts); a path
//   outside every API gets Go's plain "404 page not found"; errors are Status bodies as the server writes them
//   (api-errors.ts).
// This file holds the server's state and routes its requests; each concern above is a module of its own.
//
// What it does NOT emulate:
// | A real kube-apiserver                                         | This fake                                         |
// |---------------------------------------------------------------|---------------------------------------------------|
// | resourceVersion per object and per list; resourceVersion and  | one resourceVersion per state; both parameters    |
// | resourceVersionMatch select a snapshot; tokens expire on      | ignored (but resourceVersion=0 lifts the limit, as |
// | compaction                                                    | the watch cache does); a token expires on setState |
// | watch, watch lists, bookmarks                                 | 400: the service never watches                    |
// | writes: create, update, patch, delete, server-side apply      | 405 for every method but GET and the review       |
// |                                                               | below; no managedFields                           |
// | SelfSubjectAccessReview answered by the authorizer (RBAC),    | answered by the `access` option, allowed when     |
// | with RBAC's reason; SelfSubjectRulesReview, other reviews     | none; no reason; other reviews 405                |
// | the server sets uid, resourceVersion, generation and          | kept as the fixture gives them (base-cluster.ts   |
// | creationTimestamp (whole seconds, now) on create              | fills in uid and a creationTimestamp)             |
// | registry strategies on create: Pod status reset to Pending    | not run: status and everything else stay as given |
// | with qosClass, Namespace spec.finalizers, Job selector and    |                                                   |
// | controller-uid labels, Service clusterIP and ipFamilies, a    |                                                   |
// | CertificateSigningRequest's requester (username, uid, groups) |                                                   |
// | and the times of an approval it leaves unset                  |                                                   |
// | admission plugins: ServiceAccount (serviceAccountName,        | not run: an object holds what it is given plus    |
// | token volume), Priority, DefaultTolerationSeconds,            | its API defaults                                  |
// | TaintNodesByCondition (a new Node's not-ready taint),         |                                                   |
// | LimitRanger, PodSecurity, admission webhooks                  |                                                   |
// | validation refuses a bad object (an eventTime without six     | times are normalised; only a value that is no     |
// | fractional digits, a missing container image, ...)            | RFC 3339 time is refused (start/setState throws)  |
// | Go's encoding of every field of every type (api-encoding.ts   | the fields of the kinds playbooks read            |
// | covers the empty, zero and unset fields fixtures write)       |                                                   |
// | controllers: garbage collection, Event TTL, endpoints, the    | none: objects stay exactly as given; an APIService |
// | aggregator's availability controller rewriting an APIService's| keeps the Available condition it is given, and    |
// | Available condition within a second, API Priority and         | /apis follows it                                  |
// | Fairness' Dangling condition, the server's own Lease and      |                                                   |
// | extension-apiserver-authentication ConfigMap                  |                                                   |
// | authentication, RBAC (401, 403), API Priority and Fairness    | the token is not checked; 429 and other failures  |
// | (429), audit logging                                          | only through the failWith option                  |
// | protobuf, CBOR, Table (kubectl get) and gzip responses        | JSON only                                         |
// | aggregated discovery (/apis v2), OpenAPI                      | legacy discovery (/api, /apis, /apis/g/v) only    |
// | every built-in kind, each resource's verbs, categories and    | the kinds playbooks read, with get/list/watch; a  |
// | storageVersionHash; aggregated APIs (503 while unavailable)   | group only an APIService announces serves 404     |
// | field selectors a CRD declares in selectableFields            | custom resources take metadata.name/namespace only|
// | a continue token that is base64 but no JSON: Go's JSON error  | the same 400, in its own words                    |
// | streamed logs (follow=true)                                   | 400                                               |
import type { IncomingMessage, ServerResponse } from "node:http";
import { ACCESS_REVIEW_PATH, answerAccessReview, type ResourceAttributes } from "./access-review.ts";
import { KubeError, knownError, noSuchResource } from "./api-errors.ts";
import { groupBody, groupList, resourceList, versionsByGroup } from "./discovery.ts";
import { coreEventToEventsV1, isCoreEvent } from "./event-apis.ts";
import { fieldText } from "./json-paths.ts";
import type { KubeObject } from "./kube-object.ts";
import { kubeletLog } from "./kubelet-logs.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { listPage } from "./list-pages.ts";
import { listenOnLoopback } from "./loopback-server.ts";
import { logContainer, podLogRequest } from "./pod-log-requests.ts";
import { queryBool } from "./query-parameters.ts";
import { failure, json, PAGE_NOT_FOUND, type Reply } from "./replies.ts";
import { BUILT_IN_RESOURCES, groupVersionOf, isEventKind, pluralOf, type ResourceType, splitApiVersion } from "./resource-types.ts";
import { storedForm } from "./stored-form.ts";

export interface ClusterState {
  objects: KubeObject[];
  /**
   * Container logs keyed "namespace/pod/container" (or "namespace/pod" for any container of the pod);
   * "namespace/pod/container/previous" is the log of the previous, terminated instance.
   * A line may start with an RFC3339 timestamp and one space: that is the time the kubelet recorded,
   * used by sinceSeconds/sinceTime and shown only with timestamps=true.
   */
  logs?: Record<string, string>;
}

export interface FakeKubeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface FakeKubeOptions {
  /** Added before every response. */
  latencyMs?: number;
  /** Requests this returns true for are never answered; the socket stays open until close(). */
  hang?: (req: FakeKubeRequest) => boolean;
  /** Answer a request with this error Status instead of serving it. */
  failWith?: (req: FakeKubeRequest) => { status: number; message: string } | undefined;
  /** The clock used by sinceSeconds; defaults to the real time. */
  now?: () => Date;
  /**
   * The versions a built-in group is served in, preferred first, instead of its built-in one: e.g.
   * `{ "flowcontrol.apiserver.k8s.io": ["v1beta3"] }` for a server before 1.29. The group's objects may be held in
   * any version and are served in the one asked for, as the real server converts them.
   */
  groupVersions?: Record<string, string[]>;
  /**
   * The authorizer's answer to a SelfSubjectAccessReview (POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews):
   * whether the caller may do what the attributes name. Everything is allowed without it.
   */
  access?: (attributes: ResourceAttributes) => boolean;
}

export interface RecordedKubeRequest extends FakeKubeRequest {
  userAgent?: string;
}

export interface FakeKubeApi {
  url: string;
  requests: RecordedKubeRequest[];
  /** A kubeconfig pointing at url (plain http, insecure-skip-tls-verify, token user); removed by close(). */
  kubeconfigPath: string;
  /**
   * Replaces every object and log, as if created through the server (defaults, times in its precision); throws for an
   * object no API server could hold (a time field that is no RFC 3339 time), keeping the state it had.
   */
  setState(state: ClusterState): void;
  close(): Promise<void>;
}

export async function startFakeKubeApi(initialState: ClusterState, options: FakeKubeOptions = {}): Promise<FakeKubeApi> {
  let state = initialState;
  let stateVersion = 1;
  /** The state's objects as the server would hold them had they been created through it; throws for one it would refuse. */
  let held = initialState.objects.map(storedForm);
  const requests: RecordedKubeRequest[] = [];
  const now = options.now ?? (() => new Date());
  let closed = false;

  const resourceVersion = (): number => 10_000 + stateVersion;

  let knownTypes: { version: number; types: ResourceType[] } | undefined;

  /** The built-in kinds and those of the objects held, worked out once per state. */
  function resourceTypes(): ResourceType[] {
    if (knownTypes?.version !== stateVersion) knownTypes = { version: stateVersion, types: discoverTypes() };
    return knownTypes.types;
  }

  function discoverTypes(): ResourceType[] {
    const served = options.groupVersions ?? {};
    const types = BUILT_IN_RESOURCES.flatMap((t) => (served[t.group] ?? [t.version]).map((version) => ({ ...t, version })));
    for (const o of state.objects) {
      const { group, version } = splitApiVersion(o.apiVersion);
      if (served[group]) continue;
      if (types.some((t) => t.group === group && t.version === version && t.kind === o.kind)) continue;
      types.push({
        group,
        version,
        kind: o.kind,
        plural: pluralOf(o.kind),
        namespaced: o.metadata.namespace !== undefined,
        builtIn: false,
      });
    }
    return types;
  }

  function typesIn(groupVersion: string): ResourceType[] {
    return resourceTypes().filter((t) => groupVersionOf(t) === groupVersion);
  }

  function storedObjects(type: ResourceType): KubeObject[] {
    const gv = groupVersionOf(type);
    // Both Event APIs serve the same core/v1 storage.
    if (isEventKind(type)) return held.filter(isCoreEvent);
    if (type.builtIn && options.groupVersions?.[type.group]) {
      return held.filter((o) => o.kind === type.kind && splitApiVersion(o.apiVersion).group === type.group);
    }
    return held.filter((o) => o.apiVersion === gv && o.kind === type.kind);
  }

  /** A stored object in the version the request asked for. */
  function servedAs(o: KubeObject, type: ResourceType): KubeObject {
    const gv = groupVersionOf(type);
    if (isEventKind(type) && gv === "events.k8s.io/v1") return coreEventToEventsV1(o);
    return o.apiVersion === gv ? o : { ...o, apiVersion: gv };
  }

  function notFound(type: ResourceType, name: string): KubeError {
    const resource = type.group === "" ? type.plural : `${type.plural}.${type.group}`;
    const details: Record<string, string> =
      type.group === "" ? { name, kind: type.plural } : { name, group: type.group, kind: type.plural };
    return new KubeError(404, `${resource} "${name}" not found`, details);
  }

  function list(type: ResourceType, pathNamespace: string | undefined, query: Record<string, string>): Reply {
    const objects = storedObjects(type);
    return listPage({ type, pathNamespace, query, objects, resourceVersion: resourceVersion(), servedAs: (o) => servedAs(o, type) });
  }

  /** The stored object, as held (a core Event for either Event API). */
  function stored(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = storedObjects(type).find((o) => o.metadata.name === name && (!type.namespaced || o.metadata.namespace === namespace));
    if (!found) throw notFound(type, name);
    return found;
  }

  function get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    return servedAs(stored(type, namespace, name), type);
  }

  function podLog(namespace: string, podName: string, query: Record<string, string>): Reply {
    const request = podLogRequest(podName, query);
    const podType = BUILT_IN_RESOURCES.find((t) => t.group === "" && t.kind === "Pod");
    if (!podType) throw new KubeError(500, "pod resource missing");
    const pod = stored(podType, namespace, podName);
    const containerName = logContainer(pod, request.container);
    // No node, no kubelet to ask: the real server's LogLocation has no location and answers 204, empty, with no
    // Content-Type (measured on a v1.24 kube-apiserver), whatever the container's state.
    if (fieldText(pod, "spec.nodeName") === "") return { status: 204, contentType: "", body: "" };
    const { previous, timestamps, tailLines, limitBytes, sinceSeconds, sinceTime } = request;
    const cutoff = sinceTime ?? (sinceSeconds !== undefined ? new Date(now().getTime() - sinceSeconds * 1000) : undefined);
    const answer = kubeletLog(state.logs ?? {}, pod, containerName, { previous, timestamps, tailLines, limitBytes, since: cutoff });
    if (answer.status === 400) throw new KubeError(400, answer.message);
    return { status: 200, contentType: "text/plain", body: answer.body };
  }

  function serveResources(groupVersion: string, rest: string[], query: Record<string, string>): Reply {
    if (rest.length === 0) return resourceList(groupVersion, typesIn(groupVersion));
    const types = typesIn(groupVersion);
    if (types.length === 0) throw noSuchResource();
    if (rest[0] === "watch" || queryBool(query.watch)) {
      throw new KubeError(400, "the fake API server does not serve watches: the service must never watch");
    }
    const byPlural = (plural: string | undefined): ResourceType => {
      const type = types.find((t) => t.plural === plural);
      if (!type) throw noSuchResource();
      return type;
    };
    const [first, second, third, fourth, fifth] = rest;
    if (first === "namespaces" && second !== undefined && third !== undefined) {
      const type = byPlural(third);
      if (!type.namespaced) throw noSuchResource();
      if (rest.length === 3) return list(type, second, query);
      if (fourth !== undefined && rest.length === 4) return json(get(type, second, fourth));
      const isPodLog = groupVersion === "v1" && type.kind === "Pod" && fifth === "log";
      if (fourth !== undefined && rest.length === 5 && isPodLog) return podLog(second, fourth, query);
      throw noSuchResource();
    }
    const type = byPlural(first);
    if (rest.length === 1) return list(type, undefined, query);
    if (rest.length === 2 && second !== undefined && !type.namespaced) return json(get(type, undefined, second));
    throw noSuchResource();
  }

  function route(segments: string[], query: Record<string, string>): Reply {
    const [root, second, third, ...rest] = segments;
    if (root === undefined) return json({ paths: ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"] });
    if (segments.length === 1 && (root === "healthz" || root === "livez" || root === "readyz")) {
      return { status: 200, contentType: "text/plain", body: "ok" };
    }
    if (segments.length === 1 && root === "version") {
      return json({ major: "1", minor: "36", gitVersion: "v1.36.3", platform: "linux/amd64", goVersion: "go1.26.0", compiler: "gc" });
    }
    if (root === "api") {
      if (second === undefined) {
        const serverAddress = new URL(url).host;
        return json({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] });
      }
      if (second !== "v1") throw noSuchResource();
      return serveResources("v1", segments.slice(2), query);
    }
    if (root === "apis") {
      if (second === undefined) return groupList(versionsByGroup(resourceTypes(), held));
      const versions = versionsByGroup(resourceTypes(), held).get(second);
      // A group nobody serves is not the API's to answer: Go's plain 404 page.
      if (versions === undefined) return PAGE_NOT_FOUND;
      if (third === undefined) return json({ kind: "APIGroup", apiVersion: "v1", ...groupBody(second, versions) });
      return serveResources(`${second}/${third}`, rest, query);
    }
    return PAGE_NOT_FOUND;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const method = req.method ?? "GET";
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const recorded: RecordedKubeRequest = { method, path: url.pathname, query };
    const userAgent = req.headers["user-agent"];
    if (userAgent !== undefined) recorded.userAgent = userAgent;
    requests.push(recorded);
    const isAccessReview = method === "POST" && url.pathname === ACCESS_REVIEW_PATH;
    let body = "";
    if (isAccessReview) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks).toString("utf8");
    } else {
      req.resume();
    }

    const info: FakeKubeRequest = { method, path: url.pathname, query };
    if (options.hang?.(info)) {
      server.hold(res);
      return;
    }
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    if (closed || res.destroyed) return;

    let reply: Reply;
    try {
      const injected = options.failWith?.(info);
      if (injected) throw new KubeError(injected.status, injected.message);
      if (isAccessReview) {
        reply = answerAccessReview(body, options.access);
      } else {
        if (method !== "GET") throw new KubeError(405, "the server does not allow this method on the requested resource");
        let segments: string[];
        try {
          segments = url.pathname
            .split("/")
            .filter((s) => s !== "")
            .map((s) => decodeURIComponent(s));
        } catch {
          throw new KubeError(400, `malformed path: ${url.pathname}`);
        }
        reply = route(segments, query);
      }
    } catch (error) {
      reply = failure(knownError(error));
    }
    res.writeHead(reply.status, { ...(reply.contentType ? { "Content-Type": reply.contentType } : {}), ...reply.headers });
    res.end(reply.body);
  }

  const server = await listenOnLoopback(handle);
  const { url } = server;
  const kubeconfig = await writeKubeconfig(url);

  return {
    url,
    requests,
    kubeconfigPath: kubeconfig.path,
    setState(next: ClusterState): void {
      held = next.objects.map(storedForm);
      state = next;
      stateVersion++;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await server.close();
      await kubeconfig.remove();
    },
  };
}
