// The Helm chart docker/helm/alert-enricher, with the Helm that .ci/build-helm builds from its Go module
// (test/support/test-tools.ts finds it; missing, every test here fails with the fix, never skips):
// - `helm lint` passes, and `helm template` renders the default (SQLite) and HA (PostgreSQL) values;
// - every rendered object type-checks against the Kubernetes API's models, as test/deploy/manifests.test.ts does for
//   the Kustomize overlays;
// - one source of truth: the chart renders the same objects as `kubectl kustomize` of the overlays, apart from Helm's
//   labels and the ConfigMap's name hash; its ClusterRole, self-monitoring rules and routed alert names come from
//   copies of docker/'s files, kept byte-identical here, which cluster-role.test.ts, self-monitoring.test.ts and
//   manifests.test.ts check against rules/ and src/;
// - values.schema.json and the chart's own checks stop a wrong value with a message naming it;
// - `helm install --dry-run=server`, then a real install, upgrade and uninstall against the real kube-apiserver of the
//   tests (test/support/kube-apiserver.ts).
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { ANY_NAME, neededPermissions, permissionKey } from "../../src/check/needed-permissions.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { schemaCheck } from "../support/k8s-schema-check.ts";
import { type RealKubeApi, startRealKubeApi } from "../support/kube-apiserver.ts";
import { cleanUpKustomize, type K8sObject, renderOverlay } from "../support/kustomize.ts";
import { helmBinary } from "../support/test-tools.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CHART = join(ROOT, "docker", "helm", "alert-enricher");
const HA_VALUES = join(CHART, "values-ha-postgres.yaml");
const RELEASE = "alert-enricher";
const NAMESPACE = "alert-enricher";
/** The labels Helm charts add beside app.kubernetes.io/name; the Kustomize overlays have none of them. */
const HELM_LABELS = new Set(["app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"]);
/**
 * The chart's copies of docker/'s files (Helm reads nothing outside the chart, and a packaged chart must stand alone):
 * the ClusterRole whose rules cluster-role.test.ts derives from the playbooks, the self-monitoring rules
 * self-monitoring.test.ts checks against src/metrics.ts, the AlertmanagerConfig whose alert names manifests.test.ts
 * keeps equal to the playbooks'.
 */
const COPIED_FROM_DOCKER: Record<string, string> = {
  "clusterrole.yaml": "kubernetes/base/clusterrole.yaml",
  "alert-enricher-self.rules.yml": "monitoring/alert-enricher-self.rules.yml",
  "alertmanagerconfig.yaml": "alertmanager/alertmanagerconfig.yaml",
};
const MONITORING_ON = ["--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true,alertmanagerConfig.enabled=true"];

// Helm keeps its repositories, cache and plugins under these; a throwaway home keeps the tests off the user's.
const helmHome = mkdtempSync(join(tmpdir(), "enricher-helm-"));
afterAll(() => {
  rmSync(helmHome, { recursive: true, force: true });
  cleanUpKustomize();
});

function helmEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: helmHome,
    HELM_CACHE_HOME: join(helmHome, "cache"),
    HELM_CONFIG_HOME: join(helmHome, "config"),
    HELM_DATA_HOME: join(helmHome, "data"),
    // No cluster unless a test names one: `helm template` and `helm lint` need none.
    KUBECONFIG: join(helmHome, "no-kubeconfig"),
  };
}

