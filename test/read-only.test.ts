// The service only reads the cluster: no source file that reaches the Kubernetes API calls a write method, and a
// whole playbook run against the fake API server sends nothing but GETs. The one POST allowed is the preflight's
// SelfSubjectAccessReview (src/check/kubernetes-check.ts): a "create" of a review the API server answers from its
// authorizer and never stores, so it changes no cluster state.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { diagnose } from "../src/diagnosis/diagnose.ts";
import { runPreflight } from "../src/check/preflight.ts";
import { loadPlaybooks } from "../src/engine/load-playbooks.ts";
import { createSources } from "../src/service.ts";
import { type DemoCluster, startDemoCluster } from "./support/demo-cluster.ts";
import { kubeClientErrorsScenarios, type Scenario } from "./support/kube-client-errors-scenarios.ts";
import { kubeClientErrorsPayload } from "./support/payloads.ts";
import { runLimitsFrom } from "../src/engine/run-limits.ts";

const ROOT = join(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

/** Calls that change cluster state, in client-node's object API (create/replace/patch/delete) and its typed APIs. */
const WRITE_CALL =
  /\.(create|replace|patch|delete)\(|\b(create|replace|patch|delete)Namespaced\w*\(|\.(create|replace|patch|delete)[A-Z]\w*\(|\bdeleteCollection\w*\(|\bconnect(Post|Put|Delete)\w*\(/;
/** The one "create" that writes nothing: the permission check `kubectl auth can-i` makes (answered, never stored). */
const ALLOWED_CREATE = /\.createSelfSubjectAccessReview\(/g;
/** String.prototype.replace takes a pattern or a string first; client-node's replace() takes an object. */
const STRING_REPLACE = /\.replace\(\s*(\/|["'`])/g;
const TALKS_TO_KUBERNETES = /from\s+["'](@kubernetes\/client-node|[./]+(?:sources\/)?kubernetes-client\.ts)["']/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** "file:line: code" for every write call in `text`; comment lines are skipped. */
function writeCallsIn(file: string, text: string): string[] {
  const found: string[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    const code = line.trim();
    if (code.startsWith("//") || code.startsWith("*") || code.startsWith("/*")) continue;
    if (WRITE_CALL.test(code.replace(STRING_REPLACE, ".stringReplace(").replace(ALLOWED_CREATE, ".askAccess(")))
      found.push(`${file}:${index + 1}: ${code}`);
  }
  return found;
}

describe("read-only by construction", () => {
  const kubernetesFiles = sourceFiles(SRC).filter((file) => TALKS_TO_KUBERNETES.test(readFileSync(file, "utf8")));

  it("finds the files that reach the Kubernetes API", () => {
    const names = kubernetesFiles.map((file) => relative(ROOT, file));
    expect(names).toEqual(
      expect.arrayContaining([
        "src/sources/kubernetes-client.ts",
        "src/sources/kubernetes.ts",
        "src/sources/logs.ts",
        "src/check/kubernetes-check.ts",
      ]),
    );
  });

  it("has no call that would write to the cluster in any of them", () => {
    const writes = kubernetesFiles.flatMap((file) => writeCallsIn(relative(ROOT, file), readFileSync(file, "utf8")));
    expect(writes, `write calls found:\n${writes.join("\n")}`).toEqual([]);
  });

  it("would name the file and line of a write call", () => {
    const text = [
      "// objects.delete( in a comment is fine",
      'const name = raw.replace(/x/g, "y").replace("a", "b");',
      "await this.client.objects.delete(pod);",
      "await this.client.core.deleteNamespacedPod({ name, namespace });",
      "await this.client.core.patchNamespacedDeployment({ name, namespace, body });",
      "await this.client.core.deleteCollectionNamespacedPod({ namespace });",
      "await this.client.core.connectPostNamespacedPodExec({ name, namespace });",
      "await this.client.objects.replace(spec);",
      "await api.createSelfSubjectAccessReview({ body });",
      "await api.createClusterRoleBinding({ body });",
      "await api.createSelfSubjectRulesReview({ body });",
    ].join("\n");
    expect(writeCallsIn("src/sources/example.ts", text)).toEqual([
      "src/sources/example.ts:3: await this.client.objects.delete(pod);",
      "src/sources/example.ts:4: await this.client.core.deleteNamespacedPod({ name, namespace });",
      "src/sources/example.ts:5: await this.client.core.patchNamespacedDeployment({ name, namespace, body });",
      "src/sources/example.ts:6: await this.client.core.deleteCollectionNamespacedPod({ namespace });",
      "src/sources/example.ts:7: await this.client.core.connectPostNamespacedPodExec({ name, namespace });",
      "src/sources/example.ts:8: await this.client.objects.replace(spec);",
      "src/sources/example.ts:10: await api.createClusterRoleBinding({ body });",
      "src/sources/example.ts:11: await api.createSelfSubjectRulesReview({ body });",
    ]);
  });
});

describe("read-only in practice", () => {
  it("asks the API server with SelfSubjectAccessReviews only when checking the installation", async () => {
    const cluster = await startDemoCluster(kubeClientErrorsScenarios()[0] as Scenario);
    clusters.push(cluster);
    const config = loadConfig({ ...cluster.env, ALLOW_UNAUTHENTICATED: "true" });
    const summary = await runPreflight(config, loadPlaybooks(join(ROOT, "rules")), { userAgent: "alert-enricher/test" });
    expect(summary.lines.find((l) => l.check === "kubernetes")?.status).toBe("ok");
    const requests = cluster.kube.requests.map((r) => `${r.method} ${r.path}`);
    expect(requests.length).toBeGreaterThan(10);
    expect(new Set(requests)).toEqual(new Set(["POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]));
  });

  const clusters: DemoCluster[] = [];

  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
  });

  it("sends only GET requests, and no watch, through every KubeClientErrors scenario", async () => {
    const playbooks = loadPlaybooks(join(ROOT, "rules"));
    const scenarios = kubeClientErrorsScenarios();
    const requests = await Promise.all(
      scenarios.map(async (scenario) => {
        const cluster = await startDemoCluster(scenario);
        clusters.push(cluster);
        const payload = kubeClientErrorsPayload(scenario.alertLabels);
        const result = await diagnose(`read-only-${scenario.name}`, payload, {
          playbooks,
          sources: createSources(loadConfig({ ...cluster.env, ALLOW_UNAUTHENTICATED: "true" })),
          limits: runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 }),
          maxPlaybookRuns: 10,
        });
        expect(result.alerts[0]?.playbook, scenario.name).toBe("KubeClientErrors");
        return cluster.kube.requests.map((r) => ({ scenario: scenario.name, ...r }));
      }),
    );
    const all = requests.flat();
    expect(all.length).toBeGreaterThan(scenarios.length * 5);
    expect(all.filter((r) => r.method !== "GET")).toEqual([]);
    expect(all.filter((r) => r.query.watch !== undefined || r.path.includes("/watch/"))).toEqual([]);
    expect(all.filter((r) => !r.userAgent?.startsWith("alert-enricher/"))).toEqual([]);
    // Pods are listed by a selector and a page at a time, never all of a cluster's at once.
    const podLists = all.filter((r) => /\/pods$/.test(r.path));
    expect(podLists.length).toBeGreaterThan(0);
    expect(podLists.filter((r) => !(r.query.labelSelector || r.query.fieldSelector) || !(Number(r.query.limit) > 0))).toEqual([]);
  });
});
