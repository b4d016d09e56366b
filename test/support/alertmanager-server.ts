// The real Alertmanager (Debian's `prometheus-alertmanager` package, 0.25) on 127.0.0.1, for end-to-end tests: one
// route to one webhook receiver (the service), with a bearer token in http_config and send_resolved.
// A missing binary is an Error naming the apt package: a test using it fails, it never skips.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { startDaemon } from "./prometheus-server.ts";

export interface AlertmanagerOptions {
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
 * Starts Debian's `prometheus-alertmanager` with the command line of machine-facts.md: an empty
 * `--cluster.listen-address=` (no gossip) and `--web.external-url` set to its own loopback URL (otherwise the payload's
 * URLs carry the host name). Waits for `/-/ready`.
 */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const daemon = await startDaemon({
    binary: "prometheus-alertmanager",
    aptPackage: "prometheus-alertmanager",
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
  return { url: daemon.url, output: daemon.output, stop: daemon.stop };
}
