// Type-checks rendered Kubernetes objects against the Kubernetes API's own models (the OpenAPI-generated classes of
// @kubernetes/client-node) with the TypeScript compiler: each object becomes an object literal of its model type, and
// TypeScript's excess-property check reaches every nested literal, so an unknown field anywhere fails, as do a wrong
// type and a missing required field, as the API server's strict field validation would. prometheus-operator's kinds
// (AlertmanagerConfig, ServiceMonitor, PrometheusRule) are typed below from its Go types, as far as these charts use them.
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import ts from "typescript";
import type { K8sObject } from "./kustomize.ts";

/** From prometheus-operator's pkg/apis/monitoring/v1alpha1 (AlertmanagerConfig) and v1 (ServiceMonitor, PrometheusRule). */
const PROMETHEUS_OPERATOR_TYPES = `
interface SecretKeySelector { name: string; key: string; optional?: boolean }
interface Matcher { name: string; value?: string; matchType?: "=" | "!=" | "=~" | "!~"; regex?: boolean }
interface Route {
  receiver?: string; groupBy?: string[]; groupWait?: string; groupInterval?: string; repeatInterval?: string;
  matchers?: Matcher[]; continue?: boolean; routes?: unknown[]; muteTimeIntervals?: string[]; activeTimeIntervals?: string[];
}
interface SafeAuthorization { type?: string; credentials?: SecretKeySelector }
interface HTTPConfig {
  authorization?: SafeAuthorization; basicAuth?: unknown; oauth2?: unknown; bearerTokenSecret?: SecretKeySelector;
  tlsConfig?: unknown; proxyURL?: string; followRedirects?: boolean;
}
interface WebhookConfig { sendResolved?: boolean; url?: string; urlSecret?: SecretKeySelector; httpConfig?: HTTPConfig; maxAlerts?: number; timeout?: string }
interface Receiver { name: string; webhookConfigs?: WebhookConfig[] }
interface AlertmanagerConfig {
  apiVersion: "monitoring.coreos.com/v1alpha1"; kind: "AlertmanagerConfig"; metadata: k8s.V1ObjectMeta;
  spec: { route?: Route; receivers?: Receiver[]; inhibitRules?: unknown[]; muteTimeIntervals?: unknown[] };
}
interface Endpoint {
  port?: string; targetPort?: string | number; path?: string; scheme?: "http" | "https"; params?: { [k: string]: string[] };
  interval?: string; scrapeTimeout?: string; honorLabels?: boolean; honorTimestamps?: boolean; followRedirects?: boolean;
  authorization?: SafeAuthorization; tlsConfig?: unknown; relabelings?: unknown[]; metricRelabelings?: unknown[];
}
interface ServiceMonitor {
  apiVersion: "monitoring.coreos.com/v1"; kind: "ServiceMonitor"; metadata: k8s.V1ObjectMeta;
  spec: {
    jobLabel?: string; targetLabels?: string[]; podTargetLabels?: string[]; endpoints: Endpoint[];
    selector: k8s.V1LabelSelector; namespaceSelector?: { any?: boolean; matchNames?: string[] }; sampleLimit?: number;
  };
}
interface Rule {
  record?: string; alert?: string; expr: string | number; for?: string; keep_firing_for?: string;
  labels?: { [k: string]: string }; annotations?: { [k: string]: string };
}
interface RuleGroup {
  name: string; labels?: { [k: string]: string }; interval?: string; query_offset?: string; rules: Rule[];
  partial_response_strategy?: string; limit?: number;
}
interface PrometheusRule {
  apiVersion: "monitoring.coreos.com/v1"; kind: "PrometheusRule"; metadata: k8s.V1ObjectMeta; spec: { groups?: RuleGroup[] };
}
`;

const PROMETHEUS_OPERATOR_KINDS = new Set(["AlertmanagerConfig", "ServiceMonitor", "PrometheusRule"]);

/** The model class of a built-in kind (apps/v1 Deployment → k8s.V1Deployment), or one of the types above. */
function modelOf(object: K8sObject): string {
  if (object.apiVersion.startsWith("monitoring.coreos.com/") && PROMETHEUS_OPERATOR_KINDS.has(object.kind)) return object.kind;
  const version = object.apiVersion.split("/").pop() ?? "";
  return `k8s.${version.charAt(0).toUpperCase()}${version.slice(1)}${object.kind}`;
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}

/**
 * The object with its JSON field names turned into the model classes' property names where they differ (`from` is
 * `_from`, `continue` is `_continue`), by the attribute maps client-node's serializer uses. Unknown fields stay as
 * they are, for the type check to report.
 */
function toModelNames(value: unknown, type: string): unknown {
  if (value === null || typeof value !== "object") return value;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.map((item) => toModelNames(item, array[1] as string)) : value;
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toModelNames(v, map[1] as string)]));
  const attributes = (k8s as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>)[type]?.attributeTypeMap;
  if (!attributes || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      const attribute = attributes.find((a) => a.baseName === key);
      return attribute ? [attribute.name, toModelNames(v, attribute.type)] : [key, v];
    }),
  );
}

/** The diagnostics for each object, prefixed with its label; empty when all pass. */
export function schemaCheck(objects: Array<{ label: string; object: K8sObject }>): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const files = new Map<string, { label: string; text: string }>();
  objects.forEach(({ label, object }, index) => {
    const text = [
      'import type * as k8s from "@kubernetes/client-node";',
      PROMETHEUS_OPERATOR_TYPES,
      `export const object: ${modelOf(object)} = ${JSON.stringify(toModelNames(object, modelOf(object).replace(/^k8s\./, "")), null, 2)};`,
    ].join("\n");
    files.set(join(import.meta.dirname, `__rendered_${index}__.ts`), { label, text });
  });
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name)?.text ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const file = files.get(name);
    return file ? ts.createSourceFile(name, file.text, language) : getSourceFile.call(host, name, language, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  return [...files].flatMap(([name, { label }]) =>
    ts
      .getPreEmitDiagnostics(program, program.getSourceFile(name))
      .map((d) => `${label}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`),
  );
}