function helm(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(helmBinary(), args, { encoding: "utf8", timeout: 120_000, env: { ...helmEnv(), ...env } });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Helm against the test API server. Never spawnSync: the API server is reached through a loopback bridge that runs on
 * this process's event loop (test/support/kube-apiserver.ts), which a synchronous child would stall.
 */
function helmOnCluster(args: string[], kubeconfig: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      helmBinary(),
      args,
      { encoding: "utf8", timeout: 120_000, env: { ...helmEnv(), KUBECONFIG: kubeconfig } },
      (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** `helm template` of the chart as release alert-enricher in namespace alert-enricher; throws with Helm's message on failure. */
function template(...args: string[]): K8sObject[] {
  const result = helm(["template", RELEASE, CHART, "--namespace", NAMESPACE, ...args]);
  if (result.status !== 0) throw new Error(`helm template ${args.join(" ")} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** The message `helm template` stops with, for values that must be refused. */
function refused(...args: string[]): string {
  const result = helm(["template", RELEASE, CHART, "--namespace", NAMESPACE, ...args]);
  expect(result.status, `helm template ${args.join(" ")} should fail; it rendered:\n${result.stdout.slice(0, 500)}`).not.toBe(0);
  return result.stderr;
}

const label = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

function the<T>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found.map(label), `one ${kind}${name ? ` ${name}` : ""}`).toHaveLength(1);
  return found[0] as unknown as T;
}

/**
 * An object as both renderers should agree on it: Helm's labels dropped wherever labels appear (metadata, selectors,
 * pod templates, affinity terms), the pods' checksum annotations dropped (Helm's way to roll them on a config change,
 * where Kustomize renames the ConfigMap), and the ConfigMap's content hash cut from its name and every reference.
 */
function comparable(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/^(alert-enricher-config)-[a-z0-9]{10}$/, "$1");
  if (Array.isArray(value)) return value.map(comparable);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value)
    .filter(([key]) => !HELM_LABELS.has(key) && !key.startsWith("checksum/"))
    .map(([key, v]) => [key, comparable(v)] as const)
    // An annotations map left empty by dropping the checksums is no annotations at all.
    .filter(([key, v]) => !(key === "annotations" && v !== null && typeof v === "object" && Object.keys(v).length === 0));
  return Object.fromEntries(entries);
}

function byName(objects: K8sObject[]): Record<string, unknown> {
  return Object.fromEntries(objects.map((o) => [label(comparable(o) as K8sObject), comparable(o)]));
}

describe("helm lint and helm template", () => {
  it("lints clean with the default and the HA values", () => {
    for (const values of [[], ["--values", HA_VALUES]]) {
      const result = helm(["lint", CHART, "--strict", ...values]);
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
    }
  });

  it("renders one replica on SQLite by default, with a PVC, a Recreate strategy and a Secret with a generated token", () => {
    const objects = template();
    expect(objects.map(label).sort()).toEqual(
      [
        "ClusterRole/alert-enricher-read",
        "ClusterRoleBinding/alert-enricher-read",
        "ConfigMap/alert-enricher-config",
        "Deployment/alert-enricher",
        "NetworkPolicy/alert-enricher",
        "PersistentVolumeClaim/alert-enricher-data",
        "Secret/alert-enricher",
        "Service/alert-enricher",
        "ServiceAccount/alert-enricher",
      ].sort(),
    );
    const deployment = the<k8s.V1Deployment>(objects, "Deployment");
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.strategy?.type).toBe("Recreate");
    const secret = the<k8s.V1Secret>(objects, "Secret");
    expect(Object.keys(secret.data ?? {})).toEqual(["WEBHOOK_BEARER_TOKEN"]);
    const token = Buffer.from(secret.data?.WEBHOOK_BEARER_TOKEN ?? "", "base64").toString();
    expect(token).toMatch(/^[A-Za-z0-9]{48}$/);
    // Generated per render (an install), not a constant every installation would share.
    const again = Buffer.from(the<k8s.V1Secret>(template(), "Secret").data?.WEBHOOK_BEARER_TOKEN ?? "", "base64").toString();
    expect(again).not.toBe(token);
  });

  it("renders two replicas on PostgreSQL with the HA values, DATABASE_URL from the Secret, and no Secret of its own", () => {
    const objects = template("--values", HA_VALUES);
    const deployment = the<k8s.V1Deployment>(objects, "Deployment");
    expect(deployment.spec?.replicas).toBe(2);
    const env = deployment.spec?.template.spec?.containers[0]?.env;
    expect(env).toEqual([{ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "alert-enricher", key: "DATABASE_URL" } } }]);
    expect(objects.map((o) => o.kind)).not.toContain("Secret");
    expect(objects.map((o) => o.kind)).not.toContain("PersistentVolumeClaim");
    expect(the<k8s.V1PodDisruptionBudget>(objects, "PodDisruptionBudget").spec?.minAvailable).toBe(1);
  });

  it("creates the Secret from values, every key a variable, and reads an existing one instead when named", () => {
    const fromValues = the<k8s.V1Secret>(
      template(
        "--values",
        HA_VALUES,
        "--set",
        "existingSecret=,secret.WEBHOOK_BEARER_TOKEN=0123456789abcdef0123,secret.DATABASE_URL=postgres://u:p@db:5432/e,secret.SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/X",
      ),
      "Secret",
    );
    const decoded = Object.fromEntries(Object.entries(fromValues.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
    expect(decoded).toEqual({
      WEBHOOK_BEARER_TOKEN: "0123456789abcdef0123",
      DATABASE_URL: "postgres://u:p@db:5432/e",
      SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/X",
    });
    const objects = template("--set", "existingSecret=my-credentials");
    expect(objects.map((o) => o.kind)).not.toContain("Secret");
    const container = the<k8s.V1Deployment>(objects, "Deployment").spec?.template.spec?.containers[0];
    expect(container?.envFrom?.map((source) => source.secretRef?.name).filter(Boolean)).toEqual(["my-credentials"]);
  });

  it("lets the Secret and the ConfigMap hold only variables src/config.ts reads", () => {
    const source = readFileSync(join(ROOT, "src", "config.ts"), "utf8");
    const known = new Set([...source.matchAll(/\b(?:text|integer|url|flag)\(\s*"([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1]));
    expect(known).toContain("WEBHOOK_BEARER_TOKEN");
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as {
      properties: { secret: { properties: Record<string, unknown> } };
    };
    const secretKeys = Object.keys(schema.properties.secret.properties);
    const configKeys = Object.keys(the<k8s.V1ConfigMap>(template(), "ConfigMap").data ?? {});
    expect([...secretKeys, ...configKeys].filter((name) => !known.has(name))).toEqual([]);
  });

  it("documents every value in the chart README's table, with its default", () => {
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Record<string, unknown>;
    const leaves = (value: unknown, path: string): string[] =>
      value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0 && path !== "resources"
        ? Object.entries(value).flatMap(([key, v]) => leaves(v, path ? `${path}.${key}` : key))
        : [path];
    const readme = readFileSync(join(CHART, "README.md"), "utf8");
    const rows = new Map([...readme.matchAll(/^\| `([\w.]+)` \| ([^|]*) \|/gm)].map((m) => [m[1] as string, (m[2] ?? "").trim()]));
    const paths = leaves(values, "");
    expect(paths.filter((path) => !rows.has(path))).toEqual([]);
    expect([...rows.keys()].filter((row) => !paths.includes(row) && !["config", "secret"].includes(row))).toEqual([]);
    for (const path of paths) {
      const value = path.split(".").reduce<unknown>((v, key) => (v as Record<string, unknown>)[key], values);
      if (!["string", "number", "boolean"].includes(typeof value)) continue;
      const cell = rows.get(path);
      expect(
        [`\`${String(value)}\``, `\`"${String(value)}"\``],
        `${path}: README says ${cell}, values.yaml ${JSON.stringify(value)}`,
      ).toContain(cell);
    }
  });

  it("names every object after the release, so two releases do not collide", () => {
    const result = helm(["template", "enricher-prod", CHART, "--namespace", "prod"]);
    expect(result.status, result.stderr).toBe(0);
    const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);
    for (const object of objects) expect(object.metadata.name, label(object)).toMatch(/^enricher-prod-alert-enricher(-|$)/);
    const deployment = the<k8s.V1Deployment>(objects, "Deployment");
    expect(deployment.spec?.selector.matchLabels).toEqual({
      "app.kubernetes.io/name": "alert-enricher",
      "app.kubernetes.io/instance": "enricher-prod",
    });
    const binding = the<k8s.V1ClusterRoleBinding>(objects, "ClusterRoleBinding");
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "enricher-prod-alert-enricher", namespace: "prod" }]);
  });

  it("rolls the pods when the configuration changes", () => {
    const checksum = (...args: string[]) =>
      the<k8s.V1Deployment>(template(...args), "Deployment").spec?.template.metadata?.annotations?.["checksum/config"];
    expect(checksum()).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum()).toBe(checksum());
    expect(checksum("--set", "config.LOG_LEVEL=debug")).not.toBe(checksum());
  });

  it("derives the pod's grace period from SHUTDOWN_TIMEOUT_SECONDS, so Kubernetes never kills a drain", () => {
    const grace = (...args: string[]) =>
      the<k8s.V1Deployment>(template(...args), "Deployment").spec?.template.spec?.terminationGracePeriodSeconds;
    expect(grace()).toBe(40);
    expect(grace("--set", "config.SHUTDOWN_TIMEOUT_SECONDS=60")).toBe(70);
  });
});

