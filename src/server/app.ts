// The HTTP receiver: verifies and stores a notification, then answers. Everything after runs from the store.
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from "fastify";
import type { CheckSummary } from "../check/check-line.ts";
import type { Config } from "../config.ts";
import { notificationCluster } from "../diagnosis/notification-cluster.ts";
import type { Metrics } from "../metrics.ts";
import { type AlertmanagerPayload, alertmanagerPayloadSchema } from "../model/alertmanager.ts";
import type { SinkHealthState } from "../sinks/sink-health.ts";
import type { BackendState } from "../sources/backend-guard.ts";
import type { Store } from "../store/store.ts";
import { challengeFor, createAuthCheck } from "./auth.ts";
import { notificationKey } from "./notification-key.ts";
import { type ReportRoutesOptions, reportRoutes } from "./report-routes.ts";

export interface AppDependencies {
  store: Store;
  metrics: Metrics;
  auth: Config["auth"];
  bodyLimitBytes: number;
  dedupWindowMs: number;
  /** The label naming the cluster: each notification is stored with its value, to count storms per cluster. */
  clusterLabel?: string;
  /** Wakes the worker so a stored notification is picked up at once rather than at the next poll. */
  onStored?: () => void;
  /** Beyond the store: e.g. whether the rules loaded. */
  readiness?: () => Promise<string | undefined>;
  /** Each backend's last state, shown by /readyz: a backend down makes diagnoses partial, not the pod unready. */
  backends?: () => Record<string, BackendState>;
  /** Each sink's last delivery state, shown among the backends by /readyz: a failing sink does not make the pod unready. */
  sinks?: () => Record<string, SinkHealthState>;
  /** The start-time preflight (`enricher check`): its summary once done, "running" before, undefined when not run. */
  preflight?: () => CheckSummary | "running" | undefined;
  logger?: FastifyServerOptions["loggerInstance"];
  /** The report pages under /reports; without it (no REPORT_SIGNING_SECRET) /reports/* answers 404. */
  reports?: ReportRoutesOptions;
}

const ajv = new Ajv({ allErrors: false, strict: false });
addFormats.default(ajv, ["date-time"]);
const validatePayload = ajv.compile(alertmanagerPayloadSchema);

export function describeSchemaError(error: ErrorObject): { field: string; message: string } {
  const base = error.instancePath || "/";
  if (error.keyword === "required") {
    const missing = String(error.params.missingProperty);
    return { field: `${error.instancePath}/${missing}`, message: `${missing} is required` };
  }
  const allowed = error.keyword === "enum" ? `: ${(error.params.allowedValues as string[]).join(", ")}` : "";
  const constant = error.keyword === "const" ? `: ${JSON.stringify(error.params.allowedValue)}` : "";
  return { field: base, message: `${base} ${error.message ?? "is invalid"}${allowed}${constant}` };
}

/** A body that is JSON but that no Alertmanager sends and that the service could not handle safely. */
class RejectedBody extends Error {
  readonly statusCode = 400;
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/**
 * An Alertmanager payload nests 4 levels deep. Far deeper bodies parse (JSON.parse does not recurse) but cannot be
 * stored: JSON.stringify overflows the stack at about 4,500 levels, which made the store answer 503 (retry) forever.
 */
export const MAX_BODY_DEPTH = 64;

function pointer(parents: string[]): string {
  const segments = parents.map((key) => (key.length > 64 ? `${key.slice(0, 64)}…` : key).replace(/~/g, "~0").replace(/\//g, "~1"));
  return segments.length === 0 ? "/" : `/${segments.join("/")}`;
}

/** JSON.parse, then refuses bodies nested deeper than MAX_BODY_DEPTH and prototype-pollution keys, naming where. */
export function parseJsonBody(text: string): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    // Only a body that fails to parse is looked at again, to say why in words.
    const message = text.trim() === "" ? "the body is empty" : (error as Error).message;
    throw Object.assign(new Error(message), { statusCode: 400 });
  }
  // Iterative, with the path kept as parent links, so neither depth nor long keys cost recursion or quadratic strings.
  interface Node {
    value: unknown;
    key: string;
    parent: Node | undefined;
    depth: number;
  }
  const path = (node: Node): string[] => {
    const keys: string[] = [];
    for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) keys.unshift(n.key);
    return keys;
  };
  if (body === null || typeof body !== "object") return body;
  // Only objects and arrays are visited: most values in a payload are strings, and nothing below them can nest.
  const stack: Node[] = [{ value: body, key: "", parent: undefined, depth: 1 }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.depth > MAX_BODY_DEPTH)
      throw new RejectedBody(
        pointer(path(node)),
        `${pointer(path(node))} nests deeper than ${MAX_BODY_DEPTH} levels; an Alertmanager payload never does`,
      );
    const container = node.value as Record<string, unknown>;
    for (const key of Object.keys(container)) {
      const value = container[key];
      const nests = value !== null && typeof value === "object";
      if (key === "__proto__" || (key === "constructor" && nests && Object.hasOwn(value, "prototype"))) {
        const at = pointer(path({ value, key, parent: node, depth: node.depth + 1 }));
        throw new RejectedBody(at, `${at}: the key ${key} is refused (prototype pollution)`);
      }
      if (nests) stack.push({ value, key, parent: node, depth: node.depth + 1 });
    }
  }
  return body;
}

