// CLUSTERS_FILE: the clusters one service reads, each by the name the alerts' cluster label gives it, with its own
// Kubernetes access, Prometheus-compatible API and optional audit log. Read and checked once at start: every problem
// names the file, the line, the cluster and the field.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { Ajv, type ErrorObject, type JSONSchemaType } from "ajv";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";

/**
 * How to reach one cluster's API server. In a clusters file one of the fields is required; with none (only on the
 * single-cluster path) it is KUBECONFIG, then in-cluster, then ~/.kube/config.
 */
export interface KubernetesAccess {
  /** A kubeconfig file; without it a `context` is looked up in KUBECONFIG (or ~/.kube/config). */
  kubeconfig?: string;
  /** The kubeconfig context to use; without it the file's current-context. */
  context?: string;
  /** The pod's own ServiceAccount (the cluster this service runs in). */
  inCluster?: boolean;
}

export interface PrometheusAccess {
  url: string;
  bearerToken?: string;
  /** Read again for every query, as Prometheus reads its own credentials_file, so a rotated token is picked up. */
  bearerTokenFile?: string;
  /** Sent with every query: X-Scope-OrgID for a Mimir/Cortex tenant, a prom-label-proxy header. */
  headers?: Record<string, string>;
}

export type AuditLogAccess = { path: string } | { url: string };

export interface ClusterAccess {
  kubernetes: KubernetesAccess;
  prometheus: PrometheusAccess;
  auditLog?: AuditLogAccess;
}

/** One cluster as the file names it. */
export interface NamedCluster extends ClusterAccess {
  name: string;
}

export interface ClustersFile {
  /** The path the file was read from, for messages. */
  file: string;
  /** The alert label that names the cluster, when the file sets it. */
  clusterLabel?: string;
  /** The cluster an alert without the label is read against; without it such alerts are forwarded undiagnosed. */
  defaultCluster?: string;
  clusters: NamedCluster[];
}

export class ClustersFileError extends Error {}

/** What the YAML holds, before relative paths are resolved. */
interface ClustersDocument {
  clusterLabel?: string;
  default?: string;
  clusters: Record<string, { kubernetes: KubernetesAccess; prometheus: PrometheusAccess; auditLog?: { path?: string; url?: string } }>;
}

/** A Prometheus label name, as the alerts carry it. */
export const LABEL_NAME = "^[a-zA-Z_][a-zA-Z0-9_]*$";
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/** A header value Node will send: printable ASCII (and tabs) on one line. */
const HEADER_VALUE = "^[\\t\\x20-\\x7e]*$";
/** A cluster name: a label value without surrounding blanks. */
const CLUSTER_NAME = "^\\S(.*\\S)?$";

const path = { type: "string", minLength: 1 } as const;

export const clustersFileSchema: JSONSchemaType<ClustersDocument> = {
  $id: "https://alert-enricher.dev/schemas/clusters-file.json",
  title: "alert-enricher CLUSTERS_FILE",
  type: "object",
  additionalProperties: false,
  required: ["clusters"],
  properties: {
    clusterLabel: { type: "string", pattern: LABEL_NAME, nullable: true },
    default: { type: "string", minLength: 1, nullable: true },
    clusters: {
      type: "object",
      minProperties: 1,
      propertyNames: { type: "string", pattern: CLUSTER_NAME, maxLength: 253 },
      required: [],
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["kubernetes", "prometheus"],
        properties: {
          kubernetes: {
            type: "object",
            additionalProperties: false,
            required: [],
            properties: {
              kubeconfig: { ...path, nullable: true },
              context: { type: "string", minLength: 1, nullable: true },
              inCluster: { type: "boolean", nullable: true },
            },
          },
          prometheus: {
            type: "object",
            additionalProperties: false,
            required: ["url"],
            properties: {
              url: { type: "string", minLength: 1 },
              bearerToken: { type: "string", minLength: 1, nullable: true },
              bearerTokenFile: { ...path, nullable: true },
              headers: {
                type: "object",
                nullable: true,
                required: [],
                propertyNames: { type: "string", pattern: HEADER_NAME },
                additionalProperties: { type: "string", pattern: HEADER_VALUE },
              },
            },
          },
          auditLog: {
            type: "object",
            nullable: true,
            additionalProperties: false,
            required: [],
            properties: { path: { ...path, nullable: true }, url: { type: "string", minLength: 1, nullable: true } },
          },
        },
      },
    },
  },
};

