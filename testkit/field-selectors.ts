// Field selectors as a v1.36 kube-apiserver takes them: parsed like k8s.io/apimachinery/pkg/fields.ParseSelector, each
// label converted by the kind's field label conversion (pkg/apis/*/v1/conversion.go; runtime.
// DefaultMetaV1FieldSelectorConversion for a kind without one; the CRD handler's for custom resources) or refused
// with that conversion's own message, then compared with the value the kind's storage exposes (ToSelectableFields in
// pkg/registry/**/strategy.go). A label a conversion accepts but the storage does not expose compares as "".
import type { KubeObject } from "./kube-object.ts";
import { field } from "./json-paths.ts";

/** What a selector needs to know of the resource it is applied to. */
export interface SelectedResource {
  group: string;
  version: string;
  kind: string;
  namespaced: boolean;
  /** Kinds the API server itself defines; anything else is a custom resource. */
  builtIn: boolean;
}

/** A selector the API server answers with 400 BadRequest and this message. */
export class FieldSelectorError extends Error {}

export interface FieldRequirement {
  /** The label after conversion: what the storage compares (events.k8s.io's `regarding.name` is `involvedObject.name`). */
  field: string;
  equal: boolean;
  value: string;
}

type FieldValue = (o: KubeObject) => string;

interface KindFields {
  /** Accepted label → the label the storage knows it by. */
  labels: Record<string, string>;
  /** The conversion's error for any other label. */
  refuse: (label: string) => string;
  /** The storage's selectable fields; a converted label missing here compares as "". */
  values: Record<string, FieldValue>;
}

/** A string field as the storage's fields.Set holds it: missing is "". */
function text(path: string): FieldValue {
  return (o) => {
    const value = field(o, path);
    return typeof value === "string" ? value : "";
  };
}

/** A bool field as strconv.FormatBool / fmt.Sprint print it: missing is false. */
function flag(path: string): FieldValue {
  return (o) => String(field(o, path) === true);
}

const labelNotSupported = (label: string) => `field label not supported: ${label}`;

function same(...labels: string[]): Record<string, string> {
  return Object.fromEntries(labels.map((l) => [l, l]));
}

/** generic.ObjectMetaFieldsSet: metadata.namespace only for namespaced kinds. */
function objectMeta(namespaced: boolean): Record<string, FieldValue> {
  const name: FieldValue = (o) => o.metadata.name;
  return namespaced ? { "metadata.name": name, "metadata.namespace": (o) => o.metadata.namespace ?? "" } : { "metadata.name": name };
}

/** The pod's first IP: status.podIPs[0], which the v1 conversion also fills from status.podIP. */
function podIP(o: KubeObject): string {
  const ips = field(o, "status.podIPs");
  if (Array.isArray(ips) && ips.length > 0) return text("ip")(ips[0] as KubeObject);
  return text("status.podIP")(o);
}

const CORE_EVENT_VALUES: Record<string, FieldValue> = {
  ...objectMeta(true),
  "involvedObject.kind": text("involvedObject.kind"),
  "involvedObject.namespace": text("involvedObject.namespace"),
  "involvedObject.name": text("involvedObject.name"),
  "involvedObject.uid": text("involvedObject.uid"),
  "involvedObject.apiVersion": text("involvedObject.apiVersion"),
  "involvedObject.resourceVersion": text("involvedObject.resourceVersion"),
  "involvedObject.fieldPath": text("involvedObject.fieldPath"),
  reason: text("reason"),
  reportingComponent: text("reportingComponent"),
  source: (o) => text("source.component")(o) || text("reportingComponent")(o),
  type: text("type"),
};

/** Keyed "group/version/kind" ("v1/Pod" for the core group), as the conversions are registered. */
const KIND_FIELDS: Record<string, KindFields> = {
  "v1/Pod": {
    labels: {
      ...same(
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.podIPs",
        "status.nominatedNodeName",
      ),
      // Kept for old v1 clients.
      "spec.host": "spec.nodeName",
    },
    refuse: labelNotSupported,
    values: {
      ...objectMeta(true),
      "spec.nodeName": text("spec.nodeName"),
      "spec.restartPolicy": text("spec.restartPolicy"),
      "spec.schedulerName": text("spec.schedulerName"),
      "spec.serviceAccountName": text("spec.serviceAccountName"),
      "spec.hostNetwork": flag("spec.hostNetwork"),
      "status.phase": text("status.phase"),
      "status.podIP": podIP,
      "status.nominatedNodeName": text("status.nominatedNodeName"),
    },
  },
  "v1/Node": {
    labels: same("metadata.name", "spec.unschedulable"),
    refuse: labelNotSupported,
    values: { ...objectMeta(false), "spec.unschedulable": flag("spec.unschedulable") },
  },
  "v1/Event": {
    labels: same(...Object.keys(CORE_EVENT_VALUES)),
    refuse: labelNotSupported,
    values: CORE_EVENT_VALUES,
  },
  "v1/Namespace": {
    labels: same("status.phase", "metadata.name"),
    refuse: labelNotSupported,
    // The storage also has `name` (kept "for backward compatibility"), but the conversion refuses it first.
    values: { ...objectMeta(false), "status.phase": text("status.phase") },
  },
  "v1/Secret": {
    labels: same("type", "metadata.namespace", "metadata.name"),
    refuse: labelNotSupported,
    values: { ...objectMeta(true), type: text("type") },
  },
  "v1/Service": {
    labels: same("metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"),
    refuse: labelNotSupported,
    values: { ...objectMeta(true), "spec.clusterIP": text("spec.clusterIP"), "spec.type": text("spec.type") },
  },
  "v1/ReplicationController": {
    labels: same("metadata.name", "metadata.namespace", "status.replicas"),
    refuse: labelNotSupported,
    values: { ...objectMeta(true), "status.replicas": (o) => String(Number(field(o, "status.replicas") ?? 0)) },
  },
  "batch/v1/Job": {
    labels: same("metadata.name", "metadata.namespace", "status.successful"),
    refuse: (label) => `field label "${label}" not supported for Job`,
    values: { ...objectMeta(true), "status.successful": (o) => String(Number(field(o, "status.succeeded") ?? 0)) },
  },
  "certificates.k8s.io/v1/CertificateSigningRequest": {
    labels: same("metadata.name", "spec.signerName"),
    refuse: labelNotSupported,
    values: { ...objectMeta(false), "spec.signerName": text("spec.signerName") },
  },
  // events.k8s.io serves the core Events: its labels map onto the core ones, compared on the stored core Event.
  "events.k8s.io/v1/Event": {
    labels: {
      reason: "reason",
      "regarding.kind": "involvedObject.kind",
      "regarding.namespace": "involvedObject.namespace",
      "regarding.name": "involvedObject.name",
      "regarding.uid": "involvedObject.uid",
      "regarding.apiVersion": "involvedObject.apiVersion",
      "regarding.resourceVersion": "involvedObject.resourceVersion",
      "regarding.fieldPath": "involvedObject.fieldPath",
      reportingController: "reportingComponent",
      type: "type",
      "metadata.namespace": "metadata.namespace",
      "metadata.name": "metadata.name",
    },
    refuse: labelNotSupported,
    values: CORE_EVENT_VALUES,
  },
};

