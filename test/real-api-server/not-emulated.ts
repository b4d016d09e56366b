// What the fake deliberately does not emulate (the table at the head of testkit/fixture-cluster.ts), taken
// out of both answers before they are compared, each rule with the row it stands for. Anything else that differs is
// a difference the suite reports.
import type { Leave } from "./answer-differences.ts";

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function records(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function at(o: Json, ...path: string[]): Json | undefined {
  let current: unknown = o;
  for (const part of path) current = isRecord(current) ? current[part] : undefined;
  return isRecord(current) ? current : undefined;
}

/** Removes the keys `drop` names from a map at `o[key]`, and the map itself if nothing is left. */
function withoutKeys(o: Json | undefined, key: string, drop: (k: string) => boolean): void {
  const map = o?.[key];
  if (!o || !isRecord(map)) return;
  for (const k of Object.keys(map)) if (drop(k)) delete map[k];
  if (Object.keys(map).length === 0) delete o[key];
}

/** Keeps the entries of the list at `o[key]` that `keep` accepts; removes the list if none is left. */
function filterList(o: Json | undefined, key: string, keep: (entry: Json) => boolean): void {
  if (!o || !Array.isArray(o[key])) return;
  const kept = records(o[key]).filter(keep);
  if (kept.length === 0) delete o[key];
  else o[key] = kept;
}

const JOB_CONTROLLER_LABELS = new Set(["controller-uid", "job-name", "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name"]);

/** Objects the API server keeps writing itself ("controllers" row): compared by name only. */
function writtenByTheServer(o: Json, kind: string): boolean {
  const metadata = at(o, "metadata");
  const name = typeof metadata?.name === "string" ? metadata.name : "";
  if (kind === "Lease") return name.startsWith("apiserver-");
  if (kind === "ConfigMap") return name === "extension-apiserver-authentication";
  return false;
}

export const notEmulated: Leave = (o, kind) => {
  const metadata = at(o, "metadata");
  if (writtenByTheServer(o, kind)) {
    for (const key of Object.keys(o)) if (key !== "metadata") delete o[key];
    if (metadata) for (const key of Object.keys(metadata)) if (key !== "name" && key !== "namespace") delete metadata[key];
    return;
  }
  // "writes": the fake keeps no managedFields. "The server sets uid, resourceVersion, generation": the suite gives the
  // fake the real server's at load time, but a controller's later write moves the real ones on.
  delete metadata?.managedFields;
  delete metadata?.resourceVersion;
  delete metadata?.generation;
  const spec = at(o, "spec");
  const status = at(o, "status");
  switch (kind) {
    case "Pod":
      // "admission plugins": Priority sets priority and preemptionPolicy, DefaultTolerationSeconds adds two tolerations.
      delete spec?.priority;
      delete spec?.preemptionPolicy;
      filterList(spec, "tolerations", (t) => !(t.effect === "NoExecute" && t.tolerationSeconds === 300 && t.operator === "Exists"));
      // "registry strategies": the server computes the QoS class.
      delete status?.qosClass;
      break;
    case "Node":
      // "admission plugins": TaintNodesByCondition taints a new Node not-ready.
      filterList(spec, "taints", (t) => t.key !== "node.kubernetes.io/not-ready");
      break;
    case "Job":
      // "registry strategies": the server generates the selector and the controller-uid/job-name labels.
      if (spec?.manualSelector !== true) delete spec?.selector;
      withoutKeys(metadata, "labels", (k) => JOB_CONTROLLER_LABELS.has(k));
      withoutKeys(at(o, "spec", "template", "metadata"), "labels", (k) => JOB_CONTROLLER_LABELS.has(k));
      break;
    case "Service":
      // "registry strategies": IP families come with the allocated clusterIP.
      delete spec?.ipFamilies;
      delete spec?.ipFamilyPolicy;
      break;
    case "CertificateSigningRequest":
      // "registry strategies": the requester is whoever created the request; the loader creates each as the user its
      // fixture names, whose uid and extra are the server's. An approval's times, left unset, are the approval's.
      for (const field of ["uid", "extra"]) delete spec?.[field];
      for (const condition of records(status?.conditions)) {
        if (condition.type !== "Approved" && condition.type !== "Denied") continue;
        delete condition.lastTransitionTime;
        delete condition.lastUpdateTime;
      }
      break;
    case "APIService":
      // "controllers": the aggregator's availability controller rewrites Available within a second.
      delete status?.conditions;
      break;
    case "FlowSchema":
    case "PriorityLevelConfiguration":
      // "controllers": API Priority and Fairness' configuration controller keeps the Dangling condition.
      filterList(status, "conditions", (c) => c.type !== "Dangling");
      break;
  }
};
