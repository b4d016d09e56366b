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
  KubeConfig,
  KubernetesObjectApi,
  Observable,
  type ObservableMiddleware,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { SourceError } from "./source.ts";

export interface KubernetesClient {
  objects: KubernetesObjectApi;
  core: CoreV1Api;
  apis: ApisApi;
  /** Runs `call` with `signal` attached to every request it makes. */
  withSignal<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T>;
  server: string;
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
  const objects = new KubernetesObjectApi(configuration);
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
