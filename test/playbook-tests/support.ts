// A rules directory in a temporary folder holding one small playbook and one test file, for the runner's own tests:
// independent of the shipped playbooks, so their rework cannot change what these tests check.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import {
  type CaseResult,
  type PlaybookTestOptions,
  type PlaybookTestReport,
  runPlaybookTests,
  runPlaybookTestSuite,
} from "../../testkit/run-playbook-tests.ts";

/**
 * Example: the pods of `shop`, an instant error ratio, a 10-minute history, a deeper query run only above 50% errors,
 * the web pod's log of the last 10 minutes and the audit log's busiest clients.
 */
export const EXAMPLE_PLAYBOOK = `alert: Example
title: Example
runbook: example.md
steps:
  - id: pods
    title: Pods in shop
    kubernetes: { apiVersion: v1, kind: Pod, namespace: shop }
  - id: errors
    title: Error ratio
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m]))' }
  - id: history
    title: Error history
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m]))', range: 10m }
  - id: deep
    title: Only above 50% errors
    when: steps.errors.value != null && steps.errors.value > 0.5
    prometheus: { query: 'sum(rate(deep_total{job="web"}[5m]))' }
  - id: web_logs
    title: The web pod's recent log
    logs: { namespace: shop, pod: web-1, container: app, sinceSeconds: 600, patterns: { failed: failed } }
  - id: busiest
    title: Busiest clients
    audit: { aggregate: topUserAgents }
causes:
  - id: high_errors
    title: High errors
    symptom:
      when: steps.errors.value != null && steps.errors.value > 0.1
      text: "{{ percent(steps.errors.value) }} of requests fail"
      step: errors
    confidence: 0.8
    summary: "{{ percent(steps.errors.value) }} errors"
  - id: failing_logs
    title: Failures in the log
    symptom:
      when: steps.web_logs.matches.?failed.orValue(0) > 0
      text: "{{ steps.web_logs.matches.failed }} failures in the web pod's log"
      step: web_logs
    confidence: 0.5
    summary: "{{ steps.web_logs.matches.failed }} failures"
noCorrelation:
  title: No correlation
  summary: nothing matched
`;

/** A web pod in shop: the objects most cases start from. */
export const EXAMPLE_CLUSTER = `cluster:
  objects:
    - apiVersion: v1
      kind: Pod
      metadata: { name: web-1, namespace: shop, labels: { app: web } }
      spec: { nodeName: worker-1, containers: [{ name: app, image: registry.example.com/app:1.0 }] }
      status: { phase: Running, podIP: 10.244.1.50 }
`;

export interface RulesDir {
  dir: string;
  file: string;
  run(): Promise<CaseResult[]>;
  /** The cases, then the refutation and fault cases built from them. */
  suite(options?: PlaybookTestOptions): Promise<PlaybookTestReport>;
  remove(): void;
}

/** rules/ with the Example playbook and `tests/Example.yaml` holding `testFile`. */
export function rulesWith(testFile: string, playbook = EXAMPLE_PLAYBOOK): RulesDir {
  const dir = mkdtempSync(join(tmpdir(), "enricher-playbook-tests-"));
  mkdirSync(join(dir, "tests"));
  writeFileSync(join(dir, "Example.yaml"), playbook);
  const file = join(dir, "tests", "Example.yaml");
  writeFileSync(file, testFile);
  return {
    dir,
    file,
    run: () => runPlaybookTests(join(dir, "tests"), loadPlaybooks(dir)),
    suite: (options) => runPlaybookTestSuite(join(dir, "tests"), loadPlaybooks(dir), options),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The 1-based line of the first line of `text` that contains `needle`. */
export function lineOf(text: string, needle: string, after = ""): number {
  const lines = text.split("\n");
  const start = after ? lines.findIndex((l) => l.includes(after)) : 0;
  const index = lines.findIndex((l, i) => i >= start && l.includes(needle));
  if (index < 0) throw new Error(`no line contains ${needle}`);
  return index + 1;
}
