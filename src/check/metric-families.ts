// Which metric families the playbooks query: every metric name in every `prometheus.query`, parsed with Prometheus'
// own Lezer grammar (as src/engine/promql-syntax.ts parses them to check them). An `or` offers alternatives:
// `apiserver_storage_size_bytes or etcd_db_total_size_in_bytes` works with either, so a step is starved only when every
// alternative lacks a metric. The right side of `unless` only filters, so its metrics starve nothing.
import { parser } from "@prometheus-io/lezer-promql";
import type { CompiledPlaybook } from "../engine/load-playbooks.ts";

type SyntaxNode = ReturnType<typeof parser.parse>["topNode"];

/** The metric names one way of answering the query needs, all of them. */
type Alternative = ReadonlySet<string>;

/** A Prometheus step and the alternatives its query can be answered with. */
export interface MetricNeed {
  /** "Playbook/step". */
  step: string;
  alternatives: Alternative[];
}

/** More alternatives than this are not worth telling apart: the query then needs every metric it names. */
const MAX_ALTERNATIVES = 64;
const PLACEHOLDER = /\{\{.*?\}\}/gs;

function childrenOf(node: SyntaxNode): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) found.push(child);
  return found;
}

function product(left: Alternative[], right: Alternative[]): Alternative[] {
  const combined = left.flatMap((a) => right.map((b) => new Set([...a, ...b])));
  if (combined.length <= MAX_ALTERNATIVES) return combined;
  return [new Set(combined.flatMap((a) => [...a]))];
}

function alternativesOf(node: SyntaxNode, query: string): Alternative[] {
  const parts = childrenOf(node);
  if (node.name === "VectorSelector") {
    const name = parts.find((p) => p.name === "Identifier");
    return [name ? new Set([query.slice(name.from, name.to)]) : new Set()];
  }
  if (node.name === "BinaryExpr") {
    const operands = parts.filter((p) => p.type.is("Expr"));
    const [left, right] = operands.map((o) => alternativesOf(o, query));
    if (left && right && parts.some((p) => p.name === "Or")) return [...left, ...right].slice(0, MAX_ALTERNATIVES);
    if (left && parts.some((p) => p.name === "Unless")) return left;
  }
  return parts.map((p) => alternativesOf(p, query)).reduce(product, [new Set<string>()]);
}

/**
 * The ways a PromQL query (or a template: its `{{ }}` placeholders sit inside strings, where no metric name is) can be
 * answered, each as the metric names it needs. Empty for text that does not parse: `rules validate` reports that.
 */
export function metricAlternatives(template: string): Alternative[] {
  const query = template.replace(PLACEHOLDER, (p) => "x".repeat(p.length));
  const tree = parser.parse(query);
  let broken = false;
  tree.iterate({
    enter: (ref) => {
      if (ref.type.isError) broken = true;
      return !broken;
    },
  });
  if (broken) return [];
  return alternativesOf(tree.topNode, query).filter((a) => a.size > 0);
}

/** Every Prometheus step of the playbooks, with the metric names its query can be answered with. */
export function metricNeeds(playbooks: CompiledPlaybook[]): MetricNeed[] {
  const needs: MetricNeed[] = [];
  for (const playbook of playbooks) {
    for (const step of playbook.steps) {
      const query = step.spec.prometheus?.query;
      if (query === undefined) continue;
      const alternatives = metricAlternatives(query);
      if (alternatives.length > 0) needs.push({ step: `${playbook.name}/${step.id}`, alternatives });
    }
  }
  return needs;
}

/** Every metric name the steps name, sorted. */
export function metricNames(needs: MetricNeed[]): string[] {
  return [...new Set(needs.flatMap((n) => n.alternatives.flatMap((a) => [...a])))].sort();
}

/**
 * The metric families missing from `present` that starve a step (every alternative of the step lacks one), each with
 * the steps it starves. A missing alternative for which another is present starves nothing and is not listed.
 */
export function starvedSteps(needs: MetricNeed[], present: ReadonlySet<string>): Map<string, string[]> {
  const missing = new Map<string, string[]>();
  for (const need of needs) {
    if (need.alternatives.some((a) => [...a].every((name) => present.has(name)))) continue;
    const names = new Set(need.alternatives.flatMap((a) => [...a].filter((name) => !present.has(name))));
    for (const name of names) missing.set(name, [...(missing.get(name) ?? []), need.step]);
  }
  return new Map([...missing.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