function kindFields(resource: SelectedResource): KindFields {
  const groupVersion = resource.group === "" ? resource.version : `${resource.group}/${resource.version}`;
  const known = KIND_FIELDS[`${groupVersion}/${resource.kind}`];
  if (known) return known;
  if (!resource.builtIn) {
    // The CRD handler's conversion: metadata.namespace only for a namespaced custom resource.
    return {
      labels: resource.namespaced ? same("metadata.name", "metadata.namespace") : same("metadata.name"),
      refuse: labelNotSupported,
      values: objectMeta(resource.namespaced),
    };
  }
  return {
    labels: same("metadata.name", "metadata.namespace"),
    refuse: (label) => `"${label}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
    values: objectMeta(resource.namespaced),
  };
}

/** fields.splitTerms: split at commas no backslash escapes. */
function splitTerms(selector: string): string[] {
  if (selector === "") return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector.charAt(i);
    if (inSlash) inSlash = false;
    else if (ch === "\\") inSlash = true;
    else if (ch === ",") {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** fields.splitTerm: the first operator found scanning from the left, trying "!=", "==", "=" at each position. */
function splitTerm(term: string): { label: string; op: string; value: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ["!=", "==", "="]) {
      if (term.startsWith(op, i)) return { label: term.slice(0, i), op, value: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** fields.UnescapeValue: `\\`, `\,` and `\=` are escapes; a bare `,` or `=` is refused. */
function unescapeValue(value: string): string {
  let out = "";
  let inSlash = false;
  for (const ch of value) {
    if (inSlash) {
      if (ch !== "\\" && ch !== "," && ch !== "=") throw new FieldSelectorError(`invalid field selector: invalid escape sequence: \\${ch}`);
      out += ch;
      inSlash = false;
    } else if (ch === "\\") {
      inSlash = true;
    } else if (ch === "," || ch === "=") {
      // Go prints the rune with %v: its code point.
      throw new FieldSelectorError(`invalid field selector: unescaped character in value: ${ch.codePointAt(0)}`);
    } else {
      out += ch;
    }
  }
  if (inSlash) throw new FieldSelectorError("invalid field selector: invalid escape sequence: \\");
  return out;
}

/**
 * The requirements of a `fieldSelector` query parameter for a resource, with labels converted as the storage knows
 * them. Throws FieldSelectorError with the API server's message for a selector it answers 400.
 */
export function parseFieldSelector(selector: string, resource: SelectedResource): FieldRequirement[] {
  const parsed: Array<{ label: string; equal: boolean; value: string }> = [];
  // ParseSelector sorts the terms first: of two refused labels the server names the one that sorts first.
  for (const part of splitTerms(selector).sort()) {
    if (part === "") continue;
    const term = splitTerm(part);
    if (term === undefined) throw new FieldSelectorError(`invalid selector: '${selector}'; can't understand '${part}'`);
    parsed.push({ label: term.label, equal: term.op !== "!=", value: unescapeValue(term.value) });
  }
  const fields = kindFields(resource);
  return parsed.map((term) => {
    const converted = Object.hasOwn(fields.labels, term.label) ? fields.labels[term.label] : undefined;
    if (converted === undefined) throw new FieldSelectorError(fields.refuse(term.label));
    return { field: converted, equal: term.equal, value: term.value };
  });
}

/** Whether a stored object (a core Event for either Event API) meets every requirement. */
export function matchesFields(o: KubeObject, requirements: FieldRequirement[], resource: SelectedResource): boolean {
  const values = kindFields(resource).values;
  return requirements.every((r) => {
    const read = Object.hasOwn(values, r.field) ? values[r.field] : undefined;
    const actual = read ? read(o) : "";
    return r.equal ? actual === r.value : actual !== r.value;
  });
}

/** fields.Selector.RequiresExactMatch: the value an `=`/`==` term demands of a label, if any. */
export function requiredValue(requirements: FieldRequirement[], label: string): string | undefined {
  return requirements.find((r) => r.field === label && r.equal)?.value;
}