describe("the same objects as the Kustomize overlays", () => {
  it("default values: overlays/single-sqlite, plus the Secret the overlay leaves to a person", () => {
    const chart = template();
    const kustomize = renderOverlay("single-sqlite");
    const chartObjects = byName(chart.filter((o) => o.kind !== "Secret"));
    expect(Object.keys(chartObjects).sort()).toEqual(Object.keys(byName(kustomize)).sort());
    expect(chartObjects).toEqual(byName(kustomize));
    // The overlay's Deployment reads a Secret of that name, created by hand (docker/README.md step 2).
    expect(the<K8sObject>(chart, "Secret").metadata.name).toBe("alert-enricher");
  });

  it("values-ha-postgres.yaml: overlays/ha-postgres, object for object", () => {
    expect(byName(template("--values", HA_VALUES))).toEqual(byName(renderOverlay("ha-postgres")));
  });

  it("readSecrets: overlays/read-secrets's Role and RoleBinding", () => {
    const overlay = renderOverlay("read-secrets");
    const names = the<k8s.V1Role>(overlay, "Role").rules?.[0]?.resourceNames ?? [];
    const chart = template("--set", `readSecrets.enabled=true,readSecrets.names={${names.join(",")}}`).filter((o) =>
      ["Role", "RoleBinding"].includes(o.kind),
    );
    expect(byName(chart)).toEqual(byName(overlay));
  });

  it("would notice a difference: a changed probe, port or rule fails the comparison", () => {
    const kustomize = byName(renderOverlay("single-sqlite"));
    const changed = [
      template("--set", "service.port=8080"),
      template("--set", "resources.limits.memory=1Gi"),
      template("--set", "networkPolicy.prometheusPort=9091"),
    ];
    for (const objects of changed) expect(byName(objects.filter((o) => o.kind !== "Secret"))).not.toEqual(kustomize);
  });
});

