// Variables that look like settings but are none: each gets one warning naming the setting it most likely meant, and
// never its value.
import { describe, expect, it } from "vitest";
import { lookalikeVariables } from "../src/lookalike-variables.ts";

const SECRET = "xoxb-9999-lookalike-secret-value";

/** The warnings for these variable names, each set to SECRET. */
function warningsFor(...names: string[]): string[] {
  return lookalikeVariables(Object.fromEntries(names.map((name) => [name, SECRET]))).map((warning) => warning.message);
}

describe("lookalike variables", () => {
  it.each([
    ["SLACK_WEBHOOK", "SLACK_WEBHOOK_URL"],
    ["PAGERDUTY_INTEGRATION_KEY", "PAGERDUTY_ROUTING_KEY"],
    ["PAGERDUTY_SERVICE_KEY", "PAGERDUTY_ROUTING_KEY"],
    ["SLACK_TOKEN", "SLACK_BOT_TOKEN"],
    ["SLACK_CHANNEL_ID", "SLACK_CHANNEL"],
    ["PAGERDUTY_EMAIL", "PAGERDUTY_FROM_EMAIL"],
    ["PROMETHEUS_TOKEN", "PROMETHEUS_BEARER_TOKEN"],
    ["PROMETHEUS_ULR", "PROMETHEUS_URL"],
    ["KUBE_CONFIG", "KUBECONFIG"],
    ["CLUSTER_FILE", "CLUSTERS_FILE"],
    ["STORM_MIN_GROUP", "STORM_MIN_GROUPS"],
    ["REPORT_SECRET", "REPORT_SIGNING_SECRET"],
    ["DELIVERY_LEASE", "DELIVERY_LEASE_SECONDS"],
    ["AUDIT_LOG_FILE", "AUDIT_LOG_PATH"],
    ["slack_webhook_url", "SLACK_WEBHOOK_URL"],
  ])("%s is not a setting; did you mean %s?", (name, meant) => {
    expect(warningsFor(name)).toEqual([`${name} is not a setting; did you mean ${meant}?`]);
  });

  it("says a name with our prefix and no close setting is ignored, without guessing", () => {
    expect(warningsFor("SLACK_COLOR")).toEqual(["SLACK_COLOR is not a setting of alert-enricher and is ignored"]);
  });

  it("never shows a value", () => {
    const warnings = lookalikeVariables({ SLACK_WEBHOOK: SECRET, PAGERDUTY_INTEGRATION_KEY: SECRET, SLACK_COLOR: SECRET });
    expect(warnings).toHaveLength(3);
    expect(JSON.stringify(warnings)).not.toContain(SECRET);
  });

  it("warns once per variable, in name order, with the suggestion as a field for the log", () => {
    expect(lookalikeVariables({ SLACK_WEBHOOK: "x", PAGERDUTY_INTEGRATION_KEY: "y" })).toEqual([
      {
        variable: "PAGERDUTY_INTEGRATION_KEY",
        suggestion: "PAGERDUTY_ROUTING_KEY",
        message: "PAGERDUTY_INTEGRATION_KEY is not a setting; did you mean PAGERDUTY_ROUTING_KEY?",
      },
      {
        variable: "SLACK_WEBHOOK",
        suggestion: "SLACK_WEBHOOK_URL",
        message: "SLACK_WEBHOOK is not a setting; did you mean SLACK_WEBHOOK_URL?",
      },
    ]);
  });

  it("does not warn about the settings themselves, other variables, or what Kubernetes and kubectl set", () => {
    expect(
      warningsFor(
        "SLACK_WEBHOOK_URL",
        "PAGERDUTY_ROUTING_KEY",
        "KUBECONFIG",
        "CLUSTERS_FILE",
        "HOME",
        "PATH",
        "NODE_OPTIONS",
        // In every pod, for the API server and for each Service of the namespace (here ones named prometheus, slack).
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "KUBERNETES_SERVICE_PORT_HTTPS",
        "KUBERNETES_PORT",
        "KUBERNETES_PORT_443_TCP",
        "KUBERNETES_PORT_443_TCP_PROTO",
        "KUBERNETES_PORT_443_TCP_PORT",
        "KUBERNETES_PORT_443_TCP_ADDR",
        "PROMETHEUS_SERVICE_HOST",
        "PROMETHEUS_SERVICE_PORT_WEB",
        "PROMETHEUS_PORT_9090_TCP_ADDR",
        "SLACK_PORT",
        // kubectl's own.
        "KUBE_EDITOR",
        "KUBECTL_EXTERNAL_DIFF",
      ),
    ).toEqual([]);
  });
});
