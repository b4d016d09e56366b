import { defineConfig } from "vitest/config";

// Tests that start child processes or real daemons (Prometheus, Alertmanager, PostgreSQL, kube-apiserver, Chromium,
// promtool, kubectl, Helm) or run for many seconds (the fuzzer). `npm test` runs them with everything else;
// `npm run test:unit` leaves them out, so it needs neither .ci/install-test-deps nor the Go-built binaries.
const SLOW = [
  "test/e2e/**/*.test.ts",
  "test/real-api-server/**/*.test.ts",
  "test/server/fuzz.test.ts",
  "test/alert-rules.test.ts",
  "test/main.test.ts",
  "test/main-config.test.ts",
  "test/main-store.test.ts",
  "test/cli-process.test.ts",
  "test/cli-replay.test.ts",
  "test/readme-demo.test.ts",
  "test/check/check-command.test.ts",
  "test/check/real-prometheus-check.test.ts",
  "test/deploy/helm-chart.test.ts",
  "test/deploy/manifests.test.ts",
  "test/deploy/self-monitoring.test.ts",
  "test/engine/injection.test.ts",
  "test/engine/remediation-injection.test.ts",
  "test/playbook-tests/prometheus-3.test.ts",
  "test/playbook-tests/promql-coverage.test.ts",
  "test/playbook-tests/real-prometheus.test.ts",
  "test/playbook-tests/run-playbook-tests.test.ts",
  "test/store/postgres-store.test.ts",
  // Real Slack pacing end to end: Retry-After and one update per 1.2 s waited out in real time (seconds per test).
  // test/sinks/destination-pacer.test.ts covers the pacing decisions on a given clock, in the unit project.
  "test/queue/delivery-pacing.test.ts",
  "test/sinks/slack-storm-message.test.ts",
  "test/sinks/slack-web-api-client.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts"], exclude: SLOW } },
      { extends: true, test: { name: "slow", include: SLOW } },
    ],
  },
});
