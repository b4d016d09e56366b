// Legacy discovery as the API server serves it: the resource list of a group/version and the /apis group list, with
// every version an Available APIService announces.
import { noSuchResource } from "./api-errors.ts";
import { field, fieldText } from "./json-paths.ts";
import type { KubeObject } from "./kube-object.ts";
import { json, type Reply } from "./replies.ts";
import { type ResourceType, splitApiVersion } from "./resource-types.ts";

/** The APIResourceList of one group/version, from the types served in it. */
export function resourceList(groupVersion: string, types: ResourceType[]): Reply {
  if (types.length === 0) throw noSuchResource();
  const resources: Array<Record<string, unknown>> = [];
  for (const t of types) {
    const entry: Record<string, unknown> = {
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ["get", "list", "watch"],
    };
    if (t.shortNames) entry.shortNames = t.shortNames;
    resources.push(entry);
    // Subresources come after their resource, as on a real server, so a lookup by kind finds the resource first.
    if (groupVersion === "v1" && t.kind === "Pod") {
      resources.push({ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
    }
  }
  // The core group's list comes without an apiVersion; every other group's has one.
  return json(
    groupVersion === "v1"
      ? { kind: "APIResourceList", groupVersion, resources }
      : { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources },
  );
}

/**
 * The versions /apis lists for each group: those served here, then those an Available APIService held announces
 * (the aggregator lists every Available APIService, whether or not anything serves it), highest priority first.
 */
export function versionsByGroup(served: ResourceType[], held: KubeObject[]): Map<string, string[]> {
  const versions = new Map<string, string[]>();
  const add = (group: string, version: string) => {
    const list = versions.get(group) ?? [];
    if (!list.includes(version)) list.push(version);
    versions.set(group, list);
  };
  for (const t of served) if (t.group !== "") add(t.group, t.version);
  const announced = held
    .filter((o) => o.kind === "APIService" && splitApiVersion(o.apiVersion).group === "apiregistration.k8s.io")
    .filter((o) =>
      (field(o, "status.conditions") as unknown[] | undefined)?.some(
        (c) => fieldText(c, "type") === "Available" && fieldText(c, "status") === "True",
      ),
    )
    .map((o) => ({
      group: fieldText(o, "spec.group"),
      version: fieldText(o, "spec.version"),
      priority: Number(field(o, "spec.versionPriority") ?? 0),
    }))
    .filter((a) => a.group !== "" && a.version !== "")
    .sort((a, b) => b.priority - a.priority);
  for (const a of announced) add(a.group, a.version);
  return versions;
}

/** /apis: the APIGroupList. */
export function groupList(versions: Map<string, string[]>): Reply {
  const groups = [...versions.entries()].map(([name, groupVersions]) => groupBody(name, groupVersions));
  return json({ kind: "APIGroupList", apiVersion: "v1", groups });
}

/** One group as /apis and /apis/<group> describe it, the preferred version first. */
export function groupBody(name: string, versions: string[]): Record<string, unknown> {
  const entries = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: entries, preferredVersion: entries[0] };
}
