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
//   relative to the namespace listed; remainingItemCount only for a list without selectors;
// - query parameters convert as the server converts them, with Go's errors (query-parameters.ts); a log read is
//   checked as the API server checks it (422 with causes, 400, 204 for a pod with no node), then answered as a kubelet
//   answers it (kubelet-logs.ts);
// - /apis lists what it serves and every version an Available APIService it holds announces; a path outside every API
//   gets Go's plain "404 page not found".
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
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withApiDefaults } from "./api-defaults.ts";
import { withGoEncoding } from "./api-encoding.ts";
import { withServerTimestamps } from "./api-timestamps.ts";
import { coreEventToEventsV1, eventsV1ToCoreEvent, isCoreEvent, isEventsV1Event, storedCoreEvent } from "./event-apis.ts";
import { kubeletLog } from "./kubelet-logs.ts";
import { QueryParameterError, queryBool, queryInt64, queryTime } from "./query-parameters.ts";
import { type FieldRequirement, FieldSelectorError, matchesFields, parseFieldSelector, requiredValue } from "./field-selectors.ts";
import { LabelSelectorError, matchesLabels, parseLabelSelector } from "./label-selectors.ts";
import { listenOnLoopback } from "./loopback-server.ts";
import { field, isRecord } from "./json-paths.ts";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; creationTimestamp?: string; [k: string]: unknown };
  [k: string]: unknown;
}

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

/** A SelfSubjectAccessReview's spec.resourceAttributes, as the API defines them ("" for the core group). */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
}

const ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

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

interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Kinds the API server itself defines: their list items carry no apiVersion/kind, unlike custom resources. */
  builtIn: boolean;
}

interface KubeStatus {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, string>;
  status: "Failure";
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

class KubeError extends Error {
  readonly code: number;
  readonly details: Record<string, unknown> | undefined;
  readonly statusMetadata: Record<string, string> | undefined;

