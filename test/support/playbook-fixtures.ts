// Playbooks written inline by tests: how they are compiled, and the text many of them share.
import { type CompiledPlaybook, loadPlaybookFile } from "../../src/engine/load-playbooks.ts";

/** Compiles playbook YAML as the service compiles a rules file; a problem throws with its line and message. */
export function compilePlaybook(yaml: string, file = "test.yaml"): CompiledPlaybook {
  const result = loadPlaybookFile(file, yaml);
  if ("problems" in result) throw new Error(result.problems.map((p) => `${p.line}: ${p.message}`).join("\n"));
  return result.playbook;
}

/**
 * A minimal valid rules file (alert Example): one Pod list, one cause reading it, the fallback. Tests about loading
 * and validating break it in one place with `.replace`.
 */
export const EXAMPLE_PLAYBOOK = `alert: Example
title: Example
runbook: example.md
steps:
  - id: pods
    title: Pods
    kubernetes:
      apiVersion: v1
      kind: Pod
causes:
  - id: bad
    title: Bad
    symptom:
      when: steps.pods.count > 0
      text: pods
    confidence: 0.5
    summary: "{{ steps.pods.count }} pods"
noCorrelation:
  title: No correlation
  summary: none
`;

/** The step that lists every Pod, as `steps.pods`. */
export const PODS_STEP = "  - { id: pods, title: pods, kubernetes: { apiVersion: v1, kind: Pod } }";

/**
 * A playbook of alert A that runs `steps` (YAML list items, indented two spaces) and concludes nothing: for tests of
 * how steps are scheduled, cut short and recorded. `deadline` is the playbook's (such as "200ms").
 */
export function stepsOnlyPlaybook(steps: string, options: { deadline?: string } = {}): CompiledPlaybook {
  return compilePlaybook(`
alert: A
title: t
runbook: r
${options.deadline !== undefined ? `deadline: ${options.deadline}\n` : ""}steps:
${steps}
causes: []
noCorrelation:
  title: No correlation found
  summary: nothing matched
`);
}
