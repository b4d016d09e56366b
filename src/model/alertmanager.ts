// The Alertmanager webhook payload (version 4) as a TypeScript type and the JSON Schema that validates it.
// The schema is typed against the interface (ajv's JSONSchemaType), so the two cannot drift apart.
import type { JSONSchemaType } from "ajv";

export type AlertStatus = "firing" | "resolved";

export interface Alert {
  status: AlertStatus;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface AlertmanagerPayload {
  version: string;
  groupKey: string;
  truncatedAlerts: number;
  status: AlertStatus;
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: Alert[];
}

/** Alertmanager sends the Go zero time as the end of an alert that is still firing. */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";

// No count or length limits: Alertmanager never retries a 4xx, so a limit here would lose the notification. The body
// limit (BODY_LIMIT_BYTES, 413, counted) bounds what is stored; the renderers cut what is shown and say so, and
// MAX_PLAYBOOK_RUNS_PER_NOTIFICATION bounds what is diagnosed.
const stringMap: JSONSchemaType<Record<string, string>> = {
  type: "object",
  additionalProperties: { type: "string" },
  required: [],
};

const alertSchema: JSONSchemaType<Alert> = {
  type: "object",
  properties: {
    status: { type: "string", enum: ["firing", "resolved"] },
    labels: {
      ...stringMap,
      properties: { alertname: { type: "string", minLength: 1 } },
      required: ["alertname"],
    } as JSONSchemaType<Record<string, string>>,
    annotations: stringMap,
    startsAt: { type: "string", format: "date-time" },
    endsAt: { type: "string", format: "date-time" },
    generatorURL: { type: "string" },
    fingerprint: { type: "string", minLength: 1 },
  },
  required: ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"],
  additionalProperties: true,
};

export const alertmanagerPayloadSchema: JSONSchemaType<AlertmanagerPayload> = {
  $id: "alertmanager-webhook-v4",
  type: "object",
  properties: {
    version: { type: "string", const: "4" },
    groupKey: { type: "string", minLength: 1 },
    truncatedAlerts: { type: "integer", minimum: 0 },
    status: { type: "string", enum: ["firing", "resolved"] },
    receiver: { type: "string" },
    groupLabels: stringMap,
    commonLabels: stringMap,
    commonAnnotations: stringMap,
    externalURL: { type: "string" },
    alerts: { type: "array", items: alertSchema, minItems: 1 },
  },
  required: ["version", "groupKey", "status", "receiver", "groupLabels", "commonLabels", "commonAnnotations", "externalURL", "alerts"],
  additionalProperties: true,
};
