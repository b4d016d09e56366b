// Kubernetes reads: get or list any resource by apiVersion and kind, with namespace, label and field selectors.
// Read-only by construction: this file only calls read() and list().
import type { KubernetesObject } from "@kubernetes/client-node";
import { eventLastSeen } from "./event-times.ts";
import { explainKubernetesError, type KubernetesClient, statusCodeOf } from "./kubernetes-client.ts";
import { type SourceOutput, SourceError } from "./source.ts";

export interface KubernetesRead {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** The most objects to read in all, fetched in pages of at most this size. */
  limit: number;
  sortBy?: string;
}

const PAGE_SIZE = 250;
const DISCOVERY_TTL_MS = 10 * 60_000;

/** "flowcontrol.apiserver.k8s.io" names a group without a version: the API server's preferred version is used. */
export function isBareGroup(apiVersion: string): boolean {
  return !apiVersion.includes("/") && apiVersion.includes(".");
}

/** How messages name the read: "a Pod list in kube-system". */
export function describeKubernetesRead(request: KubernetesRead): string {
  const where = request.namespace ? ` in ${request.namespace}` : "";
  return request.name ? `a ${request.kind} get${where}` : `a ${request.kind} list${where}`;
}

/** The call as a person would write it. */
export function kubernetesRequestLine(request: KubernetesRead): string {
  const group =
    request.apiVersion.includes(".") || request.apiVersion.includes("/") ? `/apis/${request.apiVersion}` : `/api/${request.apiVersion}`;
  const ns = request.namespace ? `/namespaces/${request.namespace}` : "";
  const query = new URLSearchParams();
  if (request.labelSelector) query.set("labelSelector", request.labelSelector);
  if (request.fieldSelector) query.set("fieldSelector", request.fieldSelector);
  if (!request.name) query.set("limit", String(Math.min(request.limit, PAGE_SIZE)));
  const q = query.toString();
  return `GET ${group}${ns}/${resourceName(request.kind)}${request.name ? `/${request.name}` : ""}${q ? `?${decodeURIComponent(q)}` : ""}`;
}

export class KubernetesSource {
  private readonly client: KubernetesClient;
  private preferred: { at: number; versions: Map<string, string> } | undefined;

  constructor(client: KubernetesClient) {
    this.client = client;
  }

  /** Resolves a bare group to group/version by discovery (GET /apis), cached: FlowSchema is v1 from 1.29, v1beta3 before. */
  private async resolveApiVersion(apiVersion: string, signal: AbortSignal): Promise<string> {
    if (!isBareGroup(apiVersion)) return apiVersion;
    if (!this.preferred || Date.now() - this.preferred.at > DISCOVERY_TTL_MS) {
      const list = await this.client.withSignal(signal, () => this.client.apis.getAPIVersions());
      const versions = new Map<string, string>();
      for (const group of list.groups) {
        const version = group.preferredVersion?.groupVersion ?? group.versions[0]?.groupVersion;
        if (version) versions.set(group.name, version);
      }
      this.preferred = { at: Date.now(), versions };
    }
    const resolved = this.preferred.versions.get(apiVersion);
    if (!resolved) throw new SourceError(`the API server does not serve the API group ${apiVersion}`);
    return resolved;
  }

  async read(requested: KubernetesRead, signal: AbortSignal): Promise<SourceOutput> {
    let apiVersion: string;
    try {
      apiVersion = await this.resolveApiVersion(requested.apiVersion, signal);
    } catch (error) {
      if (signal.aborted || error instanceof SourceError) throw error;
      throw explainKubernetesError(error);
    }
    const request = { ...requested, apiVersion };
    const output = await this.readVersion(request, signal);
    // The group/version read (a bare group resolved to the server's preferred one): a remediation that applies a
    // manifest writes the version this cluster serves. Built-in lists leave apiVersion off their items.
    return { ...output, data: { ...output.data, apiVersion: request.apiVersion } };
  }

