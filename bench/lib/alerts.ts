// Alertmanager payloads for the benchmark: the tests' realistic KubeClientErrors payload, made unique per send so the
// receiver's deduplication (group key, status, fingerprints and startsAt) never folds two sends into one.
import { createHash } from "node:crypto";
import type { Alert, AlertmanagerPayload } from "../../src/model/alertmanager.ts";
import { kubeClientErrorsPayload } from "../../test/support/payloads.ts";

export const BENCH_TOKEN = "bench-token-0123456789abcdef0123";

let sequence = 0;

function fingerprint(seed: string): string {
  return createHash("sha256").update(seed).digest("hex").slice(0, 16);
}

/** One firing KubeClientErrors alert with these labels, its fingerprint and startsAt unique to this call. */
export function uniqueAlert(labels: Record<string, string>): Alert {
  sequence += 1;
  const base = kubeClientErrorsPayload(labels).alerts[0] as Alert;
  return {
    ...base,
    fingerprint: fingerprint(`${process.pid}/${sequence}/${JSON.stringify(labels)}`),
    // A distinct startsAt per alert, a minute or so ago, as a flapping alert would have.
    startsAt: new Date(Date.now() - 60_000 - (sequence % 100_000)).toISOString(),
  };
}

/** A notification carrying these alerts (one group, as Alertmanager groups by alertname). */
export function notification(alerts: Alert[]): AlertmanagerPayload {
  const first = alerts[0] as Alert;
  const common = Object.fromEntries(Object.entries(first.labels).filter(([k, v]) => alerts.every((a) => a.labels[k] === v)));
  return kubeClientErrorsPayload(first.labels, {
    alerts,
    commonLabels: common,
    commonAnnotations: alerts.length === 1 ? first.annotations : {},
  });
}

/** POSTs a payload to the receiver; resolves with the stored notification's id. */
export async function send(baseUrl: string, payload: AlertmanagerPayload): Promise<string> {
  const response = await fetch(`${baseUrl}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${BENCH_TOKEN}` },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { id?: string; duplicate?: boolean };
  if (response.status !== 200 || body.id === undefined)
    throw new Error(`the receiver answered ${response.status}: ${JSON.stringify(body)}`);
  if (body.duplicate) throw new Error("the receiver took a benchmark notification for a duplicate");
  return body.id;
}
