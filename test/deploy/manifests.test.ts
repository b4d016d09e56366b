// The deployment files, checked without a cluster or a Docker engine:
// - `kubectl kustomize` renders every overlay of docker/kubernetes (.ci/install-test-deps installs Debian's
//   kubernetes-client when no kubectl is on PATH; a missing kubectl fails the test, never skips it);
// - every rendered object type-checks against the Kubernetes API's own models (the OpenAPI-generated classes of
//   @kubernetes/client-node, a dependency already) with the TypeScript compiler: an unknown field (`spec.replica`), a
//   wrong type or a missing required field fails, as the API server's strict field validation would;
// - the security properties, probes, store, RBAC and NetworkPolicy of each overlay, and that every environment variable
//   the pods get is one src/config.ts reads;
// - docker/Dockerfile, statically, and then its file set run the way the image runs it (the bundle `npm run build`
//   makes, started by the CMD with the ENV, from a directory holding only what the Dockerfile copies), with its
//   HEALTHCHECK command, and the `enricher` command line it puts on the PATH;
// - the Alertmanager examples (amtool check-config; the routed alert names are the playbooks').
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { schemaCheck } from "../support/k8s-schema-check.ts";
import { cleanUpKustomize, type K8sObject, renderOverlay } from "../support/kustomize.ts";
import { killChildren, NODE, runNode, startNode } from "../support/node-process.ts";
import { freePort } from "../../testkit/loopback-server.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DOCKER = join(ROOT, "docker");
const KUSTOMIZE = join(DOCKER, "kubernetes");
const OVERLAYS = ["single-sqlite", "ha-postgres", "read-secrets"] as const;
type Overlay = (typeof OVERLAYS)[number];
const NAMESPACE = "alert-enricher";
const APP_LABELS = { "app.kubernetes.io/name": "alert-enricher" };

/** A NetworkPolicy as JSON: client-node's model calls `from` `_from` (a TypeScript keyword). */
type NetworkPolicyJson = Omit<k8s.V1NetworkPolicy, "spec"> & {
  spec?: Omit<k8s.V1NetworkPolicySpec, "ingress"> & {
    ingress?: Array<Omit<k8s.V1NetworkPolicyIngressRule, "_from"> & { from?: k8s.V1NetworkPolicyPeer[] }>;
  };
};

// ---- kubectl kustomize (test/support/kustomize.ts) ---------------------------------------------------------------

const render = (overlay: Overlay): K8sObject[] => renderOverlay(overlay);
afterAll(cleanUpKustomize);