  private async readVersion(request: KubernetesRead, signal: AbortSignal): Promise<SourceOutput> {
    const requestLine = kubernetesRequestLine(request);
    if (request.name) {
      try {
        const object = await this.client.withSignal(signal, () =>
          this.client.objects.read({
            apiVersion: request.apiVersion,
            kind: request.kind,
            metadata: { name: request.name as string, namespace: request.namespace },
          }),
        );
        const plain = toPlainJson(object);
        return {
          data: { object: plain, items: [plain], count: 1, found: true, name: request.name, namespace: request.namespace ?? "" },
          request: requestLine,
          summary: `${request.kind} ${request.name} found`,
        };
      } catch (error) {
        if (signal.aborted) throw error;
        if (statusCodeOf(error) === 404) {
          return {
            data: { items: [], count: 0, found: false, name: request.name, namespace: request.namespace ?? "" },
            request: requestLine,
            summary: `${request.kind} ${request.name} not found`,
          };
        }
        throw explainKubernetesError(error);
      }
    }
    const items: KubernetesObject[] = [];
    let continueToken: string | undefined;
    let truncated = false;
    try {
      do {
        const pageSize = Math.min(PAGE_SIZE, request.limit - items.length);
        const page = await this.client.withSignal(signal, () =>
          this.client.objects.listPage({
            apiVersion: request.apiVersion,
            kind: request.kind,
            namespace: request.namespace,
            fieldSelector: request.fieldSelector,
            labelSelector: request.labelSelector,
            limit: pageSize,
            continueToken,
          }),
        );
        // Already plain JSON (the raw response): no class instances to flatten.
        items.push(...page.items);
        continueToken = page.metadata?.continue || undefined;
        if (continueToken && items.length >= request.limit) {
          truncated = true;
          break;
        }
      } while (continueToken);
    } catch (error) {
      if (signal.aborted) throw error;
      throw explainKubernetesError(error);
    }
    const noun = `${items.length} ${items.length === 1 ? request.kind : plural(request.kind)}`;
    const summary = truncated ? `${noun} (stopped at the limit of ${request.limit})` : noun;
    if (!request.sortBy) return { data: { items, count: items.length, truncated }, request: requestLine, summary };
    sortDescending(items, request.sortBy, request.kind);
    // The API server lists in key order (namespace/name), not by the sort field: a list cut by its limit is ordered
    // only among the objects read, and the newest (or largest) may be on a page that was never asked for.
    const orderPartial = truncated;
    return {
      data: { items, count: items.length, truncated, orderPartial },
      request: requestLine,
      summary: orderPartial ? `${summary}, ${sortWords(request.sortBy)} among the ${items.length} read of more` : summary,
    };
  }
}

/** client-node hands back class instances with Date fields; conditions, templates and the store want plain JSON. */
function toPlainJson(object: KubernetesObject): KubernetesObject {
  return JSON.parse(JSON.stringify(object)) as KubernetesObject;
}

/** "newest first" for a time field (lastTimestamp, metadata.creationTimestamp, eventTime), else "largest first". */
function sortWords(path: string): string {
  return /time/i.test(path.split(".").pop() ?? "") ? "newest first" : "largest first";
}

function sortDescending(items: KubernetesObject[], path: string, kind: string): void {
  const isTime = sortWords(path) === "newest first";
  // An Event recorded through events.k8s.io has "lastTimestamp": null: it is ordered by when it was last seen.
  const byLastSeen = kind === "Event" && path === "lastTimestamp";
  const sortKey = (item: KubernetesObject): string | number => {
    const value = byLastSeen ? eventLastSeen(item) : fieldAt(item, path);
    // Times compare as instants: "…:00.5Z" (a MicroTime) is later than "…:00Z", though it sorts before it as text.
    if (isTime) {
      const ms = typeof value === "string" ? Date.parse(value) : Number.NaN;
      return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
    }
    return typeof value === "number" ? value : typeof value === "string" ? value : "";
  };
  items.sort((a, b) => {
    const x = sortKey(a);
    const y = sortKey(b);
    return x === y ? 0 : x > y ? -1 : 1;
  });
}

function fieldAt(item: unknown, path: string): unknown {
  let value = item;
  for (const key of path.split(".")) value = value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

function plural(kind: string): string {
  if (kind.endsWith("y")) return `${kind.slice(0, -1)}ies`;
  if (kind.endsWith("s")) return kind;
  return `${kind}s`;
}

/** The usual REST resource name of a kind (Pod → pods, NetworkPolicy → networkpolicies), for display only: reads use discovery. */
function resourceName(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower === "endpoints") return lower;
  if (lower.endsWith("y")) return `${lower.slice(0, -1)}ies`;
  if (lower.endsWith("s")) return `${lower}es`;
  return `${lower}s`;
}
