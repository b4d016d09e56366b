// A small playbook in the trust model (every cause gated by a symptom) and a test file around it, for the tests of
// faults, refutation and the fault matrix: independent of the shipped playbooks. Every step times out after 300 ms,
// so a case that makes a read hang costs little.

/**
 * `credentials_rejected`: the symptom is the error ratio above 10%; the explanations are the web ServiceAccount gone
 * and "Unauthorized" in the web pod's log. `pods_crashing`: a web pod restarted more than three times.
 */
export const FAULTS_PLAYBOOK = `alert: Example
title: Example
runbook: example.md
steps:
  - id: pods
    title: Pods in shop
    timeout: 300ms
    kubernetes: { apiVersion: v1, kind: Pod, namespace: shop }
  - id: account
    title: The web ServiceAccount
    timeout: 300ms
    kubernetes: { apiVersion: v1, kind: ServiceAccount, namespace: shop, name: web }
  - id: errors
    title: Error ratio
    timeout: 300ms
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m]))' }
  - id: deep
    title: Only above 50% errors
    timeout: 300ms
    when: steps.errors.value != null && steps.errors.value > 0.5
    prometheus: { query: 'sum(rate(deep_total{job="web"}[5m]))' }
  - id: web_logs
    title: The web pod's log
    timeout: 300ms
    logs: { namespace: shop, pod: web-1, container: app, patterns: { unauthorized: unauthorized } }
causes:
  - id: credentials_rejected
    title: Credentials rejected
    confidence: 0.8
    symptom:
      when: steps.errors.value != null && steps.errors.value > 0.1
      text: "{{ percent(steps.errors.value) }} of requests fail"
      step: errors
    summary: credentials rejected on {{ percent(steps.errors.value) }} of requests
    evidence:
      - step: account
        when: steps.account.found == false
        text: ServiceAccount shop/web does not exist
      - step: web_logs
        when: steps.web_logs.matches.unauthorized > 0
        text: the log says Unauthorized
    remediation: [kubectl -n shop create serviceaccount web]
  - id: pods_crashing
    title: The web pods crash
    confidence: 0.6
    symptom:
      when: steps.pods.items.exists(p, p.status.?containerStatuses.orValue([]).exists(c, c.restartCount > 3))
      text: a web pod restarts
      step: pods
    summary: the web pods crash
noCorrelation:
  title: No correlation
  summary: nothing matched
  remediation: [restart everything]
`;

/** FAULTS_PLAYBOOK with `from` replaced by `to` (which must be there). */
export function faultsPlaybookWith(from: string, to: string): string {
  if (!FAULTS_PLAYBOOK.includes(from)) throw new Error(`the playbook has no ${from}`);
  return FAULTS_PLAYBOOK.replace(from, to);
}

/** A test file for FAULTS_PLAYBOOK: pod web-1 in shop, no ServiceAccount web, "Unauthorized" in its log. */
export function faultsFile(cases: string): string {
  return `playbook: Example
baseCluster: false
cluster:
  objects:
    - apiVersion: v1
      kind: Pod
      metadata: { name: web-1, namespace: shop, labels: { app: web } }
      spec: { nodeName: worker-1, containers: [{ name: app, image: registry.example.com/app:1.0 }] }
      status: { phase: Running, podIP: 10.244.1.50, containerStatuses: [{ name: app, ready: true, restartCount: 0, state: { running: { startedAt: now-2h } } }] }
  logs:
    shop/web-1/app: |
      E1123 09:41:07.118273 1 client.go:80] request failed: Unauthorized
cases:${cases}
`;
}

/** The demo case: credentials rejected on 30% of requests, with both explanations seen. */
export const DEMO_CASE = `
  - name: blames the rejected credentials
    demo: true
    prometheus: { errors: [{ value: 0.3 }] }
    expect: { cause: credentials_rejected }`;