  constructor(code: number, message: string, details?: Record<string, unknown>, statusMetadata?: Record<string, string>) {
    super(message);
    this.code = code;
    this.details = details;
    this.statusMetadata = statusMetadata;
  }
}

const REASON_BY_CODE: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

const NOT_FOUND_MESSAGE = "the server could not find the requested resource";

/** A path the API server has no such resource, version or subresource under: a Status with empty details. */
function noSuchResource(): KubeError {
  return new KubeError(404, NOT_FOUND_MESSAGE, {});
}

const CONTINUE_TOO_OLD =
  "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

function builtIn(group: string, version: string, kind: string, plural: string, namespaced: boolean, shortNames?: string[]): ResourceType {
  return shortNames
    ? { group, version, kind, plural, namespaced, shortNames, builtIn: true }
    : { group, version, kind, plural, namespaced, builtIn: true };
}

const BUILT_IN_RESOURCES: ResourceType[] = [
  builtIn("", "v1", "ConfigMap", "configmaps", true, ["cm"]),
  builtIn("", "v1", "Endpoints", "endpoints", true, ["ep"]),
  builtIn("", "v1", "Event", "events", true, ["ev"]),
  builtIn("", "v1", "Namespace", "namespaces", false, ["ns"]),
  builtIn("", "v1", "Node", "nodes", false, ["no"]),
  builtIn("", "v1", "Pod", "pods", true, ["po"]),
  builtIn("", "v1", "ResourceQuota", "resourcequotas", true, ["quota"]),
  builtIn("", "v1", "Secret", "secrets", true),
  builtIn("", "v1", "ServiceAccount", "serviceaccounts", true, ["sa"]),
  builtIn("", "v1", "Service", "services", true, ["svc"]),
  builtIn("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false),
  builtIn("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false),
  builtIn("apiregistration.k8s.io", "v1", "APIService", "apiservices", false),
  builtIn("apps", "v1", "DaemonSet", "daemonsets", true, ["ds"]),
  builtIn("apps", "v1", "Deployment", "deployments", true, ["deploy"]),
  builtIn("apps", "v1", "ReplicaSet", "replicasets", true, ["rs"]),
  builtIn("apps", "v1", "StatefulSet", "statefulsets", true, ["sts"]),
  builtIn("batch", "v1", "CronJob", "cronjobs", true, ["cj"]),
  builtIn("batch", "v1", "Job", "jobs", true),
  builtIn("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false, ["csr"]),
  builtIn("coordination.k8s.io", "v1", "Lease", "leases", true),
  builtIn("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
  builtIn("events.k8s.io", "v1", "Event", "events", true, ["ev"]),
  builtIn("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", false),
  builtIn("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", false),
  builtIn("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, ["netpol"]),
];

function groupVersionOf(type: { group: string; version: string }): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash === -1 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/** A field as text, "" when missing. */
function fieldText(o: unknown, path: string): string {
  const value = field(o, path);
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

/** storage.EncodeContinue: JSON in unpadded URL-safe base64. */
function encodeContinue(rv: number, lastKey: string): string {
  const token: ContinueToken = { v: "meta.k8s.io/v1", rv, start: `${lastKey}\u0000` };
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

/** The key the previous page ended on; like etcd, the token holds the key just after it (key + NUL). */
function lastKeyOf(token: ContinueToken): string {
  return token.start.endsWith("\u0000") ? token.start.slice(0, -1) : token.start;
}

/** Where base64.RawURLEncoding stops reading `text`, if it does: the first byte outside its alphabet, or a lone last one. */
function base64Problem(text: string): number | undefined {
  let count = 0;
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (ch === "\n" || ch === "\r") continue;
    if (!/[A-Za-z0-9_-]/.test(ch)) return i;
    count++;
    last = i;
  }
  return count % 4 === 1 ? last : undefined;
}

/** storage.DecodeContinue, with ValidateListOptions' 400 for a token it cannot read. */
function decodeContinue(text: string): ContinueToken {
  const invalid = (why: string) => new KubeError(400, `invalid continue token: continue key is not valid${why}`);
  const badByte = base64Problem(text);
  if (badByte !== undefined) throw invalid(`: illegal base64 data at input byte ${badByte}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    // The real server quotes Go's JSON syntax error here; the fake says it in its own words.
    throw invalid(": the token is not JSON");
  }
  if (!isRecord(parsed) || typeof parsed.rv !== "number" || typeof parsed.start !== "string") throw invalid("");
  if (parsed.v !== "meta.k8s.io/v1") throw invalid(`: server does not recognize this encoded version ${String(parsed.v)}`);
  if (parsed.rv === 0) throw invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  if (parsed.start === "") throw invalid(": encoded start key empty (version meta.k8s.io/v1)");
  return { v: parsed.v, rv: parsed.rv, start: parsed.start };
}

// ---------------------------------------------------------------------------------------------------------------
// The server.

const KUBECONFIG_TOKEN = "fake-kube-token";

function kubeconfigYaml(url: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: fake",
    "  cluster:",
    `    server: ${url}`,
    "    insecure-skip-tls-verify: true",
    "users:",
    "- name: fake",
    "  user:",
    `    token: ${KUBECONFIG_TOKEN}`,
    "contexts:",
    "- name: fake",
    "  context:",
    "    cluster: fake",
    "    user: fake",
    "    namespace: default",
    "current-context: fake",
    "",
  ].join("\n");
}

function statusBody(error: KubeError): KubeStatus {
  const reason = REASON_BY_CODE[error.code] ?? (error.code >= 500 ? "InternalError" : "BadRequest");
  const body: KubeStatus = {
    kind: "Status",
    apiVersion: "v1",
    metadata: error.statusMetadata ?? {},
    status: "Failure",
    message: error.message,
    reason,
    code: error.code,
  };
  if (error.details) body.details = error.details;
  return body;
}

/** What a request failed with, as the API server would answer it. */
function knownError(error: unknown): KubeError {
  if (error instanceof KubeError) return error;
  if (error instanceof QueryParameterError || error instanceof LabelSelectorError) return new KubeError(400, error.message);
  return new KubeError(500, error instanceof Error ? error.message : String(error));
}

interface Reply {
  status: number;
  /** "" sends no Content-Type header. */
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

/** http.NotFound's page, for a path outside every API. */
const PAGE_NOT_FOUND: Reply = { status: 404, contentType: "text/plain; charset=utf-8", body: "404 page not found\n" };

function json(body: unknown, status = 200): Reply {
  return { status, contentType: "application/json", body: JSON.stringify(body) };
}

function failure(error: KubeError): Reply {
  const reply = json(statusBody(error), error.code);
  if (error.code === 429) reply.headers = { "Retry-After": "1" };
  return reply;
}

function isEventKind(type: ResourceType): boolean {
  return type.kind === "Event" && (groupVersionOf(type) === "v1" || groupVersionOf(type) === "events.k8s.io/v1");
}

function isBuiltInObject(o: KubeObject): boolean {
  const { group } = splitApiVersion(o.apiVersion);
  return BUILT_IN_RESOURCES.some((t) => t.group === group && t.kind === o.kind);
}

/**
 * What the server would hold had the object been created through it: defaults filled in, written back as Go writes
 * the stored struct, times in its precision.
 */
function storedForm(o: KubeObject): KubeObject {
  if (isEventsV1Event(o)) return withServerTimestamps(eventsV1ToCoreEvent(o), true);
  if (isCoreEvent(o)) return withServerTimestamps(storedCoreEvent(o), true);
  const builtIn = isBuiltInObject(o);
  return withServerTimestamps(builtIn ? withGoEncoding(withApiDefaults(o)) : o, builtIn);
}

function fieldSelectorOf(selector: string, type: ResourceType): FieldRequirement[] {
  try {
    return parseFieldSelector(selector, type);
  } catch (error) {
    if (error instanceof FieldSelectorError) throw new KubeError(400, error.message);
    throw error;
  }
}

function objectKey(o: KubeObject, type: ResourceType): string {
  return type.namespaced ? `${o.metadata.namespace ?? ""}/${o.metadata.name}` : o.metadata.name;
}

function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
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

  function discoveryResources(groupVersion: string): Reply {
    const types = typesIn(groupVersion);
    if (types.length === 0) throw noSuchResource();
    const resources: Array<Record<string, unknown>> = [];
    for (const t of types) {
      const entry: Record<string, unknown> = {
        name: t.plural,
        singularName: t.kind.toLowerCase(),
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: ["get", "list", "watch"],
      };
      if (t.shortNames) entry.shortNames = t.shortNames;
      resources.push(entry);
      // Subresources come after their resource, as on a real server, so a lookup by kind finds the resource first.
      if (groupVersion === "v1" && t.kind === "Pod") {
        resources.push({ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
      }
    }
    // The core group's list comes without an apiVersion; every other group's has one.
    return json(
      groupVersion === "v1"
        ? { kind: "APIResourceList", groupVersion, resources }
        : { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources },
    );
  }

  /**
   * The versions /apis lists for each group: those served here, then those an Available APIService held announces
   * (the aggregator lists every Available APIService, whether or not anything serves it), highest priority first.
   */
  function versionsByGroup(): Map<string, string[]> {
    const versions = new Map<string, string[]>();
    const add = (group: string, version: string) => {
      const list = versions.get(group) ?? [];
      if (!list.includes(version)) list.push(version);
      versions.set(group, list);
    };
    for (const t of resourceTypes()) if (t.group !== "") add(t.group, t.version);
    const announced = held
      .filter((o) => o.kind === "APIService" && splitApiVersion(o.apiVersion).group === "apiregistration.k8s.io")
      .filter((o) =>
        (field(o, "status.conditions") as unknown[] | undefined)?.some(
          (c) => fieldText(c, "type") === "Available" && fieldText(c, "status") === "True",
        ),
      )
      .map((o) => ({
        group: fieldText(o, "spec.group"),
        version: fieldText(o, "spec.version"),
        priority: Number(field(o, "spec.versionPriority") ?? 0),
      }))
      .filter((a) => a.group !== "" && a.version !== "")
      .sort((a, b) => b.priority - a.priority);
    for (const a of announced) add(a.group, a.version);
    return versions;
  }

  function groupList(): Reply {
    const groups = [...versionsByGroup().entries()].map(([name, versions]) => groupBody(name, versions));
    return json({ kind: "APIGroupList", apiVersion: "v1", groups });
  }

  function groupBody(name: string, versions: string[]): Record<string, unknown> {
    const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
    return { name, versions: entries, preferredVersion: entries[0] };
  }

  function list(type: ResourceType, pathNamespace: string | undefined, query: Record<string, string>): Reply {
    const labelRequirements = parseLabelSelector(query.labelSelector ?? "");
    const fieldRequirements = fieldSelectorOf(query.fieldSelector ?? "", type);
    const requestedLimit = queryInt64(query.limit) ?? 0;
    const continuing = query.continue !== undefined && query.continue !== "";
    // Store.ListPredicate: a list of every namespace narrowed by `metadata.namespace=X` is a list of namespace X, and
    // `metadata.name=Y` in one namespace (or of a cluster-scoped kind) is a read of that one key, which the limit does
    // not cut and which returns no continue token. Neither applies to a continued list.
    const selectedNamespace = continuing ? undefined : requiredValue(fieldRequirements, "metadata.namespace");
    const namespace = pathNamespace ?? (type.namespaced ? selectedNamespace : undefined);
    const singleKey =
      !continuing && (namespace !== undefined || !type.namespaced) && requiredValue(fieldRequirements, "metadata.name") !== undefined;
    // A list at resourceVersion=0 is served whole from the watch cache, whatever the limit (computeListLimit).
    const limit = singleKey || (query.resourceVersion === "0" && !continuing) ? 0 : requestedLimit;
    let startAfter: string | undefined;
    if (continuing) {
      const token = decodeContinue(query.continue ?? "");
      if (query.resourceVersion !== undefined && query.resourceVersion !== "" && query.resourceVersion !== "0") {
        throw new KubeError(400, "specifying resource version is not allowed when using continue");
      }
      if (token.rv !== resourceVersion()) {
        // setState stands for a compaction: the snapshot the token points into is gone.
        throw new KubeError(410, CONTINUE_TOO_OLD, undefined, {
          continue: encodeContinue(resourceVersion(), lastKeyOf(token)),
        });
      }
      startAfter = lastKeyOf(token);
    }

    // Keys relative to the prefix listed, as a token holds them: a name within one namespace, else namespace/name. A
    // token from a list narrowed to a namespace by its selector, continued without that narrowing, thus starts after
    // "name" among "namespace/name" keys, as on the real server (where it finds little or nothing).
    const keyOf = (o: KubeObject): string => (namespace !== undefined ? o.metadata.name : objectKey(o, type));
    const candidates = storedObjects(type)
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) => compareKeys(keyOf(a), keyOf(b)))
      .filter((o) => startAfter === undefined || compareKeys(keyOf(o), startAfter) > 0);

    const items: KubeObject[] = [];
    let lastKey: string | undefined;
    let scanned = 0;
    for (const o of candidates) {
      if (limit > 0 && items.length >= limit) break;
      scanned++;
      lastKey = keyOf(o);
      if (matchesLabels(o.metadata.labels ?? {}, labelRequirements) && matchesFields(o, fieldRequirements, type)) items.push(o);
    }
    // A continue token only when the page was cut with objects left after it (PrepareContinueToken's hasMoreItems);
    // remainingItemCount only when nothing was filtered, since the server cannot count what a selector would keep.
    const remaining = candidates.length - scanned;
    const metadata: Record<string, unknown> = { resourceVersion: String(resourceVersion()) };
    if (limit > 0 && remaining > 0 && lastKey !== undefined) {
      metadata.continue = encodeContinue(resourceVersion(), lastKey);
      if (labelRequirements.length === 0 && fieldRequirements.length === 0) metadata.remainingItemCount = remaining;
    }
    // The server leaves apiVersion/kind off the items of built-in lists; only custom resources carry them.
    const served = items.map((o) => {
      const view = servedAs(o, type);
      if (!type.builtIn) return view;
      const { apiVersion: _apiVersion, kind: _kind, ...rest } = view;
      return rest;
    });
    return json({ kind: `${type.kind}List`, apiVersion: groupVersionOf(type), metadata, items: served });
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
    const container = query.container ?? "";
    // Converted in the order of PodLogOptions' fields: the first that does not convert is the one named.
    const previous = queryBool(query.previous);
    const sinceSeconds = queryInt64(query.sinceSeconds);
    const sinceTimeGiven = query.sinceTime !== undefined;
    const sinceTime = sinceTimeGiven ? queryTime(query.sinceTime ?? "") : undefined;
    const timestamps = queryBool(query.timestamps);
    const tailLines = queryInt64(query.tailLines);
    const limitBytes = queryInt64(query.limitBytes);
    if (queryBool(query.follow)) throw new KubeError(400, "the fake API server does not stream logs (follow=true)");

    // ValidatePodLogOptions: its failures come back as 422 Invalid, each also a cause.
    const causes: Array<{ reason: string; message: string; field: string }> = [];
    const invalid = (field: string, value: number, why: string) =>
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${value}: ${why}`, field });
    if (tailLines !== undefined && tailLines < 0) invalid("tailLines", tailLines, "must be greater than or equal to 0");
    if (limitBytes !== undefined && limitBytes < 1) invalid("limitBytes", limitBytes, "must be greater than 0");
    if (sinceSeconds !== undefined && sinceTimeGiven) {
      // field.NewPath("") prints as "[]".
      causes.push({
        reason: "FieldValueForbidden",
        message: "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
        field: "[]",
      });
    } else if (sinceSeconds !== undefined && sinceSeconds < 1) {
      invalid("sinceSeconds", sinceSeconds, "must be greater than 0");
    }
    if (causes.length > 0) {
      const problems = causes.map((c) => `${c.field}: ${c.message}`);
      const joined = problems.length === 1 ? problems[0] : `[${problems.join(", ")}]`;
      throw new KubeError(422, `PodLogOptions "${podName}" is invalid: ${joined}`, { name: podName, kind: "PodLogOptions", causes });
    }

    const podType = BUILT_IN_RESOURCES.find((t) => t.group === "" && t.kind === "Pod");
    if (!podType) throw new KubeError(500, "pod resource missing");
    const pod = stored(podType, namespace, podName);
    const containerName = validateContainer(pod, container);
    // No node, no kubelet to ask: the real server's LogLocation has no location and answers 204, empty, with no
    // Content-Type (measured on a v1.24 kube-apiserver), whatever the container's state.
    if (fieldText(pod, "spec.nodeName") === "") return { status: 204, contentType: "", body: "" };
    const cutoff = sinceTime ?? (sinceSeconds !== undefined ? new Date(now().getTime() - sinceSeconds * 1000) : undefined);
    const answer = kubeletLog(state.logs ?? {}, pod, containerName, { previous, timestamps, tailLines, limitBytes, since: cutoff });
    if (answer.status === 400) throw new KubeError(400, answer.message);
    return { status: 200, contentType: "text/plain", body: answer.body };
  }

  function containerNames(pod: KubeObject, list: "initContainers" | "containers" | "ephemeralContainers"): string[] {
    const containers = field(pod, `spec.${list}`);
    return Array.isArray(containers) ? containers.map((c) => fieldText(c, "name")) : [];
  }

  function validateContainer(pod: KubeObject, container: string): string {
    const regular = containerNames(pod, "containers");
    const all = [...containerNames(pod, "initContainers"), ...regular, ...containerNames(pod, "ephemeralContainers")];
    if (container === "") {
      if (regular.length === 1 && regular[0] !== undefined) return regular[0];
      if (regular.length === 0) throw new KubeError(400, `pod ${pod.metadata.name} does not have a container`);
      throw new KubeError(400, `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${all.join(" ")}]`);
    }
    if (!all.includes(container)) throw new KubeError(400, `container ${container} is not valid for pod ${pod.metadata.name}`);
    return container;
  }

  function serveResources(groupVersion: string, rest: string[], query: Record<string, string>): Reply {
    if (rest.length === 0) return discoveryResources(groupVersion);
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
      if (second === undefined) return groupList();
      const versions = versionsByGroup().get(second);
      // A group nobody serves is not the API's to answer: Go's plain 404 page.
      if (versions === undefined) return PAGE_NOT_FOUND;
      if (third === undefined) return json({ kind: "APIGroup", apiVersion: "v1", ...groupBody(second, versions) });
      return serveResources(`${second}/${third}`, rest, query);
    }
    return PAGE_NOT_FOUND;
  }

  /**
   * A SelfSubjectAccessReview: the spec echoed, the decision in status, 201 as for any create (nothing is stored). A
   * spec with no resourceAttributes is refused with 422 as the real validation refuses it.
   */
  function accessReview(body: string): Reply {
    let review: { spec?: { resourceAttributes?: Partial<ResourceAttributes>; nonResourceAttributes?: unknown } };
    try {
      review = JSON.parse(body) as typeof review;
    } catch (error) {
      throw new KubeError(400, `the body of the request was in an unknown format: ${(error as Error).message}`);
    }
    const attributes = review.spec?.resourceAttributes;
    if (attributes === undefined) {
      if (review.spec?.nonResourceAttributes !== undefined) return reviewAnswer(review.spec, true);
      throw new KubeError(
        422,
        'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
        {
          group: "authorization.k8s.io",
          kind: "SelfSubjectAccessReview",
        },
      );
    }
    const asked: ResourceAttributes = {
      verb: attributes.verb ?? "",
      group: attributes.group ?? "",
      resource: attributes.resource ?? "",
      ...(attributes.subresource ? { subresource: attributes.subresource } : {}),
      ...(attributes.name ? { name: attributes.name } : {}),
      ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
    };
    // Echoed as Go writes it back: empty strings (the core group "") are left out.
    const echoed = Object.fromEntries(Object.entries(asked).filter(([, value]) => value !== ""));
    return reviewAnswer({ resourceAttributes: echoed }, options.access?.(asked) ?? true);
  }

  function reviewAnswer(spec: unknown, allowed: boolean): Reply {
    return json({ kind: "SelfSubjectAccessReview", apiVersion: "authorization.k8s.io/v1", metadata: {}, spec, status: { allowed } }, 201);
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
        reply = accessReview(body);
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
  const directory = await mkdtemp(join(tmpdir(), "fake-kube-api-"));
  const kubeconfigPath = join(directory, "kubeconfig.yaml");
  await writeFile(kubeconfigPath, kubeconfigYaml(url));

  return {
    url,
    requests,
    kubeconfigPath,
    setState(next: ClusterState): void {
      held = next.objects.map(storedForm);
      state = next;
      stateVersion++;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
