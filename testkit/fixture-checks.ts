// What makes a playbook test strict: a fixture that cannot take part in the case it is written for fails the case (or
// the file) with its line, instead of being ignored while the case passes for another reason. An answer for a step the
// playbook does not have, or for a step of another kind or shape; a log for a pod or container no object has; a field
// no Kubernetes object has at the top level; a `remove:` that removes nothing; an expectation naming a cause or step
// the playbook does not have. Whether an answer was used at all is known only after the run (run-playbook-tests.ts).
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { CompiledPlaybook, CompiledStep } from "../src/engine/load-playbooks.ts";
import { parseDuration } from "../src/engine/playbook.ts";
import type { KubeObject } from "./kube-object.ts";
import { type ClusterFixture, type Expectation, FAULT_BACKENDS, type Faults, type PrometheusFixture } from "./test-file.ts";

export type Segments = Array<string | number>;

export interface FixtureProblem {
  path: Segments;
  message: string;
}

/** A parsed YAML file that can say on which line any path of it starts. */
export interface YamlSource {
  data: unknown;
  lineAt(path: Segments): number;
}

export function parseYaml(text: string): YamlSource | { errors: Array<{ line: number; message: string }> } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;
  if (document.errors.length > 0) {
    return { errors: document.errors.map((e) => ({ line: lineOf(e.pos[0]), message: e.message.split("\n")[0] ?? e.message })) };
  }
  const lineAt = (path: Segments): number => {
    let node: unknown = document.contents;
    let line = 1;
    for (const segment of path) {
      if (isAlias(node)) node = node.resolve(document);
      if (isMap(node)) {
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
        if (!pair) break;
        if (isNode(pair.key) && pair.key.range) line = lineOf(pair.key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment];
        if (!isNode(item) || !item.range) break;
        line = lineOf(item.range[0]);
        node = item;
      } else break;
    }
    return line;
  };
  return { data: document.toJS({ maxAliasCount: 1000 }), lineAt };
}

/** "file:line: path: message", as `rules validate` writes a rule file's problems. */
export function describeProblem(file: string, source: Pick<YamlSource, "lineAt">, problem: FixtureProblem): string {
  const path = problem.path.join(".");
  return `${file}:${source.lineAt(problem.path)}: ${path ? `${path}: ` : ""}${problem.message}`;
}

const ANSWERED_UNDER: Record<CompiledStep["kind"], string> = {
  prometheus: "prometheus:",
  audit: "audit:",
  kubernetes: "cluster.objects",
  logs: "cluster.logs",
};

/** The columns each audit aggregate's rows have (src/sources/audit-log.ts). */
const AUDIT_COLUMNS: Record<string, string[]> = {
  topUserAgents: ["userAgent", "user", "count"],
  latencyByUserAgent: ["userAgent", "user", "avgMs", "count"],
  p99ByVerbResource: ["verb", "resource", "p99Ms", "count"],
};

/** Canned answers (`prometheus:` or `audit:`) by step id: each must be a step of the playbook, of that kind and shape. */
export function checkAnswers(
  playbook: CompiledPlaybook,
  kind: "prometheus" | "audit",
  answers: Record<string, unknown> | undefined,
  at: Segments,
): FixtureProblem[] {
  const problems: FixtureProblem[] = [];
  for (const [id, answer] of Object.entries(answers ?? {})) {
    const path = [...at, id];
    const step = playbook.steps.find((s) => s.id === id);
    if (!step) {
      const candidates = playbook.steps.filter((s) => s.kind === kind).map((s) => s.id);
      problems.push({ path, message: `playbook ${playbook.name} has no step ${id}${didYouMean(id, candidates)}` });
      continue;
    }
    if (step.kind !== kind) {
      problems.push({
        path,
        message: `step ${id} is a ${step.kind} step, not a ${kind} one: what it reads goes under ${ANSWERED_UNDER[step.kind]}`,
      });
      continue;
    }
    if (kind === "prometheus") problems.push(...checkPrometheusShape(step, answer as PrometheusFixture, path));
    else problems.push(...checkAuditRows(step, answer as Array<Record<string, unknown>>, path));
  }
  return problems;
}

