// The two Prometheus + Alertmanager releases the alerting tests run on: Debian's packages (Prometheus 2.42,
// Alertmanager 0.25, installed by .ci/install-test-deps) and the current releases built from their Go modules by
// .ci/build-prometheus-stack (the versions in .ci/test-tools.env, e.g. Prometheus 3.16.0, Alertmanager 0.35.0).
import { testTool, testToolVersions } from "./test-tools.ts";

export interface AlertingStackBinaries {
  prometheus: string;
  promtool: string;
  alertmanager: string;
}

export interface AlertingStack {
  /** For test names: "Debian's Prometheus 2.42 / Alertmanager 0.25", "Prometheus 3.16.0 / Alertmanager 0.35.0 (built)". */
  name: string;
  /** The versions the binaries must report: a test checks that what it started is what it names. */
  prometheusVersion: RegExp;
  alertmanagerVersion: RegExp;
  /** The executables; throws, naming the fix, when a built one is missing (so the tests using it fail). */
  binaries(): AlertingStackBinaries;
}

/** Debian 12's packages. Another Debian release has others: the version tests then fail, and this is to be updated. */
export const DEBIAN_STACK: AlertingStack = {
  name: "Debian's Prometheus 2.42 / Alertmanager 0.25",
  prometheusVersion: /^2\.42\./,
  alertmanagerVersion: /^0\.25\./,
  binaries: () => ({ prometheus: "prometheus", promtool: "promtool", alertmanager: "prometheus-alertmanager" }),
};

function exactly(version: string | undefined): RegExp {
  return new RegExp(`^${(version ?? "unset").replaceAll(".", "\\.")}$`);
}

/** The releases .ci/build-prometheus-stack builds into the test tools cache (test-tools.ts). */
export function builtStack(): AlertingStack {
  const versions = testToolVersions();
  return {
    name: `Prometheus ${versions.PROMETHEUS_VERSION} / Alertmanager ${versions.ALERTMANAGER_VERSION} (built)`,
    prometheusVersion: exactly(versions.PROMETHEUS_VERSION),
    alertmanagerVersion: exactly(versions.ALERTMANAGER_VERSION),
    binaries: () => ({
      prometheus: testTool("prometheus", "PROMETHEUS_VERSION", "prometheus"),
      promtool: testTool("prometheus", "PROMETHEUS_VERSION", "promtool"),
      alertmanager: testTool("alertmanager", "ALERTMANAGER_VERSION", "alertmanager"),
    }),
  };
}

export function alertingStacks(): AlertingStack[] {
  return [DEBIAN_STACK, builtStack()];
}
