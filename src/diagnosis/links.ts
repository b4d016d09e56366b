// The links a person needs next to a diagnosis: runbook, Prometheus graph, a pre-filled Alertmanager silence.
import type { Alert } from "../model/alertmanager.ts";
import type { AlertLinks } from "../model/diagnosis.ts";

export function alertLinks(alert: Alert, options: { alertmanagerUrl?: string; externalURL: string; reportUrl?: string }): AlertLinks {
  const links: AlertLinks = {};
  const runbook = alert.annotations.runbook_url ?? alert.annotations.runbook;
  if (runbook && isHttpUrl(runbook)) links.runbook = runbook;
  if (isHttpUrl(alert.generatorURL)) links.graph = alert.generatorURL;
  const alertmanager = options.alertmanagerUrl || options.externalURL;
  if (isHttpUrl(alertmanager)) links.silence = silenceUrl(alertmanager, alert.labels);
  if (options.reportUrl) links.report = options.reportUrl;
  return links;
}

/** The Alertmanager UI's new-silence form, filtered on every label of the alert (ui/app Parsing.elm, Filter.elm). */
export function silenceUrl(alertmanagerUrl: string, labels: Record<string, string>): string {
  const filter = `{${Object.entries(labels)
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(", ")}}`;
  return `${alertmanagerUrl.replace(/\/+$/, "")}/#/silences/new?filter=${encodeURIComponent(filter)}`;
}

function isHttpUrl(value: string | undefined): value is string {
  if (!value) return false;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
