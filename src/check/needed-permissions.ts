// What the playbooks read from the API server, as RBAC permissions: every (API group, resource, verb, object name) a
// step can request, with the steps that request it. The shipped ClusterRole is held to exactly this set
// (test/deploy/cluster-role.test.ts), and `enricher check` asks the API server about each one.
import type { CompiledPlaybook } from "../engine/load-playbooks.ts";

/** One permission: verb on group/resource, for one named object or (name "*") for all. */
export interface Permission {
  group: string;
  resource: string;
  verb: string;
  name: string;
}

/** A permission the playbooks need, with the steps ("Playbook/step") that need it. */
export interface Need extends Permission {
  steps: string[];
}

export const ANY_NAME = "*";

/**
 * The resource name of a kind, by the API machinery's rule (k8s.io/apimachinery meta.UnsafeGuessKindToResource):
 * lowercase, then -s → -ses, -y → -ies, else +s; "endpoints" stays as it is. The service itself asks discovery.
 */
export function resourceOf(kind: string): string {
  const singular = kind.toLowerCase();
  if (singular === "endpoints") return singular;
  if (singular.endsWith("s")) return `${singular}es`;
  if (singular.endsWith("y")) return `${singular.slice(0, -1)}ies`;
  return `${singular}s`;
}

/** "v1" → "" (core), "apps/v1" → "apps", a bare group ("flowcontrol.apiserver.k8s.io", resolved by discovery) → itself. */
export function groupOf(apiVersion: string): string {
  if (apiVersion.includes("/")) return apiVersion.slice(0, apiVersion.indexOf("/"));
  return apiVersion.includes(".") ? apiVersion : "";
}

/** "list pods", "get configmaps [kubeadm-config]", "list flowschemas.flowcontrol.apiserver.k8s.io". */
export function permissionKey(p: Permission): string {
  return `${p.verb} ${p.resource}${p.group ? `.${p.group}` : ""}${p.name === ANY_NAME ? "" : ` [${p.name}]`}`;
}

/**
 * What the playbooks read. A step with `name:` is a GET of one object (kubernetes.ts: objects.read), one without is a
 * LIST (objects.list, paged); a logs step is a GET of pods/log. A name with no template in it pins the permission to
 * that object (resourceNames); a templated one needs every name. A permission on every name covers the same verb on one.
 */
export function neededPermissions(playbooks: CompiledPlaybook[]): Need[] {
  const needs = new Map<string, Need>();
  const add = (p: Permission, step: string) => {
    const k = permissionKey(p);
    const need = needs.get(k) ?? { ...p, steps: [] };
    if (!need.steps.includes(step)) need.steps.push(step);
    needs.set(k, need);
  };
  for (const playbook of playbooks) {
    for (const step of playbook.steps) {
      const where = `${playbook.name}/${step.id}`;
      const k8s = step.spec.kubernetes;
      if (k8s) {
        const name = k8s.name === undefined ? undefined : k8s.name.includes("{{") ? ANY_NAME : k8s.name;
        const base = { group: groupOf(k8s.apiVersion), resource: resourceOf(k8s.kind) };
        add(name === undefined ? { ...base, verb: "list", name: ANY_NAME } : { ...base, verb: "get", name }, where);
      }
      if (step.spec.logs) add({ group: "", resource: "pods/log", verb: "get", name: ANY_NAME }, where);
    }
  }
  const all = [...needs.values()];
  return all.filter((n) => n.name === ANY_NAME || !needs.has(permissionKey({ ...n, name: ANY_NAME })));
}
