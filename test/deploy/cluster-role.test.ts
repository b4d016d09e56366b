// The ClusterRole in docker/kubernetes/base/clusterrole.yaml grants exactly what the shipped playbooks read: this test
// loads rules/ the way the service does, derives (src/check/needed-permissions.ts, which `enricher check` asks the API
// server about) every (API group, resource, verb, object name) a step can request, and
// fails when the ClusterRole lacks one or grants anything more — another resource, another verb, `list` where only
// named `get`s happen, any `*`, any `secrets`, any non-resource URL. Discovery (GET /api, /apis) needs no rule: the
// built-in system:discovery role grants it to every authenticated client.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  ANY_NAME,
  groupOf,
  type Need,
  neededPermissions,
  type Permission,
  permissionKey as key,
  resourceOf,
} from "../../src/check/needed-permissions.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CLUSTER_ROLE = join(ROOT, "docker", "kubernetes", "base", "clusterrole.yaml");
const DEPLOY_README = join(ROOT, "docker", "README.md");

/** Verbs a read-only service may hold at all; the service itself uses only get and list (no informers, no watch). */
const READ_VERBS = new Set(["get", "list", "watch"]);

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

function grantedPermissions(rules: PolicyRule[]): Permission[] {
  return rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) =>
      (rule.resources ?? []).flatMap((resource) =>
        rule.verbs.flatMap((verb) =>
          (rule.resourceNames?.length ? rule.resourceNames : [ANY_NAME]).map((name) => ({ group, resource, verb, name })),
        ),
      ),
    ),
  );
}

/** Every way the rules differ from the needs, as readable lines; empty when they match exactly. */
function compareRole(rules: PolicyRule[], needs: Need[]): string[] {
  const problems: string[] = [];
  for (const rule of rules) {
    const fields = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs, ...(rule.resourceNames ?? [])];
    if (fields.includes("*")) problems.push(`wildcard "*" in ${JSON.stringify(rule)}`);
    if (rule.nonResourceURLs?.length) problems.push(`nonResourceURLs ${rule.nonResourceURLs.join(", ")}: the service needs none`);
    if (rule.resources?.some((r) => r === "secrets" || r.startsWith("secrets/")))
      problems.push(`grants secrets: the base ClusterRole never may (reading named Secrets is overlays/read-secrets)`);
    for (const verb of rule.verbs) if (!READ_VERBS.has(verb)) problems.push(`verb "${verb}" is not a read`);
  }
  const granted = grantedPermissions(rules);
  const grantedKeys = new Set(granted.map(key));
  const neededKeys = new Set(needs.map(key));
  const coveredByAnyName = (p: Permission) => grantedKeys.has(key({ ...p, name: ANY_NAME }));
  for (const need of needs) {
    if (!grantedKeys.has(key(need)) && !coveredByAnyName(need)) problems.push(`missing: ${key(need)}, needed by ${need.steps.join(", ")}`);
  }
  for (const p of granted) {
    if (!neededKeys.has(key(p))) problems.push(`not needed by any playbook step: ${key(p)}`);
  }
  return [...new Set(problems)];
}

function readClusterRole(): { kind: string; rules: PolicyRule[] } {
  return parse(readFileSync(CLUSTER_ROLE, "utf8")) as { kind: string; rules: PolicyRule[] };
}

describe("the ClusterRole grants exactly what the playbooks read", () => {
  const playbooks = loadPlaybooks(join(ROOT, "rules"));
  const needs = neededPermissions(playbooks);
  const role = readClusterRole();

  it("derives the reads from every playbook, fragments included", () => {
    expect(playbooks.length).toBeGreaterThanOrEqual(5);
    const keys = needs.map(key);
    // Spot checks against the rule files: a list, a templated get, a pinned get, a bare group, a fragment's step, logs.
    expect(keys).toEqual(
      expect.arrayContaining([
        "list pods",
        "get services",
        "get configmaps [kubeadm-config]",
        "list flowschemas.flowcontrol.apiserver.k8s.io",
        "get mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "get pods/log",
      ]),
    );
    expect(needs.find((n) => n.resource === "pods/log")?.steps).toEqual(
      expect.arrayContaining(["KubeClientErrors/client_logs", "KubernetesApiClientErrors/apiserver_logs"]),
    );
  });

  it("maps kinds to resources and apiVersions to groups as the API server does", () => {
    expect(
      ["Pod", "Event", "NetworkPolicy", "EndpointSlice", "APIService", "Endpoints", "Ingress", "CertificateSigningRequest"].map(resourceOf),
    ).toEqual([
      "pods",
      "events",
      "networkpolicies",
      "endpointslices",
      "apiservices",
      "endpoints",
      "ingresses",
      "certificatesigningrequests",
    ]);
    expect(["v1", "batch/v1", "events.k8s.io/v1", "flowcontrol.apiserver.k8s.io"].map(groupOf)).toEqual([
      "",
      "batch",
      "events.k8s.io",
      "flowcontrol.apiserver.k8s.io",
    ]);
  });

  it("is a ClusterRole of read verbs only, without secrets or wildcards, matching the needs exactly", () => {
    expect(role.kind).toBe("ClusterRole");
    const problems = compareRole(role.rules, needs);
    expect(problems, `docker/kubernetes/base/clusterrole.yaml vs rules/:\n${problems.join("\n")}`).toEqual([]);
  });

  it("never grants watch: the service makes one-off reads", () => {
    expect(grantedPermissions(role.rules).filter((p) => p.verb === "watch")).toEqual([]);
  });

  it("would fail on a missing permission, an extra one, a wider one, a write verb, a wildcard or secrets", () => {
    const rules = role.rules;
    const without = rules.map((r) => (r.resources?.includes("pods/log") ? { ...r, resources: ["pods"], verbs: ["list"] } : r));
    expect(compareRole(without, needs)).toEqual([expect.stringMatching(/^missing: get pods\/log, needed by .*client_logs/)]);
    expect(compareRole([...rules, { apiGroups: [""], resources: ["namespaces"], verbs: ["list"] }], needs)).toEqual([
      "not needed by any playbook step: list namespaces",
    ]);
    const widened = rules.map((r) => (r.resources?.includes("configmaps") ? { ...r, resourceNames: undefined } : r));
    expect(compareRole(widened, needs)).toEqual(["not needed by any playbook step: get configmaps"]);
    expect(compareRole([...rules, { apiGroups: [""], resources: ["pods"], verbs: ["watch"] }], needs)).toEqual([
      "not needed by any playbook step: watch pods",
    ]);
    expect(compareRole([...rules, { apiGroups: [""], resources: ["pods"], verbs: ["delete"] }], needs)).toContain(
      'verb "delete" is not a read',
    );
    expect(compareRole([...rules, { apiGroups: ["*"], resources: ["*"], verbs: ["get"] }], needs)[0]).toMatch(/^wildcard/);
    expect(compareRole([...rules, { apiGroups: [""], resources: ["secrets"], resourceNames: ["x"], verbs: ["get"] }], needs)).toContain(
      "grants secrets: the base ClusterRole never may (reading named Secrets is overlays/read-secrets)",
    );
  });

  it("is explained resource by resource in docker/README.md", () => {
    const readme = readFileSync(DEPLOY_README, "utf8");
    const resources = [...new Set(needs.map((n) => n.resource))];
    const missing = resources.filter((r) => !new RegExp(`^\\|[^\\n]*\`${r.replace("/", "\\/")}\``, "m").test(readme));
    expect(missing, "resources without a row in docker/README.md's RBAC table").toEqual([]);
  });
});
