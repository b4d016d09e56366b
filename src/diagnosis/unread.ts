// The reads a run could not make, said the way an on-call engineer needs them: grouped by backend and by what went
// wrong, counted, most common first ("the API server did not answer 8 reads in 5 s").
import type { StepKind, StepRecord } from "../model/diagnosis.ts";

const BACKEND: Record<StepKind, string> = {
  kubernetes: "the API server",
  logs: "the API server",
  prometheus: "Prometheus",
  audit: "the audit log",
};
const READS: Record<StepKind, [string, string]> = {
  kubernetes: ["read", "reads"],
  logs: ["read", "reads"],
  prometheus: ["query", "queries"],
  audit: ["read", "reads"],
};

/** `cluster`: the cluster read, named beside its backends ("the API server (prod-eu) did not answer …"). */
export function unreadSummary(steps: StepRecord[], cluster?: string): string[] {
  const backend = (kind: StepKind) => (cluster === undefined ? BACKEND[kind] : `${BACKEND[kind]} (${cluster})`);
  const groups = new Map<string, { text: (n: number) => string; count: number }>();
  const add = (key: string, text: (n: number) => string) => {
    const group = groups.get(key) ?? { text, count: 0 };
    group.count++;
    groups.set(key, group);
  };
  for (const step of steps) {
    if (step.outcome !== "unknown") continue;
    const message = (step.error ?? step.summary).trim();
    const [one, many] = READS[step.kind];
    const noun = (n: number) => `${n} ${n === 1 ? one : many}`;
    if (step.status === "timeout") {
      const within = /\bin (\d+(?:\.\d+)? s)$/.exec(message)?.[1];
      add(
        `timeout:${BACKEND[step.kind]}:${within ?? ""}`,
        (n) => `${backend(step.kind)} did not answer ${noun(n)}${within ? ` in ${within}` : " before the deadline"}`,
      );
    } else if (step.status === "failed") {
      add(`failed:${step.kind}:${message}`, (n) => `${message} (${noun(n)})`);
    } else if (/depends on a read that failed/.test(message)) {
      add(
        "dependent",
        (n) => `${n} ${n === 1 ? "step was" : "steps were"} not run: what ${n === 1 ? "it needs" : "they need"} could not be read`,
      );
    } else {
      add(`other:${message}`, (n) => (n === 1 ? message : `${message} (${n} steps)`));
    }
  }
  // The reads that failed first, most common first; the steps that could not run because of them last.
  const dependent = groups.get("dependent");
  groups.delete("dependent");
  return [...[...groups.values()].sort((a, b) => b.count - a.count), ...(dependent ? [dependent] : [])].map((g) => g.text(g.count));
}