function checkPrometheusShape(step: CompiledStep, answer: PrometheusFixture, path: Segments): FixtureProblem[] {
  const spec = step.spec.prometheus;
  if (!spec) return [];
  if (spec.range === undefined) {
    return Array.isArray(answer)
      ? []
      : [{ path, message: `step ${step.id} is an instant query: its answer is a list of { labels, value }, not { range: … }` }];
  }
  if (Array.isArray(answer)) {
    return [{ path, message: `step ${step.id} is a range query (range: ${spec.range}): its answer is { range: [{ labels, values }] }` }];
  }
  const problems: FixtureProblem[] = [];
  const stepText = spec.step ?? "1m";
  const stepMs = parseDuration(stepText);
  if (answer.step !== undefined && durationOrNaN(answer.step) !== stepMs) {
    problems.push({ path: [...path, "step"], message: `step ${step.id} queries at a ${stepText} step, not ${answer.step}` });
  }
  const most = Math.floor(parseDuration(spec.range) / stepMs) + 1;
  answer.range.forEach((series, i) => {
    if (series.values.length > most) {
      problems.push({
        path: [...path, "range", i, "values"],
        message: `${series.values.length} values at a ${stepText} step reach back further than the ${spec.range} step ${step.id} reads (at most ${most})`,
      });
    }
  });
  return problems;
}

function durationOrNaN(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    return Number.NaN;
  }
}

function checkAuditRows(step: CompiledStep, rows: Array<Record<string, unknown>>, path: Segments): FixtureProblem[] {
  const aggregate = step.spec.audit?.aggregate ?? "";
  const columns = AUDIT_COLUMNS[aggregate];
  if (!columns) return [];
  const problems: FixtureProblem[] = [];
  rows.forEach((row, i) => {
    for (const key of Object.keys(row)) {
      if (!columns.includes(key)) {
        problems.push({
          path: [...path, i, key],
          message: `a ${aggregate} row has no column ${key} (its columns: ${columns.join(", ")})${didYouMean(key, columns)}`,
        });
      }
    }
  });
  return problems;
}

function containersOf(pod: KubeObject): string[] {
  const spec = pod.spec as Record<string, unknown> | undefined;
  return ["initContainers", "containers", "ephemeralContainers"].flatMap((list) => {
    const containers = spec?.[list];
    return Array.isArray(containers) ? containers.map((c) => String((c as { name?: unknown }).name ?? "")) : [];
  });
}

/** Log fixtures ("namespace/pod[/container[/previous]]") must name a pod, and a container of it, that the cluster has. */
export function checkLogs(logs: Record<string, string> | undefined, objects: KubeObject[], at: Segments): FixtureProblem[] {
  const problems: FixtureProblem[] = [];
  const pods = objects.filter((o) => o.apiVersion === "v1" && o.kind === "Pod");
  for (const key of Object.keys(logs ?? {})) {
    const path = [...at, key];
    const parts = key.split("/");
    if (parts.length === 4 && parts[3] === "previous") parts.pop();
    const [namespace, name, container] = parts;
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "") || namespace === undefined || name === undefined) {
      problems.push({ path, message: "a log is keyed namespace/pod, namespace/pod/container or namespace/pod/container/previous" });
      continue;
    }
    const pod = pods.find((p) => p.metadata.namespace === namespace && p.metadata.name === name);
    if (!pod) {
      const nearby = pods.filter((p) => p.metadata.namespace === namespace).map((p) => p.metadata.name);
      problems.push({
        path,
        message: `no pod ${namespace}/${name} in the case's cluster, so this log is never read${didYouMean(name, nearby)}`,
      });
      continue;
    }
    const containers = containersOf(pod);
    if (container !== undefined && !containers.includes(container)) {
      problems.push({
        path,
        message: `pod ${namespace}/${name} has no container ${container} (its containers: ${containers.join(", ") || "none"}), so this log is never read`,
      });
    }
  }
  return problems;
}

/** Each `remove:` entry must remove something from the defaults. */
export function checkRemove(cluster: ClusterFixture | undefined, defaults: KubeObject[], at: Segments): FixtureProblem[] {
  return (cluster?.remove ?? []).flatMap((r, i) => {
    const found = defaults.some(
      (o) => o.kind === r.kind && o.metadata.name === r.name && (r.namespace ?? o.metadata.namespace) === o.metadata.namespace,
    );
    if (found) return [];
    const where = r.namespace ? `${r.namespace}/` : "";
    const sameKind = defaults.filter((o) => o.kind === r.kind).map((o) => o.metadata.name);
    return [
      {
        path: [...at, i],
        message: `no ${r.kind} ${where}${r.name} among the defaults, so this removes nothing${didYouMean(r.name, sameKind)}`,
      },
    ];
  });
}

