// The kinds the fake API server serves: the built-in ones, and how a group/version and a plural are spelled.
import type { KubeObject } from "./kube-object.ts";

export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Kinds the API server itself defines: their list items carry no apiVersion/kind, unlike custom resources. */
  builtIn: boolean;
}

function builtIn(group: string, version: string, kind: string, plural: string, namespaced: boolean, shortNames?: string[]): ResourceType {
  return shortNames
    ? { group, version, kind, plural, namespaced, shortNames, builtIn: true }
    : { group, version, kind, plural, namespaced, builtIn: true };
}

export const BUILT_IN_RESOURCES: ResourceType[] = [
  builtIn("", "v1", "ConfigMap", "configmaps", true, ["cm"]),
  builtIn("", "v1", "Endpoints", "endpoints", true, ["ep"]),
  builtIn("", "v1", "Event", "events", true, ["ev"]),
  builtIn("", "v1", "Namespace", "namespaces", false, ["ns"]),
  builtIn("", "v1", "Node", "nodes", false, ["no"]),
  builtIn("", "v1", "Pod", "pods", true, ["po"]),
  builtIn("", "v1", "ResourceQuota", "resourcequotas", true, ["quota"]),
  builtIn("", "v1", "Secret", "secrets", true),
  builtIn("", "v1", "ServiceAccount", "serviceaccounts", true, ["sa"]),
  builtIn("", "v1", "Service", "services", true, ["svc"]),
  builtIn("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false),
  builtIn("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false),
  builtIn("apiregistration.k8s.io", "v1", "APIService", "apiservices", false),
  builtIn("apps", "v1", "DaemonSet", "daemonsets", true, ["ds"]),
  builtIn("apps", "v1", "Deployment", "deployments", true, ["deploy"]),
  builtIn("apps", "v1", "ReplicaSet", "replicasets", true, ["rs"]),
  builtIn("apps", "v1", "StatefulSet", "statefulsets", true, ["sts"]),
  builtIn("batch", "v1", "CronJob", "cronjobs", true, ["cj"]),
  builtIn("batch", "v1", "Job", "jobs", true),
  builtIn("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false, ["csr"]),
  builtIn("coordination.k8s.io", "v1", "Lease", "leases", true),
  builtIn("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
  builtIn("events.k8s.io", "v1", "Event", "events", true, ["ev"]),
  builtIn("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", false),
  builtIn("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", false),
  builtIn("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, ["netpol"]),
];

export function groupVersionOf(type: { group: string; version: string }): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash === -1 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

export function isEventKind(type: ResourceType): boolean {
  return type.kind === "Event" && (groupVersionOf(type) === "v1" || groupVersionOf(type) === "events.k8s.io/v1");
}

export function isBuiltInObject(o: KubeObject): boolean {
  const { group } = splitApiVersion(o.apiVersion);
  return BUILT_IN_RESOURCES.some((t) => t.group === group && t.kind === o.kind);
}
