// One configured @kubernetes/client-node client for every Kubernetes read: our User-Agent on each request, and
// the caller's AbortSignal carried to the request (client-node has no per-call timeout of its own).
import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import {
  ApiException,
  ApisApi,
  CoreV1Api,
  createConfiguration,
  HttpMethod,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  Observable,
  type ObservableMiddleware,
  type ResponseContext,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { reuseKubeDispatchers } from "./kube-dispatchers.ts";
import { SourceError } from "./source.ts";

export interface KubernetesClient {
  objects: PagingObjectApi;
  core: CoreV1Api;
  apis: ApisApi;
  /** Runs `call` with `signal` attached to every request it makes. */
  withSignal<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T>;
  server: string;
}

/** One page of a list as the API server sent it: `metadata.continue` kept (client-node's own list drops it for many kinds). */
export interface RawListPage {
  metadata?: { continue?: string; remainingItemCount?: number; resourceVersion?: string };
  items: KubernetesObject[];
}

export interface ListPageRequest {
  apiVersion: string;
  kind: string;
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  limit: number;
  continueToken?: string;
}

/** Marks a request whose response is handed back as parsed JSON, not deserialized into client-node's model classes. */
const RAW_JSON = "alert-enricher/raw-json";

/**
 * KubernetesObjectApi plus `listPage`, which reads one page of a list the way `list` does (same discovery, auth,
 * middleware: our User-Agent and the caller's AbortSignal) but returns the raw response. client-node 2.0.1's `list`
 * deserializes by the list's kind and, for kinds it has no model for (EventList among them), keeps only
 * KubernetesObject's fields: `metadata.continue` is lost and a caller never asks for the second page (issue #13).
 */
export class PagingObjectApi extends KubernetesObjectApi {
  async listPage(request: ListPageRequest): Promise<RawListPage> {
    const path = await this.specUriPath(
      { apiVersion: request.apiVersion, kind: request.kind, metadata: { namespace: request.namespace } },
      "list",
    );
    const context = this.configuration.baseServer.makeRequestContext(path, HttpMethod.GET);
    context.setHeaderParam("Accept", "application/json");
    if (request.fieldSelector) context.setQueryParam("fieldSelector", request.fieldSelector);
    if (request.labelSelector) context.setQueryParam("labelSelector", request.labelSelector);
    context.setQueryParam("limit", String(request.limit));
    if (request.continueToken) context.setQueryParam("continue", request.continueToken);
    const page = (await this.requestPromise(context, RAW_JSON)) as unknown as RawListPage;
    if (!page || typeof page !== "object" || !Array.isArray(page.items)) {
      // A list with nothing in it may come back with `items: null` from some servers.
      return { metadata: page?.metadata, items: [] };
    }
    return page;
  }

  protected override async processResponse<T extends KubernetesObject>(response: ResponseContext, type?: string): Promise<T> {
    if (type !== RAW_JSON) return super.processResponse<T>(response, type);
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) return JSON.parse(await response.body.text()) as T;
    throw new ApiException(response.httpStatusCode, "Unsuccessful HTTP Request", await response.getBodyAsAny(), response.headers);
  }
}

const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** The kubeconfig file when given (KUBECONFIG); else in-cluster; else ~/.kube/config. Throws with what to set when none is found. */
export function loadKubeConfig(kubeconfigPath: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) {
    const first = kubeconfigPath.split(":").find((p) => p.length > 0) ?? kubeconfigPath;
    if (!existsSync(first)) throw new Error(`KUBECONFIG points at ${first}, which does not exist`);
    kc.loadFromFile(first);
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kc.loadFromCluster();
  } else if (existsSync(join(homedir(), ".kube", "config"))) {
    kc.loadFromFile(join(homedir(), ".kube", "config"));
  } else {
    throw new Error("no Kubernetes configuration found: set KUBECONFIG, or run in a pod with a service account, or create ~/.kube/config");
  }
  if (!kc.getCurrentCluster()) throw new Error("the Kubernetes configuration has no current cluster (check current-context in KUBECONFIG)");
  return kc;
}

export function createKubernetesClient(kc: KubeConfig, userAgent: string): KubernetesClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the Kubernetes configuration has no current cluster");
  reuseKubeDispatchers(kc);
  const signals = new AsyncLocalStorage<AbortSignal>();
  const requestMiddleware: ObservableMiddleware = {
    pre(context) {
      context.setHeaderParam("User-Agent", userAgent);
      const signal = signals.getStore();
      if (signal) context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post(context) {
      return new Observable(Promise.resolve(context));
    },
  };
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    middleware: [requestMiddleware],
  });
  const objects = new PagingObjectApi(configuration);
  return {
    objects,
    core: new CoreV1Api(configuration),
    apis: new ApisApi(configuration),
    withSignal: (signal, call) => signals.run(signal, call),
    server: cluster.server,
  };
}

/** Turns a client-node failure into a sentence: "API server answered 403 Forbidden: pods is forbidden: …". */
export function explainKubernetesError(error: unknown): SourceError {
  if (error instanceof ApiException) {
    const body = parseBody(error.body);
    const reason = body?.reason ? ` ${body.reason}` : "";
    const message = body?.message ? `: ${body.message}` : "";
    const retryAfter = Number(error.headers?.["retry-after"]);
    return new SourceError(`API server answered ${error.code}${reason}${message}`, {
      backendTrouble: error.code === 429 || error.code >= 500,
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return new SourceError(`API server could not be reached: ${message}${cause}`, { backendTrouble: true });
}

export function statusCodeOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

function parseBody(body: unknown): { reason?: string; message?: string } | undefined {
  if (typeof body === "string") {
    try {
      return JSON.parse(body) as { reason?: string; message?: string };
    } catch {
      return { message: body.slice(0, 300) };
    }
  }
  if (body && typeof body === "object") return body as { reason?: string; message?: string };
  return undefined;
}