function the<T>(objects: K8sObject[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(
    found.map((o) => `${o.kind}/${o.metadata.name}`),
    `one ${kind}${name ? ` ${name}` : ""}`,
  ).toHaveLength(1);
  return found[0] as unknown as T;
}

function readYaml<T>(path: string): T {
  return parse(readFileSync(path, "utf8")) as T;
}

// ---- what src/config.ts reads ------------------------------------------------------------------------------------

/** The variable names src/config.ts reads: every text("X"), integer("X", …), url("X", …) and flag("X"). */
function configVariables(): Set<string> {
  const source = readFileSync(join(ROOT, "src", "config.ts"), "utf8");
  return new Set([...source.matchAll(/\b(?:text|integer|url|flag)\(\s*"([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1] as string));
}

/** Every variable a container gets: env, each ConfigMap's data (envFrom) and the Secret's keys (secret.example.yaml). */
function containerVariables(container: k8s.V1Container, objects: K8sObject[]): Array<{ name: string; from: string }> {
  const secretExample = readYaml<k8s.V1Secret>(join(KUSTOMIZE, "base", "secret.example.yaml"));
  const vars = (container.env ?? []).map((e) => ({ name: e.name, from: "env" }));
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const map = the<k8s.V1ConfigMap>(objects, "ConfigMap", source.configMapRef.name);
      vars.push(...Object.keys(map.data ?? {}).map((name) => ({ name, from: `ConfigMap ${source.configMapRef?.name}` })));
    }
    if (source.secretRef) {
      expect(source.secretRef.name, "the Secret secret.example.yaml describes").toBe(secretExample.metadata?.name);
      vars.push(...Object.keys(secretExample.stringData ?? {}).map((name) => ({ name, from: "Secret (secret.example.yaml)" })));
    }
  }
  return vars;
}

// ---- the Dockerfile ----------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}

/** Instructions of each stage, continuation lines joined, comments dropped; ARG defaults substituted into FROM. */
function dockerfileStages(): Array<{ from: string; name?: string; instructions: Instruction[] }> {
  const text = readFileSync(join(DOCKER, "Dockerfile"), "utf8");
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args = new Map<string, string>();
  const stages: Array<{ from: string; name?: string; instructions: Instruction[] }> = [];
  for (const line of lines) {
    const [, op = "", rest = ""] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest.replace(/\s+/g, " ") };
    if (instruction.op === "ARG" && stages.length === 0) {
      const [name = "", value = ""] = instruction.args.split("=");
      args.set(name, value);
    } else if (instruction.op === "FROM") {
      const [image = "", , name] = instruction.args.replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? "").split(" ");
      stages.push({ from: image, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The JSON (exec) form of CMD or HEALTHCHECK … CMD. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf("["));
  return JSON.parse(json) as string[];
}

/** The `ln -s TARGET NAME` of the final stage's RUN instructions that puts `enricher` on the PATH. */
function enricherLink(): { target: string; name: string } | undefined {
  for (const run of dockerfileStages()
    .at(-1)
    ?.instructions.filter((i) => i.op === "RUN") ?? []) {
    const match = /\bln -s (\S+) (\S*\/enricher)\b/.exec(run.args);
    if (match) return { target: match[1] as string, name: match[2] as string };
  }
  return undefined;
}

/** package.json's start script, `[NAME=value …] node [--flag …] FILE`: the environment it sets and the command. */
function startScript(): { env: Record<string, string>; command: string[] } {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const words = scripts.start.split(" ");
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=\S+$/.test(words[0] ?? "")) {
    const [name = "", value = ""] = (words.shift() as string).split("=");
    env[name] = value;
  }
  return { env, command: words };
}

/** The final stage's ENV instructions (`NAME=value …`) as one map. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of dockerfileStages()
    .at(-1)
    ?.instructions.filter((i) => i.op === "ENV") ?? []) {
    for (const [, name = "", value = ""] of i.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[name] = value;
  }
  return env;
}

/**
 * What the final stage copies, where it copies it (relative to WORKDIR), under `root`/app: node_modules stands for the
 * deps stage's, and the build stage's dist/ is made by `npm run build` (what that stage runs) into the copy. Returns
 * that directory.
 */
function imageFileSet(root: string): string {
  const workdir = join(root, "app");
  mkdirSync(workdir, { recursive: true });
  for (const copy of dockerfileStages()
    .at(-1)
    ?.instructions.filter((i) => i.op === "COPY") ?? []) {
    const [source = "", target = ""] = copy.args.replace(/^--from=\S+ /, "").split(" ");
    if (copy.args.startsWith("--from=deps ")) symlinkSync(join(ROOT, "node_modules"), join(workdir, target));
    else if (copy.args.startsWith("--from=build ")) buildBundle(join(workdir, target));
    else cpSync(join(ROOT, source), join(workdir, target, target.endsWith("/") ? source : ""), { recursive: true });
  }
  return workdir;
}

/** `npm run build`, its output directory moved to `outdir`. */
function buildBundle(outdir: string): void {
  const build = spawnSync("npm", ["run", "--silent", "build", "--", `--outdir=${outdir}`], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(build.status, `npm run build: ${build.stderr}`).toBe(0);
}

// ---- the tests ---------------------------------------------------------------------------------------------------

describe("kubectl kustomize renders every overlay", () => {
  it.each(OVERLAYS)("renders %s", (overlay) => {
    const objects = render(overlay);
    expect(objects.length).toBeGreaterThan(0);
    expect(
      objects.filter((o) => o.kind === "Secret"),
      "no credential is ever in the kustomization",
    ).toEqual([]);
  });

  it("renders the kinds each overlay is meant to have", () => {
    const kinds = (overlay: Overlay) =>
      render(overlay)
        .map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, "")}`)
        .sort();
    const common = [
      "ClusterRole/alert-enricher-read",
      "ClusterRoleBinding/alert-enricher-read",
      "ConfigMap/alert-enricher-config",
      "Deployment/alert-enricher",
      "NetworkPolicy/alert-enricher",
      "Service/alert-enricher",
      "ServiceAccount/alert-enricher",
    ];
    expect(kinds("single-sqlite")).toEqual([...common, "PersistentVolumeClaim/alert-enricher-data"].sort());
    expect(kinds("ha-postgres")).toEqual([...common, "NetworkPolicy/alert-enricher-postgres", "PodDisruptionBudget/alert-enricher"].sort());
    expect(kinds("read-secrets")).toEqual(["Role/alert-enricher-read-secrets", "RoleBinding/alert-enricher-read-secrets"]);
  });
});

describe("schema check against the Kubernetes API models", () => {
  it("passes every rendered object, the Secret template and the AlertmanagerConfig", () => {
    const objects = OVERLAYS.flatMap((overlay) =>
      render(overlay).map((object) => ({ label: `${overlay}: ${object.kind}/${object.metadata.name}`, object })),
    );
    objects.push({ label: "base/secret.example.yaml", object: readYaml(join(KUSTOMIZE, "base", "secret.example.yaml")) });
    objects.push({
      label: "alertmanager/alertmanagerconfig.yaml",
      object: readYaml(join(DOCKER, "alertmanager", "alertmanagerconfig.yaml")),
    });
    const problems = schemaCheck(objects);
    expect(problems, problems.join("\n")).toEqual([]);
  }, 60_000);

  it("rejects an unknown field, a wrong type and a missing required field", () => {
    const deployment = the<K8sObject>(render("single-sqlite"), "Deployment", "alert-enricher");
    const broken = (mutate: (d: k8s.V1Deployment) => void): K8sObject => {
      const copy = structuredClone(deployment);
      mutate(copy as unknown as k8s.V1Deployment);
      return copy;
    };
    const problems = schemaCheck([
      { label: "spec.replica", object: broken((d) => Object.assign(d.spec ?? {}, { replica: 2 })) },
      { label: "replicas as a string", object: broken((d) => Object.assign(d.spec ?? {}, { replicas: "2" })) },
      {
        label: "container without a name",
        object: broken((d) => delete (d.spec?.template.spec?.containers[0] as Partial<k8s.V1Container>).name),
      },
      {
        label: "securityContext.runAsNonroot",
        object: broken((d) => Object.assign(d.spec?.template.spec?.containers[0] ?? {}, { securityContext: { runAsNonroot: true } })),
      },
      { label: "unknown kind", object: { apiVersion: "v1", kind: "Pdo", metadata: { name: "x" } } },
      {
        label: "NetworkPolicy ingress[0].form",
        object: {
          apiVersion: "networking.k8s.io/v1",
          kind: "NetworkPolicy",
          metadata: { name: "x" },
          spec: { podSelector: {}, ingress: [{ form: [] }] },
        },
      },
    ]);
    expect(problems.find((p) => p.startsWith("spec.replica:"))).toMatch(/'"replica"' does not exist in type 'V1DeploymentSpec'/);
    expect(problems.find((p) => p.startsWith("replicas as a string:"))).toMatch(/Type 'string' is not assignable to type 'number'/);
    expect(problems.find((p) => p.startsWith("container without a name:"))).toMatch(
      /Property ''name'' is missing in type .* but required in type 'V1Container'/,
    );
    expect(problems.find((p) => p.startsWith("securityContext.runAsNonroot:"))).toMatch(
      /'"runAsNonroot"' does not exist in type 'V1SecurityContext'/,
    );
    expect(problems.find((p) => p.startsWith("unknown kind:"))).toMatch(/V1Pdo/);
    expect(problems.find((p) => p.startsWith("NetworkPolicy ingress[0].form:"))).toMatch(
      /'"form"' does not exist in type 'V1NetworkPolicyIngressRule'/,
    );
    expect(problems).toHaveLength(6);
  }, 60_000);
});

describe.each(["single-sqlite", "ha-postgres"] as const)("the %s deployment", (overlay) => {
  const objects = () => render(overlay);
  const deployment = () => the<k8s.V1Deployment>(objects(), "Deployment", "alert-enricher");
  const pod = () => deployment().spec?.template.spec as k8s.V1PodSpec;
  const container = () => pod().containers[0] as k8s.V1Container;

  it(`is in the namespace ${NAMESPACE}, its objects labelled`, () => {
    for (const object of objects()) {
      if (!["ClusterRole", "ClusterRoleBinding"].includes(object.kind)) expect(object.metadata.namespace, object.kind).toBe(NAMESPACE);
      expect(object.metadata.labels, `${object.kind} labels`).toMatchObject(APP_LABELS);
    }
  });

  it("runs as non-root 10001 with a read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp", () => {
    expect(pod().securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod().containers).toHaveLength(1);
    expect(pod().initContainers ?? []).toEqual([]);
    expect(container().securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container().securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(container().securityContext?.privileged ?? false).toBe(false);
    expect(pod().hostNetwork ?? false).toBe(false);
    expect(pod().hostPID ?? false).toBe(false);
  });

  it("probes /healthz for liveness and /readyz for readiness on the service port", () => {
    const port = container().ports?.find((p) => p.name === "http");
    expect(port?.containerPort).toBe(9095);
    expect(container().livenessProbe?.httpGet).toMatchObject({ path: "/healthz", port: "http" });
    expect(container().readinessProbe?.httpGet).toMatchObject({ path: "/readyz", port: "http" });
    expect(container().startupProbe?.httpGet).toMatchObject({ path: "/healthz", port: "http" });
  });

  it("has the resources and shutdown time the service needs", () => {
    expect(container().resources).toEqual({ requests: { cpu: "100m", memory: "192Mi" }, limits: { cpu: "1", memory: "384Mi" } });
    expect(pod().terminationGracePeriodSeconds).toBe(40);
    // SIGTERM arrives after the preStop pause; the service must be done before the grace period ends in SIGKILL.
    const pause = Number(
      container()
        .lifecycle?.preStop?.exec?.command?.join(" ")
        .match(/^sleep (\d+)$/)?.[1],
    );
    const configMap = the<k8s.V1ConfigMap>(objects(), "ConfigMap");
    const drain = Number(configMap.data?.SHUTDOWN_TIMEOUT_SECONDS);
    expect(pause + drain).toBeLessThan(pod().terminationGracePeriodSeconds ?? 30);
  });

  it("writes only to its volumes: /tmp an emptyDir, and /data a PVC for SQLite", () => {
    const mounts = Object.fromEntries((container().volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries((pod().volumes ?? []).map((v) => [v.name, v]));
    expect(volumes[mounts["/tmp"] ?? ""]?.emptyDir).toBeDefined();
    if (overlay === "single-sqlite") {
      const claim = volumes[mounts["/data"] ?? ""]?.persistentVolumeClaim?.claimName;
      expect(the<k8s.V1PersistentVolumeClaim>(objects(), "PersistentVolumeClaim", claim).spec?.accessModes).toEqual(["ReadWriteOnce"]);
    } else {
      expect(mounts["/data"]).toBeUndefined();
    }
  });

  it("sets only variables src/config.ts reads", () => {
    const known = configVariables();
    expect(known).toContain("DATABASE_URL");
    expect(known).toContain("WEBHOOK_BEARER_TOKEN");
    const unknown = containerVariables(container(), objects()).filter((v) => !known.has(v.name));
    expect(unknown, "variables src/config.ts does not read").toEqual([]);
  });

  it("takes its store from the overlay", () => {
    const database = container().env?.find((e) => e.name === "DATABASE_URL");
    if (overlay === "single-sqlite") {
      expect(database?.value).toBe("sqlite:/data/enricher.db");
      expect(deployment().spec?.replicas).toBe(1);
      expect(deployment().spec?.strategy?.type).toBe("Recreate");
    } else {
      expect(database?.valueFrom?.secretKeyRef).toEqual({ name: "alert-enricher", key: "DATABASE_URL" });
      expect(deployment().spec?.replicas).toBe(2);
      expect(deployment().spec?.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
      const pdb = the<k8s.V1PodDisruptionBudget>(objects(), "PodDisruptionBudget", "alert-enricher");
      expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: APP_LABELS } });
      const term = pod().affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
      expect(term).toEqual({ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: APP_LABELS } });
    }
  });

  it("wires its references: ServiceAccount, ConfigMap, binding, Service, selectors", () => {
    const labels = deployment().spec?.template.metadata?.labels ?? {};
    expect(deployment().spec?.selector.matchLabels).toEqual(APP_LABELS);
    expect(labels).toMatchObject(APP_LABELS);
    expect(the<K8sObject>(objects(), "ServiceAccount", pod().serviceAccountName).metadata.namespace).toBe(NAMESPACE);
    const binding = the<k8s.V1ClusterRoleBinding>(objects(), "ClusterRoleBinding", "alert-enricher-read");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "alert-enricher-read" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: pod().serviceAccountName, namespace: NAMESPACE }]);
    const service = the<k8s.V1Service>(objects(), "Service", "alert-enricher");
    expect(service.spec?.selector).toEqual(APP_LABELS);
    expect(service.spec?.ports).toEqual([{ name: "http", port: 9095, targetPort: "http", protocol: "TCP" }]);
    expect(container().image).toBe(
      `registry.example.com/alert-enricher:${readYaml<{ version: string }>(join(ROOT, "package.json")).version}`,
    );
  });

  it("keeps the base ClusterRole as it is (test/deploy/cluster-role.test.ts checks it against the playbooks)", () => {
    const base = readYaml<k8s.V1ClusterRole>(join(KUSTOMIZE, "base", "clusterrole.yaml"));
    expect(the<k8s.V1ClusterRole>(objects(), "ClusterRole", "alert-enricher-read").rules).toEqual(base.rules);
    for (const object of objects().filter((o) => ["Role", "ClusterRole"].includes(o.kind))) {
      expect(JSON.stringify(object), "no access to Secrets outside overlays/read-secrets").not.toMatch(/"secrets/);
    }
  });

  it("lets in only Alertmanager and Prometheus on 9095, and lets out only DNS, the API server, Prometheus and HTTPS", () => {
    const policy = the<NetworkPolicyJson>(objects(), "NetworkPolicy", "alert-enricher");
    expect(policy.spec?.podSelector?.matchLabels).toEqual(APP_LABELS);
    expect(policy.spec?.policyTypes).toEqual(["Ingress", "Egress"]);
    const ingress = policy.spec?.ingress ?? [];
    expect(ingress.map((rule) => rule.from?.map((peer) => peer.podSelector?.matchLabels?.["app.kubernetes.io/name"]))).toEqual([
      ["alertmanager"],
      ["prometheus"],
    ]);
    for (const rule of ingress) {
      expect(rule.ports).toEqual([{ port: 9095, protocol: "TCP" }]);
      for (const peer of rule.from ?? [])
        expect(peer.namespaceSelector?.matchLabels).toEqual({ "kubernetes.io/metadata.name": "monitoring" });
    }
    const egressPorts = (p: NetworkPolicyJson) =>
      (p.spec?.egress ?? []).flatMap((rule) => (rule.ports ?? []).map((port) => `${port.port}/${port.protocol}`));
    expect(new Set(egressPorts(policy))).toEqual(new Set(["53/UDP", "53/TCP", "443/TCP", "6443/TCP", "9090/TCP"]));
    expect(
      (policy.spec?.egress ?? []).every((rule) => (rule.ports ?? []).length > 0),
      "every egress rule names its ports",
    ).toBe(true);
    if (overlay === "ha-postgres") {
      expect(egressPorts(the<NetworkPolicyJson>(objects(), "NetworkPolicy", "alert-enricher-postgres"))).toEqual(["5432/TCP"]);
    }
  });
});

describe("the opt-in read-secrets overlay", () => {
  it("grants get on named Secrets in one namespace to the service's ServiceAccount, and nothing else", () => {
    const objects = render("read-secrets");
    const role = the<k8s.V1Role>(objects, "Role", "alert-enricher-read-secrets");
    const binding = the<k8s.V1RoleBinding>(objects, "RoleBinding", "alert-enricher-read-secrets");
    expect(role.rules).toHaveLength(1);
    const [rule] = role.rules ?? [];
    expect(rule).toMatchObject({ apiGroups: [""], resources: ["secrets"], verbs: ["get"] });
    expect(rule?.resourceNames?.length, "resourceNames: named Secrets only").toBeGreaterThan(0);
    expect(rule?.resourceNames).not.toContain("*");
    expect(binding.metadata?.namespace).toBe(role.metadata?.namespace);
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata?.name });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "alert-enricher", namespace: NAMESPACE }]);
  });

  it("is off by default: no other overlay includes it", () => {
    for (const overlay of ["single-sqlite", "ha-postgres"] as const) {
      const text = readFileSync(join(KUSTOMIZE, "overlays", overlay, "kustomization.yaml"), "utf8");
      expect(text).not.toContain("read-secrets");
      expect(render(overlay).map((o) => o.kind)).not.toContain("Role");
    }
  });
});

describe("docker/Dockerfile", () => {
  const stages = dockerfileStages();
  const final = stages.at(-1) as (typeof stages)[number];
  const all = (op: string) => final.instructions.filter((i) => i.op === op);

  it("is multi-stage on Node 24 slim, building the bundle in one stage and installing production dependencies in another", () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const stage of stages)
      expect(stage.from).toMatch(/^(node:24(\.\d+)*-bookworm-slim|gcr\.io\/distroless\/nodejs24-debian12(:\S+)?)$/);
    const stageRuns = (name: string) =>
      stages
        .find((s) => s.name === name)
        ?.instructions.filter((i) => i.op === "RUN")
        .map((i) => i.args) ?? [];
    expect(stageRuns("deps").find((r) => /\bnpm ci\b/.test(r))).toMatch(/--omit=dev/);
    // The build stage installs the devDependencies too (esbuild is one), from the lock file, then builds from src/.
    const build = stages.find((s) => s.name === "build");
    expect(build?.instructions.map((i) => `${i.op} ${i.args}`)).toEqual(
      expect.arrayContaining(["COPY package.json package-lock.json ./", "COPY src ./src"]),
    );
    expect(stageRuns("build")).toEqual([expect.stringMatching(/^npm ci\b(?!.*--omit=dev)/), "npm run build"]);
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.op === "RUN").map((i) => i.args));
    expect(
      runs.some((r) => /\bnpm (install|i)\b/.test(r)),
      "npm ci, never npm install",
    ).toBe(false);
    expect(runs.join("\n")).toMatch(/fonts-dejavu-core/);
  });

  it("runs as a numeric non-root USER, exposes 9095, and starts the service's bundle as npm start does, with its environment", () => {
    const user = all("USER").at(-1)?.args ?? "";
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(user.split(":").map(Number)).toEqual([10001, 10001]);
    expect(all("EXPOSE").map((i) => i.args)).toEqual(["9095"]);
    const start = startScript();
    expect(start.command.join(" ")).toMatch(/^node (--[\w-]+=\S+ )*dist\/main\.js$/);
    expect(execForm(all("CMD").at(-1)?.args ?? "")).toEqual(start.command);
    // The environment npm start sets (glibc's malloc tuning) is the image's too.
    expect(Object.keys(start.env).length).toBeGreaterThan(0);
    expect(imageEnv()).toMatchObject(start.env);
    expect(all("ENV").map((i) => i.args)).toContain("DATABASE_URL=sqlite:/data/enricher.db");
    expect(all("VOLUME").map((i) => i.args)).toContain('["/data"]');
    // Every other variable of the image is one the service reads.
    const known = configVariables();
    expect(Object.keys(imageEnv()).filter((n) => !known.has(n) && !(n in start.env))).toEqual([]);
  });

  it("has a HEALTHCHECK on /healthz with node's fetch", () => {
    const [healthcheck] = all("HEALTHCHECK");
    expect(healthcheck?.args).toMatch(/^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+ CMD \[/);
    const command = execForm(healthcheck?.args ?? "");
    expect(command.slice(0, 2)).toEqual(["node", "-e"]);
    expect(command[2]).toMatch(/fetch\(.*\/healthz/);
  });

  it("copies what the service and bin/enricher.ts need at run time: the bundle, src/, bin/, testkit/, rules/, package.json, the shipped alert rules and the production node_modules", () => {
    const copies = all("COPY").map((i) => i.args);
    const workdir = all("WORKDIR").at(-1)?.args;
    expect(workdir).toBe("/app");
    expect(copies).toEqual(
      expect.arrayContaining([
        "--from=deps /app/node_modules ./node_modules",
        // The build stage's bundle, one level below package.json: it finds package.json and docker/ at `..`.
        "--from=build /app/dist ./dist",
        "package.json ./",
        "src ./src",
        "bin ./bin",
        // `enricher rules test` runs the rules-test kit.
        "testkit ./testkit",
        "rules ./rules",
        // Where src/service.ts (SHIPPED_ALERT_RULES) looks for them, relative to WORKDIR.
        "docker/prometheus/alert-enricher-alerts.rules.yml ./docker/prometheus/alert-enricher-alerts.rules.yml",
      ]),
    );
    const deps = stages.find((s) => s.name === "deps");
    expect(deps?.instructions.find((i) => i.op === "COPY")?.args).toBe("package.json package-lock.json ./");
    // The configured defaults resolve inside the image: RULES_DIR=./rules from WORKDIR /app.
    const configMap = the<k8s.V1ConfigMap>(render("single-sqlite"), "ConfigMap");
    expect(configMap.data?.RULES_DIR).toBe("./rules");
  });

  it("puts the command line on the PATH as `enricher`, a link to the copied bin/enricher.ts", () => {
    const link = enricherLink();
    expect(link).toEqual({ target: `${all("WORKDIR").at(-1)?.args}/bin/enricher.ts`, name: "/usr/local/bin/enricher" });
    // Run as a program, it needs the execute bit and a shebang that finds node (the image's is /usr/local/bin/node).
    expect(all("RUN").some((r) => r.args.includes(`chmod 0755 ${link?.target}`))).toBe(true);
    expect(readFileSync(join(ROOT, "bin", "enricher.ts"), "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
    // Every module bin/enricher.ts imports is under src/ or testkit/ (both copied) or a production dependency (checked
    // below).
    const relativeImports = [...readFileSync(join(ROOT, "bin", "enricher.ts"), "utf8").matchAll(/^import [^;]*?from "(\.[^"]*)"/gm)].map(
      (m) => m[1] as string,
    );
    expect(relativeImports.length).toBeGreaterThan(0);
    expect(relativeImports.filter((spec) => !spec.startsWith("../src/") && !spec.startsWith("../testkit/"))).toEqual([]);
  });

  it("needs no devDependency at run time: every package src/, bin/ and testkit/ import is a dependency", () => {
    const pkg = readYaml<{ dependencies: Record<string, string> }>(join(ROOT, "package.json"));
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
      );
    const imported = new Set<string>();
    for (const file of ["src", "bin", "testkit"].flatMap((dir) => sources(join(ROOT, dir)))) {
      for (const m of readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"([^".][^"]*)"/gm)) {
        const spec = m[1] as string;
        if (spec.startsWith("node:")) continue;
        imported.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] as string));
      }
    }
    expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });

  it("keeps secrets, databases, node_modules and the repository's history out of the build context (.dockerignore)", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    // dist: a local bundle, maybe stale, never stands in for the one the build stage makes.
    expect(ignored).toEqual(expect.arrayContaining([".git", ".env*", "node_modules", "dist", "data", "**/*.db", "test", "bench", "docs"]));
    // The files of docker/ a stage copies (the shipped alert rules, the bundle's build script) are let back in after `docker`.
    const fromDocker = dockerfileStages()
      .flatMap((stage) => stage.instructions.filter((i) => i.op === "COPY" && !i.args.startsWith("--from=")))
      .map((copy) => copy.args.split(" ")[0] as string)
      .filter((source) => source.startsWith("docker/"));
    expect(fromDocker).toEqual(expect.arrayContaining(["docker/build-bundle.ts", "docker/prometheus/alert-enricher-alerts.rules.yml"]));
    for (const file of fromDocker) expect(ignored.indexOf(`!${file}`), file).toBeGreaterThan(ignored.indexOf("docker"));
    for (const copied of ["package.json", "package-lock.json", "src", "bin", "testkit", "rules"]) {
      expect(
        ignored.filter((pattern) => pattern === copied || pattern === `${copied}/`),
        `${copied} is copied`,
      ).toEqual([]);
    }
  });
});

describe("the image's file set runs as the Dockerfile runs it", () => {
  let app: string | undefined;
  afterEach(async () => {
    await killChildren();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it("serves /healthz and /readyz, passes its HEALTHCHECK, writes nothing beside its store, and stops on SIGTERM", async () => {
    app = mkdtempSync(join(tmpdir(), "enricher-image-"));
    const workdir = imageFileSet(app);
    const data = join(app, "data");
    const final = dockerfileStages().at(-1);
    const before = readdirSync(workdir).sort();
    expect(before).toEqual(["bin", "dist", "docker", "node_modules", "package.json", "rules", "src", "testkit"]);

    // The environment the Deployment gives it: the ConfigMap, the Secret's token, the store; a kubeconfig that is
    // never dialled (start-up does not call the API server).
    const configMap = the<k8s.V1ConfigMap>(render("single-sqlite"), "ConfigMap");
    const kubeconfig = join(app, "kubeconfig");
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const port = String(await freePort());
    const env = {
      ...imageEnv(),
      ...configMap.data,
      HOST: "127.0.0.1",
      PORT: port,
      WEBHOOK_BEARER_TOKEN: "image-test-token-0123456789abcdef",
      DATABASE_URL: `sqlite:${join(data, "enricher.db")}`,
      KUBECONFIG: kubeconfig,
      HOME: app,
    };
    const [node, ...args] = execForm(final?.instructions.filter((i) => i.op === "CMD").at(-1)?.args ?? "");
    expect(node).toBe("node");
    const service = startNode(args, { cwd: workdir, env, timeoutMs: 60_000 });
    await service.waitForLine((line) => line.includes("alert-enricher ready"), 20_000);
    // The shipped alert rules are where src/service.ts looks for them: charts of their alerts work in the image.
    expect(service.stdout()).not.toContain("the shipped alert rules are missing");

    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    // The bundle keeps resvg's native library out of memory until a PNG chart is drawn.
    expect(readFileSync(`/proc/${service.process.pid}/maps`, "utf8")).not.toMatch(/resvg/);
    // Node keeps a module's source as one byte a character only while all of it is ASCII: a regex literal esbuild left
    // as written (cel-js's /(ns|us|µs|…)/) made main.js's 3.6 MB take 7 MiB.
    const dist = join(workdir, "dist");
    const wide = readdirSync(dist)
      .filter((f) => f.endsWith(".js"))
      .flatMap((f) =>
        [...readFileSync(join(dist, f), "utf8").matchAll(/[\u0080-\uffff]/g)].map(
          (m) => `${f}: ${m.input.slice(Math.max(0, m.index - 30), m.index + 1)}`,
        ),
      );
    expect(wide).toEqual([]);
    // Source maps beside it, for NODE_OPTIONS=--enable-source-maps: stack traces in the lines of src/.
    const map = JSON.parse(readFileSync(join(dist, "main.js.map"), "utf8")) as { sources: string[] };
    expect(map.sources.filter((source) => /(^|\/)src\/main\.ts$/.test(source))).toHaveLength(1);
    expect(readFileSync(join(dist, "main.js"), "utf8").trimEnd()).toMatch(/\/\/# sourceMappingURL=main\.js\.map$/);

    const healthcheck = execForm(final?.instructions.find((i) => i.op === "HEALTHCHECK")?.args ?? "");
    const probe = (extra: Record<string, string>) =>
      spawnSync(process.execPath, healthcheck.slice(1), { cwd: workdir, env: { PATH: process.env.PATH, ...extra }, timeout: 10_000 })
        .status;
    expect(probe({ PORT: port })).toBe(0);
    expect(probe({ PORT: String(await freePort()) }), "the HEALTHCHECK fails where nothing answers").toBe(1);

    // SIGTERM drains and exits 0, well inside terminationGracePeriodSeconds.
    const started = Date.now();
    service.process.kill("SIGTERM");
    const exit = await service.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(35_000);

    // A read-only root would have refused any write into the application directory.
    expect(readdirSync(workdir).sort()).toEqual(before);
    expect(existsSync(join(data, "enricher.db"))).toBe(true);
  }, 60_000);

  it("runs the command line: node bin/enricher.ts and the `enricher` link the image puts on the PATH", async () => {
    app = mkdtempSync(join(tmpdir(), "enricher-image-"));
    const workdir = imageFileSet(app);
    expect(statSync(join(workdir, "bin", "enricher.ts")).isFile()).toBe(true);
    const { version } = readYaml<{ version: string }>(join(ROOT, "package.json"));
    const env = { HOME: app };

    const help = await runNode(["bin/enricher.ts", "check", "--help"], { cwd: workdir, env });
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^usage:\n {2}enricher check {3,}preflight: /);
    expect(help.code).toBe(0);
    const versionRun = await runNode(["bin/enricher.ts", "--version"], { cwd: workdir, env });
    expect(versionRun.stdout).toBe(`${version}\n`);
    expect(versionRun.code).toBe(0);
    // The playbooks the image ships are where the command line looks by default (./rules from WORKDIR).
    const rules = await runNode(["bin/enricher.ts", "rules", "validate"], { cwd: workdir, env });
    expect(rules.stdout).toMatch(/^\d+ playbook\(s\) valid in \.\/rules: /);
    expect(rules.code).toBe(0);
    // `rules test` loads the rules-test kit the image copies.
    const rulesTest = await runNode(["bin/enricher.ts", "rules", "test", "--help"], { cwd: workdir, env });
    expect(rulesTest.stderr).toBe("");
    expect(rulesTest.stdout).toMatch(/^usage:\n {2}enricher rules test \[DIR\]/);
    expect(rulesTest.code).toBe(0);

    // `enricher` as `kubectl exec … -- enricher …` runs it: found on the PATH, through the link, by its shebang, with
    // the project's Node 24 as the image's `node`.
    const link = enricherLink();
    const pathDir = join(app, "usr-local-bin");
    mkdirSync(pathDir);
    symlinkSync(join(workdir, relative("/app", link?.target ?? "")), join(pathDir, "enricher"));
    const viaPath = spawnSync("enricher", ["--version"], {
      cwd: workdir,
      env: { PATH: `${pathDir}:${dirname(NODE)}:/usr/bin:/bin`, HOME: app },
      encoding: "utf8",
      timeout: 15_000,
    });
    expect(viaPath.stderr).toBe("");
    expect(viaPath.stdout).toBe(`${version}\n`);
    expect(viaPath.status).toBe(0);
  }, 60_000);
});

describe("the Alertmanager examples", () => {
  const alertNames = loadPlaybooks(join(ROOT, "rules"))
    .flatMap((p) => p.alertNames)
    .sort();
  const service = () => the<k8s.V1Service>(render("single-sqlite"), "Service", "alert-enricher");
  const serviceUrl = () =>
    `http://${service().metadata?.name}.${service().metadata?.namespace}.svc:${service().spec?.ports?.[0]?.port}/alerts`;
  const regexNames = (value: string) => value.split("|").sort();

  interface AmConfig {
    route: { routes: Array<{ receiver: string; matchers: string[]; continue: boolean }> };
    receivers: Array<{ name: string; webhook_configs?: Array<Record<string, unknown>> }>;
  }

  it("alertmanager.yml passes amtool check-config", () => {
    const result = spawnSync("amtool", ["check-config", join(DOCKER, "alertmanager", "alertmanager.yml")], {
      encoding: "utf8",
      timeout: 30_000,
    });
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT")
      throw new Error("amtool is not installed: install Debian's prometheus-alertmanager package (bash .ci/install-test-deps does)");
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it("alertmanager.yml routes exactly the playbooks' alerts to the Service, with a token file, resolved, 50 at most", () => {
    const config = readYaml<AmConfig>(join(DOCKER, "alertmanager", "alertmanager.yml"));
    const route = config.route.routes.find((r) => r.receiver === "alert-enricher");
    expect(route?.continue).toBe(true);
    const matcher = /^alertname=~"(.*)"$/.exec(route?.matchers[0] ?? "");
    expect(regexNames(matcher?.[1] ?? "")).toEqual(alertNames);
    const webhook = config.receivers.find((r) => r.name === "alert-enricher")?.webhook_configs?.[0];
    expect(webhook).toEqual({
      url: serviceUrl(),
      send_resolved: true,
      max_alerts: 50,
      http_config: { authorization: { type: "Bearer", credentials_file: expect.stringMatching(/^\/\S+$/) } },
    });
  });

  it("the AlertmanagerConfig routes the same alerts, with the token from a Secret key", () => {
    const config = readYaml<
      K8sObject & {
        spec: { route: { receiver: string; matchers: Array<Record<string, string>> }; receivers: Array<Record<string, unknown>> };
      }
    >(join(DOCKER, "alertmanager", "alertmanagerconfig.yaml"));
    expect(config.apiVersion).toBe("monitoring.coreos.com/v1alpha1");
    const [matcher] = config.spec.route.matchers;
    expect(matcher).toMatchObject({ name: "alertname", matchType: "=~" });
    expect(regexNames(matcher?.value ?? "")).toEqual(alertNames);
    expect(config.spec.receivers).toEqual([
      {
        name: config.spec.route.receiver,
        webhookConfigs: [
          {
            url: serviceUrl(),
            sendResolved: true,
            maxAlerts: 50,
            httpConfig: { authorization: { type: "Bearer", credentials: { name: expect.any(String), key: expect.any(String) } } },
          },
        ],
      },
    ]);
  });
});

describe("docker/README.md", () => {
  it("names only files that exist", () => {
    const readme = readFileSync(join(DOCKER, "README.md"), "utf8");
    const named = [...readme.matchAll(/(?<![\w/.-])((?:docker|src|rules|test|\.ci)\/[\w./-]*[\w-](?:\.\w+)?)/g)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(10);
    const missing = [...new Set(named)].filter((path) => !existsSync(join(ROOT, path)));
    expect(missing, `named in docker/README.md but missing (relative to ${relative(process.cwd(), ROOT) || "."})`).toEqual([]);
  });
});
