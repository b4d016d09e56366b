// A list as the API server's storage serves it: label and field selectors, objects in key order, the limit, continue
// tokens (with 410 once the state changed) and remainingItemCount.
import { KubeError } from "./api-errors.ts";
import { CONTINUE_TOO_OLD, decodeContinue, encodeContinue, lastKeyOf } from "./continue-tokens.ts";
import { type FieldRequirement, FieldSelectorError, matchesFields, parseFieldSelector, requiredValue } from "./field-selectors.ts";
import type { KubeObject } from "./kube-object.ts";
import { matchesLabels, parseLabelSelector } from "./label-selectors.ts";
import { queryInt64 } from "./query-parameters.ts";
import { json, type Reply } from "./replies.ts";
import { groupVersionOf, type ResourceType } from "./resource-types.ts";

export interface ListRequest {
  type: ResourceType;
  /** The namespace in the path, undefined for a list across namespaces or of a cluster-scoped kind. */
  pathNamespace: string | undefined;
  query: Record<string, string>;
  /** Every stored object of the type, in any order. */
  objects: KubeObject[];
  /** The state's resourceVersion: a continue token from another one is too old. */
  resourceVersion: number;
  /** A stored object in the version the request asked for. */
  servedAs: (o: KubeObject) => KubeObject;
}

function fieldSelectorOf(selector: string, type: ResourceType): FieldRequirement[] {
  try {
    return parseFieldSelector(selector, type);
  } catch (error) {
    if (error instanceof FieldSelectorError) throw new KubeError(400, error.message);
    throw error;
  }
}

function objectKey(o: KubeObject, type: ResourceType): string {
  return type.namespaced ? `${o.metadata.namespace ?? ""}/${o.metadata.name}` : o.metadata.name;
}

function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

export function listPage({ type, pathNamespace, query, objects, resourceVersion, servedAs }: ListRequest): Reply {
  const labelRequirements = parseLabelSelector(query.labelSelector ?? "");
  const fieldRequirements = fieldSelectorOf(query.fieldSelector ?? "", type);
  const requestedLimit = queryInt64(query.limit) ?? 0;
  const continuing = query.continue !== undefined && query.continue !== "";
  // Store.ListPredicate: a list of every namespace narrowed by `metadata.namespace=X` is a list of namespace X, and
  // `metadata.name=Y` in one namespace (or of a cluster-scoped kind) is a read of that one key, which the limit does
  // not cut and which returns no continue token. Neither applies to a continued list.
  const selectedNamespace = continuing ? undefined : requiredValue(fieldRequirements, "metadata.namespace");
  const namespace = pathNamespace ?? (type.namespaced ? selectedNamespace : undefined);
  const singleKey =
    !continuing && (namespace !== undefined || !type.namespaced) && requiredValue(fieldRequirements, "metadata.name") !== undefined;
  // A list at resourceVersion=0 is served whole from the watch cache, whatever the limit (computeListLimit).
  const limit = singleKey || (query.resourceVersion === "0" && !continuing) ? 0 : requestedLimit;
  let startAfter: string | undefined;
  if (continuing) {
    const token = decodeContinue(query.continue ?? "");
    if (query.resourceVersion !== undefined && query.resourceVersion !== "" && query.resourceVersion !== "0") {
      throw new KubeError(400, "specifying resource version is not allowed when using continue");
    }
    if (token.rv !== resourceVersion) {
      // setState stands for a compaction: the snapshot the token points into is gone.
      throw new KubeError(410, CONTINUE_TOO_OLD, undefined, {
        continue: encodeContinue(resourceVersion, lastKeyOf(token)),
      });
    }
    startAfter = lastKeyOf(token);
  }

  // Keys relative to the prefix listed, as a token holds them: a name within one namespace, else namespace/name. A
  // token from a list narrowed to a namespace by its selector, continued without that narrowing, thus starts after
  // "name" among "namespace/name" keys, as on the real server (where it finds little or nothing).
  const keyOf = (o: KubeObject): string => (namespace !== undefined ? o.metadata.name : objectKey(o, type));
  const candidates = objects
    .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
    .sort((a, b) => compareKeys(keyOf(a), keyOf(b)))
    .filter((o) => startAfter === undefined || compareKeys(keyOf(o), startAfter) > 0);

  const items: KubeObject[] = [];
  let lastKey: string | undefined;
  let scanned = 0;
  for (const o of candidates) {
    if (limit > 0 && items.length >= limit) break;
    scanned++;
    lastKey = keyOf(o);
    if (matchesLabels(o.metadata.labels ?? {}, labelRequirements) && matchesFields(o, fieldRequirements, type)) items.push(o);
  }
  // A continue token only when the page was cut with objects left after it (PrepareContinueToken's hasMoreItems);
  // remainingItemCount only when nothing was filtered, since the server cannot count what a selector would keep.
  const remaining = candidates.length - scanned;
  const metadata: Record<string, unknown> = { resourceVersion: String(resourceVersion) };
  if (limit > 0 && remaining > 0 && lastKey !== undefined) {
    metadata.continue = encodeContinue(resourceVersion, lastKey);
    if (labelRequirements.length === 0 && fieldRequirements.length === 0) metadata.remainingItemCount = remaining;
  }
  // The server leaves apiVersion/kind off the items of built-in lists; only custom resources carry them.
  const served = items.map((o) => {
    const view = servedAs(o);
    if (!type.builtIn) return view;
    const { apiVersion: _apiVersion, kind: _kind, ...rest } = view;
    return rest;
  });
  return json({ kind: `${type.kind}List`, apiVersion: groupVersionOf(type), metadata, items: served });
}
