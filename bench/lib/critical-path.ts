// The critical path of a playbook: the longest chain of reads each of which waits for the one before. A step waits
// for the steps of its `dependsOn` and for every step behind the facts its condition, forEach and templates read
// (`dependsOnFacts`), as run-playbook.ts does. With every read taking L ms, no run can finish in less than
// chain length × L, whatever the concurrency.
import { type CompiledPlaybook, stepsBehind } from "../../src/engine/load-playbooks.ts";

/**
 * The longest chain of dependent steps, as step ids from first to last. `reads` limits it to the steps that actually
 * read in a given run (a step skipped because its condition was false, or its list empty, waits but reads nothing);
 * without it every step counts.
 */
export function longestChain(playbook: CompiledPlaybook, reads?: ReadonlySet<string>): string[] {
  const byId = new Map(playbook.steps.map((s) => [s.id, s]));
  const facts = new Map(playbook.facts.map((f) => [f.name, f]));
  const waitsFor = (id: string): string[] => {
    const step = byId.get(id);
    if (!step) return [];
    const throughFacts = step.dependsOnFacts.flatMap((name) => {
      const fact = facts.get(name);
      return fact ? stepsBehind(fact, facts) : [];
    });
    return [...new Set([...step.dependsOn, ...throughFacts])];
  };
  const memo = new Map<string, string[]>();
  const chainEndingAt = (id: string, visiting: Set<string>): string[] => {
    const cached = memo.get(id);
    if (cached) return cached;
    const step = byId.get(id);
    if (!step || visiting.has(id)) return [];
    visiting.add(id);
    let best: string[] = [];
    for (const dependency of waitsFor(id)) {
      const chain = chainEndingAt(dependency, visiting);
      if (chain.length > best.length) best = chain;
    }
    visiting.delete(id);
    const counts = reads === undefined || reads.has(id);
    const chain = counts ? [...best, id] : best;
    memo.set(id, chain);
    return chain;
  };
  let longest: string[] = [];
  for (const step of playbook.steps) {
    const chain = chainEndingAt(step.id, new Set());
    if (chain.length > longest.length) longest = chain;
  }
  return longest;
}