/**
 * Requests whose success is not worth an info line: probes arrive every few seconds from every kubelet and
 * Prometheus, and a stored webhook already has its own "notification stored" line.
 */
const QUIET_WHEN_OK = new Set(["/healthz", "/readyz", "/metrics", "/alerts"]);

/** The path without its query string, so no token in a link reaches the logs. */
function pathOnly(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

export function buildApp(deps: AppDependencies): FastifyInstance {
  const app = Fastify({
    bodyLimit: deps.bodyLimitBytes,
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    return503OnClosing: true,
    // Fastify's own request lines carry the full URL, and a report link's query string is a bearer credential.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.addHook("onResponse", async (request, reply) => {
    const line = { method: request.method, path: pathOnly(request.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (QUIET_WHEN_OK.has(line.path) && reply.statusCode < 400) request.log.debug(line, "request");
    else request.log.info(line, "request");
    // The route's pattern (/reports/:id), never the URL: a report link's query string is a bearer credential, and
    // unmatched paths are one label value, so a scanner cannot grow the series without bound.
    deps.metrics.httpRequestDuration.observe(
      { route: request.routeOptions.url ?? "unmatched", method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  const authorized = createAuthCheck(deps.auth);
  const challenge = challengeFor(deps.auth);

  // JSON only: Fastify's text/plain parser would hand the schema a string, answered "/ must be object" instead of 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === "string" ? body : body.toString("utf8")));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, request, reply) => {
    if (error instanceof RejectedBody) {
      deps.metrics.rejected.inc({ reason: "schema" });
      return reply.code(400).send({ error: "invalid payload", field: error.field, message: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status === 413) {
      deps.metrics.rejected.inc({ reason: "too_large" });
      return reply
        .code(413)
        .send({ error: "payload too large", message: `the body is over the limit of ${deps.bodyLimitBytes} bytes (BODY_LIMIT_BYTES)` });
    }
    if (status === 415) {
      deps.metrics.rejected.inc({ reason: "content_type" });
      return reply.code(415).send({ error: "unsupported media type", message: "send the Alertmanager payload as application/json" });
    }
    if (status === 400) {
      deps.metrics.rejected.inc({ reason: "invalid_json" });
      return reply.code(400).send({ error: "invalid JSON", message: error.message });
    }
    request.log.error({ err: error }, "request failed");
    return reply.code(500).send({ error: "internal error" });
  });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    // Ready means Alertmanager can deliver: the store writes and the rules loaded. Backends, sinks and the preflight are shown
    // so a person sees why diagnoses are partial, but never make the pod unready.
    const preflight = deps.preflight?.();
    const shown = {
      ...(deps.backends || deps.sinks ? { backends: { ...deps.backends?.(), ...deps.sinks?.() } } : {}),
      ...(preflight !== undefined ? { check: preflight === "running" ? { state: "running" } : preflight } : {}),
    };
    try {
      await deps.store.checkWritable();
    } catch (error) {
      return reply.code(503).send({ status: "not ready", reason: `store: ${(error as Error).message}`, ...shown });
    }
    const problem = await deps.readiness?.();
    if (problem) return reply.code(503).send({ status: "not ready", reason: problem, ...shown });
    return { status: "ready", ...shown };
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("Content-Type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  if (deps.reports) app.register(reportRoutes, deps.reports);

  app.register(async (receiver) => {
    // Credentials are checked before the body is read, so an unauthenticated caller cannot make us parse anything.
    receiver.addHook("onRequest", async (request, reply) => {
      if (authorized(request.headers.authorization)) return;
      deps.metrics.rejected.inc({ reason: "unauthorized" });
      if (challenge) reply.header("WWW-Authenticate", challenge);
      return reply.code(401).send({
        error: "unauthorized",
        message: "missing or wrong credentials: send the token set in WEBHOOK_BEARER_TOKEN or WEBHOOK_BASIC_AUTH",
      });
    });

    receiver.post("/alerts", async (request, reply) => {
      const body: unknown = request.body;
      if (!validatePayload(body)) {
        const problem = describeSchemaError((validatePayload.errors ?? [])[0] as ErrorObject);
        deps.metrics.rejected.inc({ reason: "schema" });
        return reply.code(400).send({ error: "invalid payload", field: problem.field, message: problem.message });
      }
      const payload = body as AlertmanagerPayload;
      let result: { id: string; duplicate: boolean };
      try {
        result = await deps.store.insertNotification({
          dedupKey: notificationKey(payload),
          payload,
          receivedAt: new Date(),
          dedupWindowMs: deps.dedupWindowMs,
          cluster: notificationCluster(payload, deps.clusterLabel ?? "cluster"),
        });
      } catch (error) {
        deps.metrics.rejected.inc({ reason: "store_unavailable" });
        request.log.error({ err: error }, "could not store a notification");
        // 5xx makes Alertmanager retry; a 4xx would make it drop the notification.
        return reply
          .code(503)
          .header("Retry-After", "5")
          .send({ error: "store unavailable", message: "the notification could not be stored; retry" });
      }
      if (result.duplicate) deps.metrics.duplicates.inc();
      else {
        deps.metrics.received.inc({ status: payload.status });
        deps.onStored?.();
      }
      request.log.info(
        { notification: result.id, groupKey: payload.groupKey, alerts: payload.alerts.length, duplicate: result.duplicate },
        "notification stored",
      );
      return reply.code(200).send({ status: "stored", id: result.id, duplicate: result.duplicate });
    });
  });

  return app;
}