/** The causes and steps an expectation names must be the playbook's. */
export function checkExpectation(playbook: CompiledPlaybook, expect: Expectation, at: Segments): FixtureProblem[] {
  const own = playbook.causes.map((c) => c.id);
  const causes = [...own, "no_correlation"];
  const headlines = [...causes, "could_not_check"];
  const steps = playbook.steps.map((s) => s.id);
  const problems: FixtureProblem[] = [];
  if (!headlines.includes(expect.cause)) {
    problems.push({
      path: [...at, "cause"],
      message: `playbook ${playbook.name} has no cause ${expect.cause}${didYouMean(expect.cause, headlines)}`,
    });
  }
  (expect.absent ?? []).forEach((id, i) => {
    if (!causes.includes(id)) {
      problems.push({
        path: [...at, "absent", i],
        message: `playbook ${playbook.name} has no cause ${id}, so it is always absent${didYouMean(id, causes)}`,
      });
    }
  });
  (expect.notChecked ?? []).forEach((id, i) => {
    if (!own.includes(id)) {
      problems.push({
        path: [...at, "notChecked", i],
        message: `playbook ${playbook.name} has no cause ${id}, so it is never not checked${didYouMean(id, own)}`,
      });
    }
  });
  if (expect.checks !== undefined && (expect.cause === "no_correlation" || expect.cause === "could_not_check")) {
    problems.push({
      path: [...at, "checks"],
      message: `checks are the top cause's: there is none when the headline is ${expect.cause}`,
    });
  }
  (expect.notRun ?? []).forEach((id, i) => {
    if (!steps.includes(id))
      problems.push({ path: [...at, "notRun", i], message: `playbook ${playbook.name} has no step ${id}${didYouMean(id, steps)}` });
  });
  return problems;
}

/**
 * A case's faults: each keyed by a step of the playbook or a backend the playbook reads (prometheus, kubernetes,
 * audit); a step named like a backend would make its key ambiguous.
 */
export function checkFaults(playbook: CompiledPlaybook, faults: Faults | undefined, at: Segments): FixtureProblem[] {
  const problems: FixtureProblem[] = [];
  const steps = playbook.steps.map((s) => s.id);
  const backends = Object.keys(FAULT_BACKENDS);
  for (const key of Object.keys(faults ?? {})) {
    const path = [...at, key];
    const isBackend = Object.hasOwn(FAULT_BACKENDS, key);
    if (isBackend && steps.includes(key)) {
      problems.push({ path, message: `${key} is both a step of playbook ${playbook.name} and a backend: rename the step` });
    } else if (isBackend) {
      const kinds: readonly string[] = FAULT_BACKENDS[key as keyof typeof FAULT_BACKENDS];
      if (!playbook.steps.some((s) => kinds.includes(s.kind)))
        problems.push({ path, message: `playbook ${playbook.name} has no step that reads from ${key}` });
    } else if (!steps.includes(key)) {
      problems.push({
        path,
        message: `playbook ${playbook.name} has no step ${key}, and ${key} is no backend (${backends.join(", ")})${didYouMean(key, [...steps, ...backends])}`,
      });
    }
  }
  return problems;
}

const OBJECT = ["apiVersion", "kind", "metadata"];
const SPEC_STATUS = [...OBJECT, "spec", "status"];
const CORE_EVENT = [
  ...OBJECT,
  "involvedObject",
  "reason",
  "message",
  "source",
  "firstTimestamp",
  "lastTimestamp",
  "count",
  "type",
  "eventTime",
  "series",
  "action",
  "related",
  "reportingComponent",
  "reportingInstance",
];
const EVENTS_V1_EVENT = [
  ...OBJECT,
  "eventTime",
  "series",
  "reportingController",
  "reportingInstance",
  "action",
  "reason",
  "regarding",
  "related",
  "note",
  "type",
  "deprecatedSource",
  "deprecatedFirstTimestamp",
  "deprecatedLastTimestamp",
  "deprecatedCount",
];

/** The top-level fields of the kinds the fake API server knows (custom resources are not checked). */
const TOP_LEVEL_FIELDS: Record<string, string[]> = {
  "v1/ConfigMap": [...OBJECT, "data", "binaryData", "immutable"],
  "v1/Endpoints": [...OBJECT, "subsets"],
  "v1/Event": CORE_EVENT,
  "v1/Namespace": SPEC_STATUS,
  "v1/Node": SPEC_STATUS,
  "v1/Pod": SPEC_STATUS,
  "v1/ResourceQuota": SPEC_STATUS,
  "v1/Secret": [...OBJECT, "data", "stringData", "type", "immutable"],
  "v1/Service": SPEC_STATUS,
  "v1/ServiceAccount": [...OBJECT, "secrets", "imagePullSecrets", "automountServiceAccountToken"],
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": [...OBJECT, "webhooks"],
  "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": [...OBJECT, "webhooks"],
  "apiregistration.k8s.io/v1/APIService": SPEC_STATUS,
  "apps/v1/DaemonSet": SPEC_STATUS,
  "apps/v1/Deployment": SPEC_STATUS,
  "apps/v1/ReplicaSet": SPEC_STATUS,
  "apps/v1/StatefulSet": SPEC_STATUS,
  "batch/v1/CronJob": SPEC_STATUS,
  "batch/v1/Job": SPEC_STATUS,
  "certificates.k8s.io/v1/CertificateSigningRequest": SPEC_STATUS,
  "coordination.k8s.io/v1/Lease": [...OBJECT, "spec"],
  "discovery.k8s.io/v1/EndpointSlice": [...OBJECT, "addressType", "endpoints", "ports"],
  "events.k8s.io/v1/Event": EVENTS_V1_EVENT,
  "flowcontrol.apiserver.k8s.io/v1/FlowSchema": SPEC_STATUS,
  "flowcontrol.apiserver.k8s.io/v1/PriorityLevelConfiguration": SPEC_STATUS,
  "networking.k8s.io/v1/NetworkPolicy": SPEC_STATUS,
};

