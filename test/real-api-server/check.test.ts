// `enricher check` against a real kube-apiserver with RBAC: as the ServiceAccount bound to the ClusterRole the install
// ships (rendered from docker/kubernetes/overlays/single-sqlite), every read the playbooks need is allowed; as a
// ServiceAccount bound to nothing, each is named as missing. The real authorizer answers the SelfSubjectAccessReviews,
// and the audit log shows they were the only requests that were not reads.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { metricNames, metricNeeds } from "../../src/check/metric-families.ts";
import { neededPermissions } from "../../src/check/needed-permissions.ts";
import { runPreflight } from "../../src/check/preflight.ts";
import { loadConfig } from "../../src/config.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { type FakePrometheus, startFakePrometheus } from "../support/fake-prometheus.ts";
import { type RealKubeApi, startRealKubeApi } from "../support/kube-apiserver.ts";
import { REPO_ROOT } from "../support/node-process.ts";
import { RealClusterLoader } from "../support/real-cluster-loader.ts";

const playbooks = loadPlaybooks(join(REPO_ROOT, "rules"));
let api: RealKubeApi;
let prometheus: FakePrometheus;
let boundKubeconfig: string;
let unboundKubeconfig: string;
let boundUser: string;

beforeAll(async () => {
  api = await startRealKubeApi();
  const yaml = execFileSync("kubectl", ["kustomize", join(REPO_ROOT, "docker/kubernetes/overlays/single-sqlite")], { encoding: "utf8" });
  const rbac = parseAllDocuments(yaml)
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"].includes(o.kind));
  const serviceAccount = rbac.find((o) => o.kind === "ServiceAccount") as KubeObject;
  const namespace = serviceAccount.metadata.namespace ?? "default";
  const unbound = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "unbound", namespace } };
  const loader = new RealClusterLoader(api);
  const problems = await loader.sync({
    objects: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, ...rbac, unbound],
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  boundKubeconfig = (await api.serviceAccount(namespace, serviceAccount.metadata.name)).kubeconfig;
  unboundKubeconfig = (await api.serviceAccount(namespace, "unbound")).kubeconfig;
  boundUser = `system:serviceaccount:${namespace}:${serviceAccount.metadata.name}`;
  await loader.untilAllowed(boundUser, ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"], {
    resource: "pods",
    verb: "list",
  });
  prometheus = await startFakePrometheus([], { metricNames: metricNames(metricNeeds(playbooks)) });
}, 120_000);

afterAll(async () => {
  await prometheus?.close();
  await api?.stop();
});

const check = (kubeconfig: string) =>
  runPreflight(loadConfig({ KUBECONFIG: kubeconfig, PROMETHEUS_URL: prometheus.url, ALLOW_UNAUTHENTICATED: "true" }), playbooks, {
    userAgent: "alert-enricher/test",
  });

describe("enricher check against a real kube-apiserver", () => {
  it("finds every read allowed for the ServiceAccount bound to the shipped ClusterRole", async () => {
    const from = api.audit().length;
    const summary = await check(boundKubeconfig);
    const needed = neededPermissions(playbooks).length;
    expect(summary.lines.map((l) => `${l.status} ${l.check}`)).toEqual(["ok kubernetes", "ok prometheus", "ok sinks"]);
    expect(summary.lines[0]?.detail).toBe(`${api.url}: all ${needed} reads the playbooks need are allowed`);
    expect(summary.failed).toBe(0);
    const asked = api
      .audit()
      .slice(from)
      .filter((e) => e.user.username === boundUser);
    expect(asked.length).toBe(needed);
    expect(new Set(asked.map((e) => `${e.verb} ${e.objectRef?.resource}`))).toEqual(new Set(["create selfsubjectaccessreviews"]));
    expect(asked.every((e) => e.responseStatus?.code === 201)).toBe(true);
  });

  it("names every read as missing for a ServiceAccount bound to nothing", async () => {
    const summary = await check(unboundKubeconfig);
    const failures = summary.lines.filter((l) => l.status === "FAIL");
    expect(failures).toHaveLength(neededPermissions(playbooks).length);
    expect(failures.map((l) => l.detail)).toContainEqual(expect.stringContaining("may not list pods, which starves "));
    expect(failures.map((l) => l.detail)).toContainEqual(
      expect.stringContaining("may not get configmaps [kubeadm-config], which starves "),
    );
  });

  it("answers a review as the in-process fake does: 201, the spec echoed, the decision in status", async () => {
    const review = (verb: string) => ({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { verb, group: "", resource: "pods" } },
    });
    const path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    const { token } = await api.serviceAccount("alert-enricher", "unbound");
    const fake = await startFakeKubeApi({ objects: [] }, { access: (a) => a.verb === "list" });
    try {
      for (const verb of ["list", "delete"]) {
        const real = await api.call("POST", path, review(verb), verb === "list" ? undefined : token);
        const answer = await fetch(`${fake.url}${path}`, { method: "POST", body: JSON.stringify(review(verb)) });
        const faked = (await answer.json()) as Record<string, unknown>;
        const shape = (body: Record<string, unknown>) => ({
          kind: body.kind,
          apiVersion: body.apiVersion,
          spec: body.spec,
          allowed: (body.status as { allowed?: boolean }).allowed,
        });
        expect(answer.status).toBe(real.status);
        expect(shape(faked)).toEqual(shape(real.body as Record<string, unknown>));
      }
    } finally {
      await fake.close();
    }
  });
});
