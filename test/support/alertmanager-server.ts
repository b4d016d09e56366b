// The real Alertmanager on 127.0.0.1, for end-to-end tests: one route to one webhook receiver (the service), with a
// bearer token in http_config and send_resolved. Debian's `prometheus-alertmanager` package (0.25) unless told which
// binary (a 0.3x built by .ci/build-prometheus-stack, alerting-stacks.ts). The same config and command line serve
// both: API v2 only (0.27 removed v1), an empty --cluster.listen-address for a single node without gossip.
// A missing binary is an Error naming the apt package: a test using it fails, it never skips.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { startDaemon } from "./prometheus-server.ts";

export interface AlertmanagerOptions {
  /** The Alertmanager executable. Default `prometheus-alertmanager` on PATH (Debian's package). */
  binary?: string;
  /** Where the receiver POSTs its notifications (the service's `/alerts`). */
  webhookUrl: string;
  /** Sent as `Authorization: Bearer <token>` (http_config.authorization.credentials). */
  bearerToken: string;
  /** Default ["alertname"]. */
  groupBy?: string[];
  /** Default 1s. */
  groupWait?: string;
  /** Default 5s. */
  groupInterval?: string;
  /** Default 1h: no repeat within a test. */
  repeatInterval?: string;
  /** Default "enricher". Alertmanager regex-escapes it in the payload (protocols.md 1.1). */
  receiver?: string;
}

export interface RunningAlertmanager {
  /** `http://127.0.0.1:<port>`, also its --web.external-url (the payload's externalURL). */
  url: string;
  /** The version it reports (`/api/v2/status`), e.g. "0.25.0". */
  version: string;
  output(): string;
  stop(): Promise<void>;
}

function alertmanagerConfig(options: AlertmanagerOptions): string {
  const receiver = options.receiver ?? "enricher";
  return stringify({
    route: {
      receiver,
      group_by: options.groupBy ?? ["alertname"],
      group_wait: options.groupWait ?? "1s",
      group_interval: options.groupInterval ?? "5s",
      repeat_interval: options.repeatInterval ?? "1h",
    },
    receivers: [
      {
        name: receiver,
        webhook_configs: [
          {
            url: options.webhookUrl,
            send_resolved: true,
            http_config: { authorization: { type: "Bearer", credentials: options.bearerToken } },
          },
        ],
      },
    ],
  });
}

/**
 * Starts Alertmanager (options.binary, else Debian's `prometheus-alertmanager`) with the command line of machine-facts.md: an empty
 * `--cluster.listen-address=` (no gossip) and `--web.external-url` set to its own loopback URL (otherwise the payload's
 * URLs carry the host name). Waits for `/-/ready`.
 */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const daemon = await startDaemon({
    binary: options.binary ?? "prometheus-alertmanager",
    ...(options.binary === undefined ? { aptPackage: "prometheus-alertmanager" } : {}),
    name: "e2e-alertmanager",
    args(dir, port) {
      const config = join(dir, "alertmanager.yml");
      writeFileSync(config, alertmanagerConfig(options));
      return [
        `--config.file=${config}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
        `--web.external-url=http://127.0.0.1:${port}`,
        "--log.level=info",
      ];
    },
  });
  try {
    const response = await fetch(`${daemon.url}/api/v2/status`);
    const body = (await response.json()) as { versionInfo?: { version?: string } };
    return { url: daemon.url, version: body.versionInfo?.version ?? "unknown", output: daemon.output, stop: daemon.stop };
  } catch (error) {
    await daemon.stop();
    throw error;
  }
}
