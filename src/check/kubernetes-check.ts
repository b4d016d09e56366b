// Asks the API server, as the configured identity, whether it may do every get and list the playbooks need.
//
// A SelfSubjectAccessReview is a POST (a "create") to authorization.k8s.io/v1, but it changes nothing: the API server
// answers it from its authorizer and stores nothing (a virtual resource, like TokenReview). It is the standard
// read-only permission check (`kubectl auth can-i`), and every authenticated identity may ask it: the built-in
// system:basic-user ClusterRole grants it to system:authenticated, so the shipped ClusterRole needs no rule for it.
// It is the one non-GET the service sends (test/read-only.test.ts allows exactly this one).
import {
  ApiException,
  AuthorizationV1Api,
  createConfiguration,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
  ServerConfiguration,
  type V1ResourceAttributes,
} from "@kubernetes/client-node";
import { explainKubernetesError } from "../sources/kubernetes-client.ts";
import { type CheckLine, listSome } from "./check-line.ts";
import { ANY_NAME, type Need, permissionKey } from "./needed-permissions.ts";

export interface KubernetesCheckOptions {
  /** "kubernetes" or "kubernetes (prod-eu)". */
  label: string;
  userAgent: string;
  timeoutMs: number;
  /** Where the identity is configured, for the fix: "KUBECONFIG", "CLUSTERS_FILE cluster \"prod-eu\"". */
  configuredBy: string;
}

interface Review {
  allowed: boolean;
  reason?: string;
}

type AskAccess = (attributes: V1ResourceAttributes) => Promise<Review>;

function reviewer(kc: KubeConfig, options: KubernetesCheckOptions): AskAccess {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the Kubernetes configuration has no current cluster");
  return async (resourceAttributes) => {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const middleware: ObservableMiddleware = {
      pre(context) {
        context.setHeaderParam("User-Agent", options.userAgent);
        context.setSignal(signal);
        return new Observable(Promise.resolve(context));
      },
      post: (context) => new Observable(Promise.resolve(context)),
    };
    const api = new AuthorizationV1Api(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: kc },
        middleware: [middleware],
      }),
    );
    const answer = await api.createSelfSubjectAccessReview({
      body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes } },
    });
    return { allowed: answer.status?.allowed === true, ...(answer.status?.reason ? { reason: answer.status.reason } : {}) };
  };
}

/** A need as the review's attributes: "pods/log" is resource pods, subresource log; "*" is every name. */
function attributesOf(need: Need): V1ResourceAttributes {
  const [resource, subresource] = need.resource.split("/");
  return {
    verb: need.verb,
    group: need.group,
    resource,
    ...(subresource !== undefined ? { subresource } : {}),
    ...(need.name !== ANY_NAME ? { name: need.name } : {}),
  };
}

function unreachable(error: unknown, server: string, options: KubernetesCheckOptions): CheckLine {
  const code = error instanceof ApiException ? error.code : undefined;
  const explained = explainKubernetesError(error).message;
  const fix =
    code === 401
      ? `the credentials of ${options.configuredBy} are not accepted: renew the token or certificate`
      : code === 403
        ? "this identity may not even ask what it may do (SelfSubjectAccessReview): is system:basic-user bound to system:authenticated?"
        : `check the server address and that it is reachable from here (${options.configuredBy})`;
  return { status: "FAIL", check: options.label, detail: `${server}: ${explained}; ${fix}` };
}

export async function checkKubernetes(kc: KubeConfig, needs: Need[], options: KubernetesCheckOptions): Promise<CheckLine[]> {
  const server = kc.getCurrentCluster()?.server ?? "(no server)";
  let ask: AskAccess;
  try {
    ask = reviewer(kc, options);
  } catch (error) {
    return [{ status: "FAIL", check: options.label, detail: `${(error as Error).message}; check ${options.configuredBy}` }];
  }
  const [first, ...rest] = needs;
  if (first === undefined) return [{ status: "ok", check: options.label, detail: `${server}: the playbooks read nothing from it` }];
  // One review first: when the server cannot be reached or refuses the identity, that is one line, not one per need.
  let reviews: Review[];
  try {
    reviews = [await ask(attributesOf(first))];
  } catch (error) {
    return [unreachable(error, server, options)];
  }
  try {
    reviews.push(...(await Promise.all(rest.map((need) => ask(attributesOf(need))))));
  } catch (error) {
    return [unreachable(error, server, options)];
  }
  const denied = needs.filter((_, i) => reviews[i]?.allowed !== true);
  if (denied.length === 0) {
    return [{ status: "ok", check: options.label, detail: `${server}: all ${needs.length} reads the playbooks need are allowed` }];
  }
  return denied.map((need) => ({
    status: "FAIL",
    check: options.label,
    detail: `${server}: may not ${permissionKey(need)}, which starves ${listSome(need.steps)}; grant it to this identity (the ClusterRole alert-enricher-read in docker/kubernetes/base/clusterrole.yaml has it)`,
  }));
}