/** Where a kind keeps the pod template a real API server validates: a Pod's own spec is one too. */
const POD_TEMPLATES: Record<string, Segments> = {
  "v1/Pod": [],
  "apps/v1/Deployment": ["spec", "template"],
  "apps/v1/ReplicaSet": ["spec", "template"],
  "apps/v1/DaemonSet": ["spec", "template"],
  "apps/v1/StatefulSet": ["spec", "template"],
  "batch/v1/Job": ["spec", "template"],
  "batch/v1/CronJob": ["spec", "jobTemplate", "spec", "template"],
};

function valueAt(o: unknown, path: Segments): unknown {
  let value = o;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  return value;
}

/**
 * The mistakes a real API server refuses (422) that the fake would serve: a pod (or a workload's pod template) with
 * no container or a container without an image, and a workload whose selector does not match its template's labels
 * (a Job's is generated).
 */
function checkPodTemplate(o: KubeObject, at: Segments): FixtureProblem[] {
  const where = POD_TEMPLATES[`${o.apiVersion}/${o.kind}`];
  if (where === undefined) return [];
  const problems: FixtureProblem[] = [];
  const spec = [...where, "spec"];
  const containers = valueAt(o, [...spec, "containers"]);
  if (!Array.isArray(containers) || containers.length === 0) {
    problems.push({
      path: [...at, ...spec],
      message: `a ${o.kind} needs a container in ${[...spec, "containers"].join(".")}: the API server refuses it`,
    });
  }
  for (const list of ["initContainers", "containers"]) {
    const each = valueAt(o, [...spec, list]);
    (Array.isArray(each) ? each : []).forEach((c: unknown, j) => {
      const image = valueAt(c, ["image"]);
      if (typeof image !== "string" || image === "") {
        const name = String(valueAt(c, ["name"]) ?? j);
        problems.push({ path: [...at, ...spec, list, j], message: `container ${name} has no image: the API server refuses it` });
      }
    });
  }
  const matchLabels = valueAt(o, ["spec", "selector", "matchLabels"]);
  if (where.length > 0 && o.kind !== "Job" && o.kind !== "CronJob" && matchLabels && typeof matchLabels === "object") {
    const labels = (valueAt(o, [...where, "metadata", "labels"]) ?? {}) as Record<string, unknown>;
    const unmatched = Object.entries(matchLabels).filter(([k, v]) => labels[k] !== v);
    if (unmatched.length > 0) {
      problems.push({
        path: [...at, ...where],
        message: `the template's labels lack ${unmatched.map(([k, v]) => `${k}=${String(v)}`).join(", ")} of spec.selector: the API server refuses it`,
      });
    }
  }
  return problems;
}

/**
 * Objects: no top-level field their kind does not have, no two with the same kind, namespace and name, and no pod
 * template a real API server would refuse.
 */
export function checkObjects(objects: KubeObject[] | undefined, at: Segments): FixtureProblem[] {
  const problems: FixtureProblem[] = [];
  const seen = new Map<string, number>();
  (objects ?? []).forEach((o, i) => {
    const fields = TOP_LEVEL_FIELDS[`${o.apiVersion}/${o.kind}`];
    for (const key of Object.keys(o)) {
      if (fields && !fields.includes(key)) {
        problems.push({ path: [...at, i, key], message: `a ${o.kind} has no field ${key}${didYouMean(key, fields)}` });
      }
    }
    problems.push(...checkPodTemplate(o, [...at, i]));
    const id = `${o.apiVersion.includes("/") ? o.apiVersion.slice(0, o.apiVersion.indexOf("/")) : ""}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    const first = seen.get(id);
    if (first !== undefined) {
      const where = o.metadata.namespace ? `${o.metadata.namespace}/` : "";
      problems.push({
        path: [...at, i],
        message: `${o.kind} ${where}${o.metadata.name} is already defined (item ${first}): the API server holds one`,
      });
    } else seen.set(id, i);
  });
  return problems;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** " (did you mean x?)" when one candidate is a likely spelling of `word`. */
export function didYouMean(word: string, candidates: string[]): string {
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = distance(word.toLowerCase(), name.toLowerCase());
    if (d > 0 && (best === undefined || d < best.d)) best = { name, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean ${best.name}?)` : "";
}