describe("the ClusterRole, the self-monitoring rules and the Alertmanager route come from docker/", () => {
  it.each(Object.entries(COPIED_FROM_DOCKER))("files/%s is docker/%s, byte for byte", (copy, original) => {
    const expected = readFileSync(join(ROOT, "docker", original), "utf8");
    expect(
      readFileSync(join(CHART, "files", copy), "utf8") === expected,
      `docker/helm/alert-enricher/files/${copy} differs from docker/${original}: cp docker/${original} docker/helm/alert-enricher/files/${copy}`,
    ).toBe(true);
  });

  it("grants exactly what the playbooks read, as derived from rules/, and the base ClusterRole's rules", () => {
    const needed = neededPermissions(loadPlaybooks(join(ROOT, "rules")))
      .map(permissionKey)
      .sort();
    for (const args of [[], ["--values", HA_VALUES], ["--set", "readSecrets.enabled=true,readSecrets.names={a}"]]) {
      const role = the<k8s.V1ClusterRole>(template(...args), "ClusterRole");
      const granted = (role.rules ?? []).flatMap((rule) =>
        (rule.apiGroups ?? []).flatMap((group) =>
          (rule.resources ?? []).flatMap((resource) =>
            rule.verbs.flatMap((verb) =>
              (rule.resourceNames?.length ? rule.resourceNames : [ANY_NAME]).map((name) => permissionKey({ group, resource, verb, name })),
            ),
          ),
        ),
      );
      expect(granted.sort(), `the chart's ClusterRole with ${args.join(" ") || "default values"}`).toEqual(needed);
      expect(role.rules?.some((rule) => rule.nonResourceURLs?.length)).toBe(false);
    }
    const base = parse(readFileSync(join(ROOT, "docker", "kubernetes", "base", "clusterrole.yaml"), "utf8")) as k8s.V1ClusterRole;
    expect(the<k8s.V1ClusterRole>(template(), "ClusterRole").rules).toEqual(base.rules);
  });

  it("renders the ServiceMonitor, PrometheusRule and AlertmanagerConfig only when switched on", () => {
    const kinds = (...args: string[]) => template(...args).map((o) => o.kind);
    for (const kind of ["ServiceMonitor", "PrometheusRule", "AlertmanagerConfig"]) {
      expect(kinds()).not.toContain(kind);
      expect(kinds(...MONITORING_ON)).toContain(kind);
    }
  });

  it("the PrometheusRule carries docker/monitoring/alert-enricher-self.rules.yml's groups, the ServiceMonitor docker/monitoring's spec", () => {
    const objects = template(...MONITORING_ON, "--set", "prometheusRule.labels.release=kube-prometheus-stack");
    const rule = the<K8sObject & { spec: { groups: unknown } }>(objects, "PrometheusRule");
    const plain = parse(readFileSync(join(ROOT, "docker", "monitoring", "alert-enricher-self.rules.yml"), "utf8")) as { groups: unknown };
    expect(rule.spec.groups).toEqual(plain.groups);
    expect(rule.metadata.labels?.release).toBe("kube-prometheus-stack");
    const monitor = the<K8sObject>(objects, "ServiceMonitor");
    const shipped = parse(readFileSync(join(ROOT, "docker", "monitoring", "servicemonitor.yaml"), "utf8")) as K8sObject;
    expect(comparable(monitor.spec)).toEqual(shipped.spec);
    // It selects the chart's Service.
    const service = the<k8s.V1Service>(objects, "Service");
    expect(service.metadata?.labels).toMatchObject((monitor.spec as { selector: { matchLabels: object } }).selector.matchLabels);
  });

  it("the AlertmanagerConfig routes the playbooks' alerts to the Service with the Secret's token", () => {
    const alertNames = loadPlaybooks(join(ROOT, "rules"))
      .flatMap((p) => p.alertNames)
      .sort();
    const config = the<K8sObject & { spec: { route: { matchers: Array<{ value: string }> }; receivers: unknown } }>(
      template(...MONITORING_ON),
      "AlertmanagerConfig",
    );
    expect(config.metadata.namespace).toBe(NAMESPACE);
    expect(config.spec.route.matchers[0]?.value.split("|").sort()).toEqual(alertNames);
    expect(config.spec.receivers).toEqual([
      {
        name: "alert-enricher",
        webhookConfigs: [
          {
            url: "http://alert-enricher.alert-enricher.svc:9095/alerts",
            sendResolved: true,
            maxAlerts: 50,
            httpConfig: { authorization: { type: "Bearer", credentials: { name: "alert-enricher", key: "WEBHOOK_BEARER_TOKEN" } } },
          },
        ],
      },
    ]);
    const everything = the<K8sObject & { spec: { route: { matchers: Array<{ value: string }> } } }>(
      template(...MONITORING_ON, "--set", "alertmanagerConfig.alertnameRegex=.+"),
      "AlertmanagerConfig",
    );
    expect(everything.spec.route.matchers[0]?.value).toBe(".+");
  });

  it("NOTES.txt prints an alertmanager.yml route and receiver that amtool accepts", () => {
    const result = helm(["install", RELEASE, CHART, "--namespace", NAMESPACE, "--dry-run=client"]);
    expect(result.status, result.stderr).toBe(0);
    const notes = result.stdout.slice(result.stdout.indexOf("NOTES:"));
    expect(notes).toContain("kubectl -n alert-enricher get secret alert-enricher -o jsonpath='{.data.WEBHOOK_BEARER_TOKEN}'");
    const snippet = notes.slice(notes.indexOf("\nroute:") + 1);
    const dir = mkdtempSync(join(tmpdir(), "enricher-notes-"));
    try {
      const config = parse(snippet) as { route: Record<string, unknown>; receivers: unknown[] };
      const file = join(dir, "alertmanager.yml");
      writeFileSync(
        file,
        JSON.stringify({ route: { receiver: "default", ...config.route }, receivers: [{ name: "default" }, ...config.receivers] }),
      );
      const check = spawnSync("amtool", ["check-config", file], { encoding: "utf8", timeout: 30_000 });
      if ((check.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT")
        throw new Error("amtool is not installed: install Debian's prometheus-alertmanager package (bash .ci/install-test-deps does)");
      expect(check.status, check.stdout + check.stderr).toBe(0);
      const shipped = parse(readFileSync(join(ROOT, "docker", "alertmanager", "alertmanager.yml"), "utf8")) as typeof config;
      expect(config.receivers).toEqual(shipped.receivers.filter((r) => (r as { name: string }).name === "alert-enricher"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("schema check against the Kubernetes API models", () => {
  it("passes every object the chart renders, with every switch on", () => {
    const renders: Array<[string, string[]]> = [
      ["default", [...MONITORING_ON]],
      ["ha-postgres", ["--values", HA_VALUES, ...MONITORING_ON]],
      ["read-secrets", ["--set", "readSecrets.enabled=true,readSecrets.names={a-kubeconfig}"]],
    ];
    const objects = renders.flatMap(([name, args]) => template(...args).map((object) => ({ label: `${name}: ${label(object)}`, object })));
    expect(new Set(objects.map((o) => o.object.kind)).size).toBeGreaterThanOrEqual(14);
    const problems = schemaCheck(objects);
    expect(problems, problems.join("\n")).toEqual([]);
  }, 60_000);

  it("would reject a misspelt field in a rendered object", () => {
    const deployment = the<K8sObject>(template(), "Deployment");
    const broken = structuredClone(deployment) as K8sObject & { spec: Record<string, unknown> };
    broken.spec.replica = 2;
    expect(schemaCheck([{ label: "broken", object: broken }]).join("\n")).toMatch(/'"replica"' does not exist in type 'V1DeploymentSpec'/);
  }, 60_000);
});

describe("values.schema.json and the chart's checks refuse a wrong value, naming it", () => {
  it.each([
    ["more than one replica on SQLite", ["--set", "replicaCount=3"], "at '/replicaCount': value must be 1"],
    ["one replica on PostgreSQL", ["--values", HA_VALUES, "--set", "replicaCount=1"], "at '/replicaCount': minimum: got 1, want 2"],
    ["an unknown store", ["--set", "store.type=mysql"], "at '/store/type': value must be one of 'sqlite', 'postgres'"],
    ["a misspelt top-level key", ["--set", "replicas=2"], "additional properties 'replicas' not allowed"],
    [
      "a short bearer token",
      ["--set", "secret.WEBHOOK_BEARER_TOKEN=short"],
      "at '/secret/WEBHOOK_BEARER_TOKEN': minLength: got 5, want 16",
    ],
    [
      "an unknown credential",
      ["--set", "secret.SLACK_WEBHOOK=https://x"],
      "at '/secret': additional properties 'SLACK_WEBHOOK' not allowed",
    ],
    ["a port out of range", ["--set", "service.port=70000"], "at '/service/port': maximum: got 70,000, want 65,535"],
    ["a Secret name Kubernetes refuses", ["--set", "existingSecret=My_Secret"], "'My_Secret' does not match pattern"],
  ])("by the schema: %s", (_name, args, message) => {
    const stderr = refused(...args);
    expect(stderr).toContain("values don't meet the specifications of the schema(s)");
    expect(stderr).toContain(message);
  });

  it.each([
    ["DATABASE_URL among the plain settings", "config.DATABASE_URL=postgres://x", "config.DATABASE_URL is the chart's"],
    [
      "a credential among the plain settings",
      "config.SLACK_WEBHOOK_URL=https://x",
      "config.SLACK_WEBHOOK_URL is a credential: put it in secret.SLACK_WEBHOOK_URL",
    ],
    ["a setting that is no variable name", "config.logLevel=debug", "config.logLevel is not an environment variable name"],
  ])("by the chart: %s", (_name, set, message) => {
    expect(refused("--set", set)).toContain(message);
  });

  it("PostgreSQL without DATABASE_URL anywhere", () => {
    expect(refused("--set", "store.type=postgres,replicaCount=2")).toContain(
      "store.type=postgres needs DATABASE_URL: set secret.DATABASE_URL (postgres://user:password@host:5432/db), or existingSecret naming a Secret with a DATABASE_URL key",
    );
  });

  it("readSecrets without names", () => {
    expect(refused("--set", "readSecrets.enabled=true")).toContain("readSecrets.enabled needs readSecrets.names");
  });
});

describe("installed into a real kube-apiserver", () => {
  let api: RealKubeApi;
  const get = async (path: string) => (await api.call("GET", path)).status;

  /** prometheus-operator's CRDs, as far as the API server needs them to store the chart's objects. */
  async function monitoringCrds(): Promise<void> {
    const crds: Array<[string, string, string]> = [
      ["servicemonitors", "ServiceMonitor", "v1"],
      ["prometheusrules", "PrometheusRule", "v1"],
      ["alertmanagerconfigs", "AlertmanagerConfig", "v1alpha1"],
    ];
    for (const [plural, kind, version] of crds) {
      const answer = await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: "monitoring.coreos.com",
          scope: "Namespaced",
          names: { plural, kind, singular: kind.toLowerCase(), listKind: `${kind}List` },
          versions: [
            {
              name: version,
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    }
    for (const [plural, , version] of crds) {
      for (let tries = 0; (await get(`/apis/monitoring.coreos.com/${version}/${plural}`)) !== 200; tries++) {
        if (tries > 100) throw new Error(`the CRD ${plural} was not served within 10 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  beforeAll(async () => {
    helmBinary(); // fails here, naming the fix, before an API server is started for nothing
    api = await startRealKubeApi();
    await monitoringCrds();
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
  });

  const paths = (ns: string, name: string) => [
    `/api/v1/namespaces/${ns}/serviceaccounts/${name}`,
    `/api/v1/namespaces/${ns}/configmaps/${name}-config`,
    `/api/v1/namespaces/${ns}/services/${name}`,
    `/apis/apps/v1/namespaces/${ns}/deployments/${name}`,
    `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/${name}`,
    `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}-read`,
    `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}-read`,
  ];

  it("passes --dry-run=server without creating anything, then installs, upgrades keeping its token, and uninstalls", async () => {
    const install = ["install", RELEASE, CHART, "--namespace", NAMESPACE, "--create-namespace", ...MONITORING_ON];
    const dryRun = await helmOnCluster([...install, "--dry-run=server"], api.adminKubeconfig);
    expect(dryRun.status, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain("STATUS: pending-install");
    expect(await get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${RELEASE}`)).toBe(404);

    const installed = await helmOnCluster(install, api.adminKubeconfig);
    expect(installed.status, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("STATUS: deployed");
    const objects = [
      ...paths(NAMESPACE, RELEASE),
      `/api/v1/namespaces/${NAMESPACE}/secrets/${RELEASE}`,
      `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/${RELEASE}-data`,
      `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/servicemonitors/${RELEASE}`,
      `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/prometheusrules/${RELEASE}-self`,
      `/apis/monitoring.coreos.com/v1alpha1/namespaces/${NAMESPACE}/alertmanagerconfigs/${RELEASE}`,
    ];
    for (const path of objects) expect(await get(path), path).toBe(200);

    const token = async () => {
      const secret = (await api.call("GET", `/api/v1/namespaces/${NAMESPACE}/secrets/${RELEASE}`)).body as k8s.V1Secret;
      return Buffer.from(secret.data?.WEBHOOK_BEARER_TOKEN ?? "", "base64").toString();
    };
    const before = await token();
    expect(before).toMatch(/^[A-Za-z0-9]{48}$/);
    const upgraded = await helmOnCluster(
      ["upgrade", RELEASE, CHART, "--namespace", NAMESPACE, ...MONITORING_ON, "--set", "config.LOG_LEVEL=debug"],
      api.adminKubeconfig,
    );
    expect(upgraded.status, upgraded.stderr).toBe(0);
    expect(await token(), "Alertmanager's copy of the token stays valid across an upgrade").toBe(before);
    const config = (await api.call("GET", `/api/v1/namespaces/${NAMESPACE}/configmaps/${RELEASE}-config`)).body as k8s.V1ConfigMap;
    expect(config.data?.LOG_LEVEL).toBe("debug");

    const uninstalled = await helmOnCluster(["uninstall", RELEASE, "--namespace", NAMESPACE], api.adminKubeconfig);
    expect(uninstalled.status, uninstalled.stderr).toBe(0);
    for (const path of objects.filter((p) => !p.includes("persistentvolumeclaims"))) expect(await get(path), path).toBe(404);
    // No controller manager runs here to lift the PVC's protection finalizer: the claim is marked for deletion.
    const claim = await api.call("GET", `/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims/${RELEASE}-data`);
    expect(claim.status === 404 || (claim.body as k8s.V1PersistentVolumeClaim).metadata?.deletionTimestamp !== undefined).toBe(true);
  }, 180_000);

  it("installs the HA values beside it: two replicas, a PodDisruptionBudget, the PostgreSQL egress", async () => {
    const ns = "alert-enricher-ha";
    const installed = await helmOnCluster(
      ["install", "enricher-ha", CHART, "--namespace", ns, "--create-namespace", "--values", HA_VALUES],
      api.adminKubeconfig,
    );
    expect(installed.status, installed.stderr).toBe(0);
    const name = "enricher-ha-alert-enricher";
    for (const path of paths(ns, name)) expect(await get(path), path).toBe(200);
    const deployment = (await api.call("GET", `/apis/apps/v1/namespaces/${ns}/deployments/${name}`)).body as k8s.V1Deployment;
    expect(deployment.spec?.replicas).toBe(2);
    expect(await get(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`)).toBe(200);
    expect(await get(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/${name}-postgres`)).toBe(200);
    const listed = await helmOnCluster(["list", "--namespace", ns, "--output", "json"], api.adminKubeconfig);
    expect((JSON.parse(listed.stdout) as Array<{ name: string; status: string }>).map((r) => [r.name, r.status])).toEqual([
      ["enricher-ha", "deployed"],
    ]);
    const uninstalled = await helmOnCluster(["uninstall", "enricher-ha", "--namespace", ns], api.adminKubeconfig);
    expect(uninstalled.status, uninstalled.stderr).toBe(0);
    for (const path of paths(ns, name)) expect(await get(path), path).toBe(404);
  }, 180_000);
});
