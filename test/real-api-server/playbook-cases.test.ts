// Every playbook case of rules/tests, run against a real kube-apiserver (with etcd and RBAC) instead of the in-process
// fake: the case's cluster is loaded into it as an admin, and the playbook reads it as the ServiceAccount bound to the
// ClusterRole rendered from docker/kubernetes/, so the least-privilege role meets the real authorizer. Each case must
// reach the diagnosis it expects on the fake, and the audit log must show that the service only read.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseAllDocuments } from "yaml";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { type CaseResult, loadTestFiles, runCasesOn } from "../../testkit/run-playbook-tests.ts";
import { type AuditEvent, type RealKubeApi, startRealKubeApi } from "../support/kube-apiserver.ts";
import { REPO_ROOT } from "../support/node-process.ts";
import { RealClusterLoader } from "../support/real-cluster-loader.ts";

/**
 * Cases a real API server cannot hold as written, and why; rules/README.md lists them too. They stay on the fake, and
 * must still differ here: one that passes on the real server comes off this list.
 */
const AGE = "needs an object created minutes before the alert, and a real server sets creationTimestamp itself";
const AGGREGATOR =
  "an APIService's Available condition is the aggregator's: its availability controller rewrites the fixture's at once (and no backend answers in the sandbox)";
const STAYS_ON_THE_FAKE: Array<{ file: string; name: string; why: string }> = [
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "blames the OOMKilled crash loop of metrics-server above the missing endpoints, memory and probe events it causes",
  },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGE,
    name: "blames the NetworkPolicy edited before the errors above the timeouts it causes",
  },
  { file: "KubeAggregatedAPIErrors.yaml", why: AGGREGATOR, name: "does not blame NetworkPolicies that are days old or select other pods" },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "names every aggregated API that fails at once and points at the path from the API server",
  },
  { file: "KubeAggregatedAPIErrors.yaml", why: AGGREGATOR, name: "says so when nothing correlates" },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "does not blame a crash-looping, OOMKilled replica while the APIService stays available, even with its BackOff events and memory at the limit",
  },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "does not blame CPU throttling and memory near the limit while the APIService stays available",
  },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "does not blame readiness probe failures of the backend while the APIService stays available",
  },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "does not blame the Service for the alert's MissingEndpoints reason while the APIService is available, though another aggregated API is down",
  },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "does not blame the API server's 5xx and latency while the APIService stays available",
  },
  {
    file: "KubeAggregatedAPIErrors.yaml",
    why: AGGREGATOR,
    name: "blames a backend stuck pulling its image for the missing endpoints, though its log cannot be read",
  },
  {
    file: "KubeClientErrors.series.yaml",
    why: AGE,
    name: "blames the NetworkPolicy created before the client's requests started getting no answer",
  },
  { file: "KubeClientErrors.yaml", why: AGE, name: "blames the NetworkPolicy created four minutes before the alert" },
  {
    file: "KubernetesClientCertificateExpiresSoon.yaml",
    why: AGE,
    name: "leads with the renewal request of the kubelet on worker-2, whose client certificate expires in 20 h, waiting for approval",
  },
  {
    file: "KubernetesClientCertificateExpiresSoon.yaml",
    why: AGE,
    name: "approves the bootstrap request of a kubelet whose certificate already expired",
  },
  { file: "KubernetesClientCertificateExpiresSoon.yaml", why: AGE, name: "asks to approve the CI deployer's pending certificate request" },
];

const listed = (r: CaseResult) => STAYS_ON_THE_FAKE.some((c) => r.file.endsWith(c.file) && r.name === c.name);

let api: RealKubeApi;
let results: CaseResult[];
let serviceAccountUser: string;
let auditOfTheService: AuditEvent[];
let seconds: number;
const loadProblems: string[] = [];