const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false, verbose: true }).compile(clustersFileSchema);

type Segments = Array<string | number>;

/** Reads, checks and resolves the clusters file. Relative paths in it are relative to the file, as in a kubeconfig. */
export function readClustersFile(file: string): ClustersFile {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (error) {
    throw new ClustersFileError(`CLUSTERS_FILE ${file} could not be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false });
  const lineOf = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  if (document.errors.length > 0) {
    const [first] = document.errors;
    throw new ClustersFileError(`CLUSTERS_FILE ${file}:${lineOf(first?.pos[0])}: not YAML: ${first?.message.split("\n")[0] ?? ""}`);
  }
  /** `segments` find the line; `shown` (the parent of an unknown key, which the message names) what the message says. */
  const problem = (segments: Segments, message: string, shown: Segments = segments): string => {
    let line = 1;
    for (let n = segments.length; n > 0; n--) {
      // The line of the key itself: a value may start lines below it (a nested map).
      const parent = document.getIn(segments.slice(0, n - 1), true);
      const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === segments[n - 1]) : undefined;
      if (isScalar(pair?.key) && pair.key.range) {
        line = lineOf(pair.key.range[0]);
        break;
      }
    }
    return `CLUSTERS_FILE ${file}:${line}: ${where(shown)}${message}`;
  };
  const data: unknown = document.toJS();
  if (data === null || data === undefined) throw new ClustersFileError(`CLUSTERS_FILE ${file}: is empty; it needs clusters:`);
  if (!validate(data)) {
    // A bad key is reported once, by propertyNames, not again by the pattern it failed.
    const errors = (validate.errors ?? []).filter((e) => e.keyword === "propertyNames" || e.propertyName === undefined);
    throw new ClustersFileError(errors.map((e) => problem(...schemaProblem(e))).join("\n"));
  }
  const problems: string[] = [];
  const clusters: NamedCluster[] = [];
  for (const [name, entry] of Object.entries(data.clusters)) {
    const at = (...rest: Segments): Segments => ["clusters", name, ...rest];
    const report = (segments: Segments, message: string) => problems.push(problem(segments, message));
    const { kubernetes, prometheus, auditLog } = entry;
    if (kubernetes.inCluster === true && (kubernetes.kubeconfig !== undefined || kubernetes.context !== undefined)) {
      report(
        at("kubernetes", "inCluster"),
        "inCluster: true reads the pod's own ServiceAccount; it cannot be set with kubeconfig or context",
      );
    } else if (kubernetes.inCluster !== true && kubernetes.kubeconfig === undefined && kubernetes.context === undefined) {
      report(at("kubernetes"), "needs kubeconfig (a file), context (in KUBECONFIG), or both, or inCluster: true");
    }
    const problemWithUrl = httpUrlProblem(prometheus.url);
    if (problemWithUrl) report(at("prometheus", "url"), problemWithUrl);
    if (prometheus.bearerToken !== undefined && prometheus.bearerTokenFile !== undefined)
      report(at("prometheus", "bearerTokenFile"), "set only one of bearerToken and bearerTokenFile");
    const authorization = Object.keys(prometheus.headers ?? {}).find((h) => h.toLowerCase() === "authorization");
    if (authorization && (prometheus.bearerToken !== undefined || prometheus.bearerTokenFile !== undefined))
      report(at("prometheus", "headers", authorization), "an Authorization header cannot be set with bearerToken or bearerTokenFile");
    // The service sets these itself on every query; one set here would be overridden without a word.
    for (const header of Object.keys(prometheus.headers ?? {})) {
      if (["accept", "user-agent", "content-type", "content-length"].includes(header.toLowerCase()))
        report(at("prometheus", "headers", header), `${header} is set by the service itself and cannot be configured`);
    }
    let audit: AuditLogAccess | undefined;
    if (auditLog !== undefined) {
      if ((auditLog.path === undefined) === (auditLog.url === undefined)) report(at("auditLog"), "needs exactly one of path and url");
      else if (auditLog.url !== undefined) {
        const problemWithAuditUrl = httpUrlProblem(auditLog.url);
        if (problemWithAuditUrl) report(at("auditLog", "url"), problemWithAuditUrl);
        audit = { url: auditLog.url };
      } else audit = { path: relativeTo(file, auditLog.path as string) };
    }
    clusters.push({
      name,
      kubernetes: {
        ...kubernetes,
        ...(kubernetes.kubeconfig !== undefined ? { kubeconfig: relativeTo(file, kubernetes.kubeconfig) } : {}),
      },
      prometheus: {
        ...prometheus,
        url: prometheus.url.replace(/\/+$/, ""),
        ...(prometheus.bearerTokenFile !== undefined ? { bearerTokenFile: relativeTo(file, prometheus.bearerTokenFile) } : {}),
      },
      ...(audit ? { auditLog: audit } : {}),
    });
  }
  if (data.default !== undefined && !(data.default in data.clusters)) {
    problems.push(problem(["default"], `names no cluster of this file (${listNames(Object.keys(data.clusters))})`));
  }
  if (problems.length > 0) throw new ClustersFileError(problems.join("\n"));
  return {
    file,
    ...(data.clusterLabel !== undefined ? { clusterLabel: data.clusterLabel } : {}),
    ...(data.default !== undefined ? { defaultCluster: data.default } : {}),
    clusters,
  };
}

/** "a, b, c and 4 more": cluster names for a message, never an unbounded list. */
export function listNames(names: readonly string[], shown = 5): string {
  const head = names.slice(0, shown).join(", ");
  return names.length > shown ? `${head} and ${names.length - shown} more` : head;
}

/** `cluster "prod-eu": prometheus: ` — where in the file a problem is, in the words of the file. */
function where(segments: Segments): string {
  if (segments[0] !== "clusters" || segments.length < 2) return segments.length > 0 ? `${segments.join(".")}: ` : "";
  const field = segments.slice(2).join(".");
  return `cluster ${JSON.stringify(segments[1])}: ${field ? `${field}: ` : ""}`;
}

function schemaProblem(error: ErrorObject): [Segments, string, Segments?] {
  const segments: Segments = error.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  switch (error.keyword) {
    case "additionalProperties": {
      const field = String(error.params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return [
        [...segments, field],
        `unknown field ${JSON.stringify(field)}${allowed.length ? ` (known: ${allowed.join(", ")})` : ""}`,
        segments,
      ];
    }
    case "required":
      return [segments, `${String(error.params.missingProperty)} is required`];
    case "propertyNames": {
      const name = String(error.params.propertyName);
      const what = segments.at(-1) === "headers" ? "an HTTP header name" : "a cluster name without surrounding blanks";
      return [[...segments, name], `${JSON.stringify(name)} is not ${what}`, segments];
    }
    case "pattern":
      if (segments.at(-1) === "clusterLabel") return [segments, "must be a Prometheus label name (letters, digits, _)"];
      if (segments.at(-2) === "headers") return [segments, "a header value must be printable ASCII on one line"];
      return [segments, `does not match ${String(error.params.pattern)}`];
    case "minProperties":
      return [segments, "names no cluster"];
    default:
      return [segments, error.message ?? "is invalid"];
  }
}

function httpUrlProblem(raw: string): string | undefined {
  try {
    const parsed = new URL(raw);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return undefined;
  } catch {
    // reported below
  }
  // Never echo the value: it may carry user:password@.
  return "must be an http:// or https:// URL";
}

function relativeTo(file: string, target: string): string {
  return isAbsolute(target) ? target : resolve(dirname(file), target);
}
