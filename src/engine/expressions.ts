// CEL, the expression language Kubernetes itself uses, compiled once per rule file and evaluated over step results.
import { AsyncLocalStorage } from "node:async_hooks";
import { X509Certificate } from "node:crypto";
import { Environment } from "@marcbachmann/cel-js";
import { eventFirstSeen, eventLastSeen } from "../sources/event-times.ts";

export type Scope = Record<string, unknown>;
export type CompiledExpression = { source: string; evaluate: (scope: Scope) => unknown };

function asNumber(value: unknown): number {
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return value;
  return Number(value);
}

function isoTime(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  return Date.parse(String(value));
}

const clock = new AsyncLocalStorage<number>();

/**
 * Runs `run` (and everything it awaits) with the time functions (`secondsUntil`, `x509().secondsLeft`) measuring
 * against `at` instead of the real clock: playbook tests evaluate at a fixed time, `enricher diagnose --at` at the
 * moment an alert fired. Concurrent runs each keep their own time.
 */
export function atTime<T>(at: Date | number, run: () => T): T {
  return clock.run(typeof at === "number" ? at : at.getTime(), run);
}

/** The time expressions evaluate at, in ms since the epoch: the one set by atTime(), else now. */
export function evaluationTime(): number {
  return clock.getStore() ?? Date.now();
}

/** "10.0.0.5:6443" → "10.0.0.5", "[fd00::1]:443" → "fd00::1", "node-1" → "node-1". */
export function hostOf(instance: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(instance);
  if (bracketed?.[1]) return bracketed[1];
  const colons = instance.split(":").length - 1;
  if (colons === 1) return instance.slice(0, instance.indexOf(":"));
  return instance;
}

/** The workload that owns a pod, as kubectl names it: "deployment/web", "statefulset/db", "daemonset/agent", else "pod/x". */
export function workloadOf(pod: unknown): string {
  const metadata = (
    pod as {
      metadata?: {
        name?: string;
        labels?: Record<string, string>;
        ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>;
      };
    }
  )?.metadata;
  const owner = metadata?.ownerReferences?.find((o) => o.controller !== false) ?? metadata?.ownerReferences?.[0];
  const hash = metadata?.labels?.["pod-template-hash"];
  if (owner?.kind === "ReplicaSet" && owner.name) {
    return hash && owner.name.endsWith(`-${hash}`) ? `deployment/${owner.name.slice(0, -hash.length - 1)}` : `replicaset/${owner.name}`;
  }
  if (owner?.kind && owner.name && ["StatefulSet", "DaemonSet", "Job"].includes(owner.kind))
    return `${owner.kind.toLowerCase()}/${owner.name}`;
  return `pod/${metadata?.name ?? ""}`;
}

/**
 * The first certificate of a PEM bundle, or of its base64 (as CertificateSigningRequest.status.certificate arrives in
 * JSON): subject, issuer, validity and the seconds it has left.
 */
export function x509(encoded: string, now = evaluationTime()): Record<string, string | number> {
  const text = encoded.includes("-----BEGIN") ? encoded : Buffer.from(encoded, "base64").toString("utf8");
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (!pem) throw new Error("no PEM certificate found");
  const certificate = new X509Certificate(pem);
  const notAfter = new Date(certificate.validTo);
  return {
    subject: certificate.subject.replace(/\n/g, ", "),
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1] ?? "",
    issuer: certificate.issuer.replace(/\n/g, ", "),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    serialNumber: certificate.serialNumber,
    secondsLeft: Math.round((notAfter.getTime() - now) / 1000),
  };
}

/** 93784 → "1d 2h", 5400 → "1h 30m", 42 → "42s"; negative values read "expired …ago". */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const abs = Math.abs(Math.round(seconds));
  const parts: string[] = [];
  const d = Math.floor(abs / 86400);
  const h = Math.floor((abs % 86400) / 3600);
  const m = Math.floor((abs % 3600) / 60);
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && !d) parts.push(`${m}m`);
  if (parts.length === 0) parts.push(`${abs % 60}s`);
  const text = parts.slice(0, 2).join(" ");
  return seconds < 0 ? `${text} ago` : text;
}

function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return String(value);
  const text = value.toFixed(digits);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

const environment = new Environment({
  unlistedVariablesAreDyn: true,
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 2000, maxDepth: 50, maxListElements: 200, maxMapEntries: 200, maxCallArguments: 8 },
})
  .registerFunction("hostOf(string): string", (s: string) => hostOf(s))
  .registerFunction("containsAny(string, list): bool", (s: string, needles: unknown[]) => {
    const haystack = s.toLowerCase();
    return needles.some((n) => haystack.includes(String(n).toLowerCase()));
  })
  .registerFunction("workloadOf(dyn): string", (pod: unknown) => workloadOf(pod))
  .registerFunction("x509(string): map", (encoded: string) => x509(encoded))
  .registerFunction("secondsUntil(dyn): double", (t: unknown) => (isoTime(t) - evaluationTime()) / 1000)
  .registerFunction("latest(list): string", (items: unknown[]) =>
    items.map((i) => String(i)).reduce((a, b) => (Date.parse(b) > Date.parse(a) || !a ? b : a), ""),
  )
  .registerFunction("humanDuration(dyn): string", (seconds: unknown) => humanDuration(asNumber(seconds)))
  .registerFunction("lower(string): string", (s: string) => s.toLowerCase())
  .registerFunction("percent(dyn): string", (v: unknown) => `${formatNumber(asNumber(v) * 100, 1)}%`)
  .registerFunction("fixed(dyn, int): string", (v: unknown, digits: bigint) => formatNumber(asNumber(v), Number(digits)))
  .registerFunction("num(dyn): double", (v: unknown) => asNumber(v))
  .registerFunction("sum(list): double", (items: unknown[]) => items.reduce<number>((total, v) => total + asNumber(v), 0))
  .registerFunction("minutesBetween(dyn, dyn): double", (a: unknown, b: unknown) => (isoTime(b) - isoTime(a)) / 60_000)
  .registerFunction("firstSeen(dyn): string", (event: unknown) => eventFirstSeen(event))
  .registerFunction("lastSeen(dyn): string", (event: unknown) => eventLastSeen(event))
  .registerFunction("join(list, string): string", (items: unknown[], separator: string) => items.map(String).join(separator))
  .registerFunction("min(list): double", (items: unknown[]) => Math.min(...items.map(asNumber)))
  .registerFunction("max(list): double", (items: unknown[]) => Math.max(...items.map(asNumber)));

export class ExpressionError extends Error {}

export function compileExpression(source: string): CompiledExpression {
  let parsed: (scope: Scope) => unknown;
  try {
    parsed = environment.parse(source) as unknown as (scope: Scope) => unknown;
  } catch (error) {
    throw new ExpressionError(`invalid CEL expression ${JSON.stringify(source)}: ${firstLine(error)}`);
  }
  return {
    source,
    evaluate(scope) {
      try {
        return normalise(parsed(scope));
      } catch (error) {
        throw new ExpressionError(firstLine(error));
      }
    },
  };
}

/** CEL integers come back as bigint; the rest of the service speaks JSON numbers. */
function normalise(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(normalise);
  return value;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}

/** The step ids an expression reads, from `steps.<id>` and `steps.?<id>` references. */
export function referencedSteps(source: string): string[] {
  return [...source.matchAll(/\bsteps\.\??([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
}

/** The fact names an expression reads, from `facts.<name>` references. */
export function referencedFacts(source: string): string[] {
  return [...source.matchAll(/\bfacts\.\??([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
}