/** The ServiceAccount, ClusterRole and binding the single-replica install ships, as `kubectl kustomize` renders them. */
function renderedRbac(): KubeObject[] {
  const yaml = execFileSync("kubectl", ["kustomize", join(REPO_ROOT, "docker/kubernetes/overlays/single-sqlite")], { encoding: "utf8" });
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind));
}

beforeAll(async () => {
  api = await startRealKubeApi();
  const rbac = renderedRbac();
  const serviceAccount = rbac.find((o) => o.kind === "ServiceAccount") as KubeObject;
  const namespace = serviceAccount.metadata.namespace ?? "default";
  const setup = new RealClusterLoader(api);
  await setup.sync({ objects: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, ...rbac] });
  const { kubeconfig } = await api.serviceAccount(namespace, serviceAccount.metadata.name);
  serviceAccountUser = `system:serviceaccount:${namespace}:${serviceAccount.metadata.name}`;
  await setup.untilAllowed(serviceAccountUser, ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"], {
    resource: "pods",
    verb: "list",
  });

  const loader = new RealClusterLoader(api);
  const playbooks = loadPlaybooks(join(REPO_ROOT, "rules"));
  const files = loadTestFiles(join(REPO_ROOT, "rules", "tests"), playbooks);
  const started = Date.now();
  results = await runCasesOn(files, async (state, at) => {
    // The setup's objects stay: the cases' loader only removes what it loaded itself.
    loadProblems.push(
      ...(await loader.sync({ objects: state.objects.filter((o) => !(o.kind === "Namespace" && o.metadata.name === namespace)) })),
    );
    api.setKubeletState({ now: at, logs: state.logs ?? {}, pods: state.objects.filter((o) => o.kind === "Pod") });
    const from = api.audit().length;
    return {
      kubeconfigPath: kubeconfig,
      writes: () =>
        api
          .audit()
          .slice(from)
          .filter((e) => e.user.username === serviceAccountUser && !["get", "list"].includes(e.verb))
          .map((e) => `${e.verb} ${e.requestURI}`),
      close: async () => {},
    };
  });
  seconds = (Date.now() - started) / 1000;
  auditOfTheService = api.audit().filter((e) => e.user.username === serviceAccountUser);
}, 900_000);

afterAll(async () => {
  await api?.stop();
});

describe(`the playbook cases against a real kube-apiserver`, () => {
  test("every object of every case is one the real server accepts", () => {
    expect([...new Set(loadProblems)]).toEqual([]);
  });

  test("every case reaches the diagnosis it reaches on the fake, but those a real server cannot hold", () => {
    const failed = results.filter((r) => !r.passed && !listed(r));
    console.log(
      `${results.length} cases on kube-apiserver ${api.version} in ${seconds.toFixed(1)} s: ${results.filter((r) => r.passed).length} as on the fake, ${STAYS_ON_THE_FAKE.length} kept on the fake`,
    );
    expect(failed.map((r) => `${r.file}: ${r.name}\n  ${r.problems.join("\n  ")}`)).toEqual([]);
  });

  test("the cases kept on the fake are still ones a real server cannot hold", () => {
    const found = STAYS_ON_THE_FAKE.map((c) => results.find((r) => r.file.endsWith(c.file) && r.name === c.name));
    expect(
      found.map((r, i) => (r === undefined ? `no case ${STAYS_ON_THE_FAKE[i]?.name}` : r.passed ? `passes now: ${r.name}` : "differs")),
    ).toEqual(STAYS_ON_THE_FAKE.map(() => "differs"));
  });

  test("the service only read, and the shipped ClusterRole let it read everything it asked for", () => {
    expect(auditOfTheService.length).toBeGreaterThan(1000);
    expect([...new Set(auditOfTheService.map((e) => e.verb))].sort()).toEqual(["get", "list"]);
    const forbidden = auditOfTheService.filter((e) => e.responseStatus?.code === 403);
    expect(forbidden.map((e) => e.requestURI)).toEqual([]);
  });
});
