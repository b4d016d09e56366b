// The cases of rules/tests also run against a real kube-apiserver (test/real-api-server), which refuses objects the
// in-process fake would serve. The strict fixture checks catch the commonest of them at once, with file and line; the
// others are checked here over every case's whole cluster (base cluster included), so a fixture a real server refuses
// fails `npm test` even where no real API server can be started.
import { afterEach, describe, expect, it } from "vitest";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { baseCluster } from "../../testkit/base-cluster.ts";
import { checkObjects } from "../../testkit/fixture-checks.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { caseCluster, caseTime, loadTestFiles } from "../../testkit/run-playbook-tests.ts";
import { EXAMPLE_CLUSTER, lineOf, type RulesDir, rulesWith } from "./support.ts";

let rules: RulesDir | undefined;

afterEach(() => {
  rules?.remove();
  rules = undefined;
});

describe("the strict fixture checks", () => {
  it("fail the case on a pod without an image, a template without a container, and a selector its template lacks", async () => {
    const text = `playbook: Example
${EXAMPLE_CLUSTER}cases:
  - name: refused objects
    prometheus: { errors: [{ value: 0.3 }] }
    cluster:
      objects:
        - apiVersion: v1
          kind: Pod
          metadata: { name: api-1, namespace: shop }
          spec: { containers: [{ name: api }] }
        - apiVersion: apps/v1
          kind: ReplicaSet
          metadata: { name: web-5d8c7b9f4, namespace: shop }
          spec:
            selector: { matchLabels: { app: web, pod-template-hash: 5d8c7b9f4 } }
            template:
              metadata: { labels: { app: web } }
              spec: { containers: [{ name: web, image: "registry.example.com/web:1" }] }
        - apiVersion: apps/v1
          kind: DaemonSet
          metadata: { name: agent, namespace: shop }
          spec:
            selector: { matchLabels: { app: agent } }
            template: { metadata: { labels: { app: agent } }, spec: { hostNetwork: true } }
    expect: { cause: high_errors }
`;
    rules = rulesWith(text);
    const [result] = await rules.run();
    const at = `${rules.file}:`;
    expect(result?.problems).toEqual([
      `${at}${lineOf(text, "{ name: api }")}: cases.0.cluster.objects.0.spec.containers.0: container api has no image: the API server refuses it`,
      `${at}${lineOf(text, "template:")}: cases.0.cluster.objects.1.spec.template: the template's labels lack pod-template-hash=5d8c7b9f4 of spec.selector: the API server refuses it`,
      `${at}${lineOf(text, "hostNetwork")}: cases.0.cluster.objects.2.spec.template.spec: a DaemonSet needs a container in spec.template.spec.containers: the API server refuses it`,
    ]);
  });
});

/** What a real API server refuses beyond the strict checks, one line per object. */
function refusals(o: KubeObject): string[] {
  const problems: string[] = [];
  const id = `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
  for (const owner of (o.metadata.ownerReferences ?? []) as Array<{ uid?: string }>) {
    if (!owner.uid) problems.push(`${id}: an owner reference without a uid`);
  }
  const status = (o.status ?? {}) as Record<string, unknown>;
  if (o.kind === "Pod") {
    for (const list of ["podIPs", "hostIPs"]) {
      for (const entry of (status[list] ?? []) as Array<{ ip?: string }>) if (!entry.ip) problems.push(`${id}: an empty ${list} entry`);
    }
  }
  if (o.kind === "Job") {
    const conditions = (status.conditions ?? []) as Array<{ type: string; status: string }>;
    const holds = (type: string) => conditions.some((c) => c.type === type && c.status === "True");
    if (status.completionTime !== undefined && !holds("Complete")) problems.push(`${id}: a completionTime without Complete=True`);
    if (holds("Complete") && !holds("SuccessCriteriaMet")) problems.push(`${id}: Complete=True without SuccessCriteriaMet=True`);
    if (holds("Complete") && (status.startTime === undefined || status.completionTime === undefined))
      problems.push(`${id}: Complete=True without startTime and completionTime`);
    if (typeof status.startTime === "string" && typeof status.completionTime === "string" && status.completionTime < status.startTime)
      problems.push(`${id}: a completionTime before its startTime`);
  }
  if (o.kind === "CertificateSigningRequest") {
    const request = (o.spec as { request?: unknown } | undefined)?.request;
    const pem = typeof request === "string" ? Buffer.from(request, "base64").toString("utf8") : "";
    if (!/^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n?$/.test(pem))
      problems.push(`${id}: spec.request is not a base64 PEM CERTIFICATE REQUEST`);
  }
  return problems;
}

describe("the objects of the playbook cases", () => {
  it("hold nothing a real API server refuses, the base cluster's included", () => {
    const files = loadTestFiles("rules/tests", loadPlaybooks("rules"));
    const problems = new Set<string>();
    for (const { file, spec } of files) {
      for (const testCase of spec.cases) {
        const { objects } = caseCluster(spec, testCase, caseTime(spec, testCase).getTime());
        const where = `${file.replace(/^.*\/rules\//, "rules/")}: ${testCase.name}`;
        for (const p of checkObjects(objects, [])) problems.add(`${where}: ${p.path.join(".")}: ${p.message}`);
        for (const p of objects.flatMap(refusals)) problems.add(`${where}: ${p}`);
      }
    }
    expect([...problems]).toEqual([]);
  });

  it("give the pods on a node without an address no address, rather than an empty one", () => {
    const addressless: KubeObject = { apiVersion: "v1", kind: "Node", metadata: { name: "edge-1" }, status: { conditions: [] } };
    const { objects } = baseCluster(Date.parse("2026-11-23T10:00:00Z"), [addressless]);
    const proxy = objects.find((o) => o.kind === "Pod" && (o.spec as { nodeName?: string }).nodeName === "edge-1");
    expect(proxy?.metadata.name).toMatch(/^kube-proxy-/);
    expect(proxy?.status).not.toHaveProperty("podIP");
    expect(proxy?.status).not.toHaveProperty("hostIPs");
    expect(objects.flatMap(refusals)).toEqual([]);
    expect(checkObjects(objects, [])).toEqual([]);
  });
});
