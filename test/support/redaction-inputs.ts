// Inputs for the redaction tests and bench/redact.ts (issue #11 items 2 and 6): log lines built to make a
// backtracking regex work hard, and a list of 500 realistic Pods as a Kubernetes list step reads it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { event, pod } from "./kube-objects.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";

/** Each repeats a fragment that starts a credential pattern without ever finishing it. */

const SHAPES: Array<[name: string, prefix: string, unit: string, suffix?: string]> = [
  ["eyJ- (a JWT that never gets its dots)", "Unauthorized ", "eyJ-"],
  ['"password=" repeated', "", "password="],
  ['"Bearer " repeated', "", "Bearer "],
  ["one long base64 run", "", "QUJDRGVm+/0123456789"],
  ["a PEM private key with no end", "-----BEGIN RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA7b9Qz0123456789abcdef/+"],
  ['nested "a=b=c=…"', "", "a="],
  ['"-token-" in one word', "", "-token-x"],
  ['"token:" inside a key', "", "token"],
  ['"v1.Secret:" repeated', "", "*v1.Secret:"],
  ['a JSON "password" whose quote never closes', '{"password": "', "two words "],
  ['"Authorization: " repeated', "", "Authorization: "],
  ['"Cookie: a=b; " repeated', "Cookie: ", "a=b; "],
  ["URL userinfo with no @", "", "://user:pass"],
  ["Slack, GitHub, GitLab prefixes", "", "xoxb-ghp_glpat-xapp-AIza"],
  ["AKIA/ASIA runs", "", "AKIAASIA"],
  ["word boundaries everywhere", "", "-a"],
  ['"password" then only spaces', "password", " "],
  ['"Bearer" then only spaces', "Bearer", " "],
  ['"-----BEGIN A A A…" with no PRIVATE KEY', "-----BEGIN ", "A "],
  ['a JSON "password" full of backslashes', '{"password": "', "\\\\"],
  ['"token=a-a-a-…" (almost an object name)', "token=", "a-"],
  ["a JWT whose last part never ends", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.", "c2lnbmF0dXJl"],
];

/** The adversarial lines, each about `bytes` long (no newline inside). */
export function adversarialLines(bytes: number): Array<{ name: string; line: string }> {
  return SHAPES.map(([name, prefix, unit, suffix = ""]) => {
    const repeat = Math.max(1, Math.floor((bytes - prefix.length - suffix.length) / unit.length));
    return { name, line: prefix + unit.repeat(repeat) + suffix };
  });
}

/**
 * `count` Pods as a list step reads them (spread over namespaces, two containers each, labels, an env list, the
 * last-applied-configuration annotation kubectl leaves), about 4 KB of JSON each; one in 50 carries a credential.
 */
export function podList(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `web-${i}-7d4b9c7f8-x${(i * 7919).toString(36).padStart(4, "0")}`;
    const namespace = `team-${i % 20}`;
    const object = pod({
      name,
      namespace,
      labels: { app: "web", "app.kubernetes.io/instance": `web-${i}`, "pod-template-hash": "7d4b9c7f8" },
      annotations: {
        "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace },
          spec: {
            serviceAccountName: "web",
            automountServiceAccountToken: false,
            volumes: [{ name: "tls", secret: { secretName: "web-tls" } }],
          },
        }),
        "prometheus.io/scrape": "true",
      },
      containers: ["web", "istio-proxy"],
      serviceAccountName: "web",
      restarts: i % 3,
    });
    const spec = object.spec as { containers: Array<Record<string, unknown>> };
    for (const container of spec.containers) {
      container.env = [
        { name: "LOG_LEVEL", value: "info" },
        { name: "DB_HOST", value: `postgres.${namespace}.svc.cluster.local` },
        { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db-credentials", key: "password" } } },
        { name: "API_TOKEN", value: i % 50 === 0 ? "tok_0123456789abcdef0123" : "" },
        { name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: "http://otel-collector.observability:4317" },
      ];
      container.args = [
        "--port=8080",
        "--metrics-addr=:9090",
        i % 50 === 0 ? "--db-url=postgres://app:hunter2@db:5432/app" : "--db-url=postgres://db:5432/app",
      ];
    }
    return object;
  });
}

/** `count` Warning Events about those Pods, one in 50 quoting an Authorization header. */
export function eventList(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) =>
    event({
      namespace: `team-${i % 20}`,
      involvedObject: { kind: "Pod", name: `web-${i}` },
      reason: "Unhealthy",
      type: "Warning",
      message:
        i % 50 === 0
          ? 'Readiness probe failed: Get "http://10.244.1.17:8080/ready" with Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543: 401'
          : 'Readiness probe failed: Get "http://10.244.1.17:8080/ready": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
      count: 1 + (i % 7),
    }),
  );
}

/** Every log pattern in the shipped rule files (read from the YAML: the scan, not the playbook loader, is under test). */
export function shippedLogPatterns(): Record<string, string> {
  const patterns: Record<string, string> = {};
  const collect = (node: unknown, where: string): void => {
    if (Array.isArray(node)) node.forEach((item, i) => collect(item, `${where}.${i}`));
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "patterns" && value && typeof value === "object") {
          for (const [name, source] of Object.entries(value)) if (typeof source === "string") patterns[`${where}.${name}`] = source;
        } else collect(value, `${where}.${key}`);
      }
    }
  };
  for (const dir of ["rules", "rules/shared"]) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) collect(parse(readFileSync(join(dir, file), "utf8")), file);
  }
  return patterns;
}
