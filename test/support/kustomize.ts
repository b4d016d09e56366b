// `kubectl kustomize` of docker/kubernetes's overlays, as test/deploy renders them: Debian's kubernetes-client is
// installed by .ci/install-test-deps, and a missing kubectl fails the test with the fix, never skips it. kubectl ≤ 1.20
// (Debian bookworm's) bundles kustomize v2.0.3, which predates `patches:` and directories in `resources:`; for it the
// overlays are rendered from a copy rewritten into the older spelling that means the same.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";

export const KUSTOMIZE_DIR = join(import.meta.dirname, "..", "..", "docker", "kubernetes");

/** A rendered Kubernetes object, as far as the tests read it without a model class. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export const KUBECTL_HINT =
  "kubectl is not installed (not on PATH): install Debian's kubernetes-client package (apt-get install -y kubernetes-client), or run `bash .ci/install-test-deps`, which does it";

function missing(result: ReturnType<typeof spawnSync>): boolean {
  return (result.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

let client: { legacy: boolean; version: string } | undefined;

function kubectlClient(): { legacy: boolean; version: string } {
  if (client) return client;
  const probe = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8", timeout: 30_000 });
  if (missing(probe)) throw new Error(KUBECTL_HINT);
  if (probe.status !== 0) throw new Error(`kubectl version --client failed: ${probe.stderr}`);
  const kustomize = /Kustomize Version: v(\d+)/.exec(probe.stdout);
  client = { legacy: !kustomize || Number(kustomize[1]) < 4, version: probe.stdout.trim().split("\n").join("; ") };
  return client;
}

let legacyDir: string | undefined;

function legacyCopy(): string {
  if (legacyDir) return legacyDir;
  const dir = mkdtempSync(join(tmpdir(), "enricher-kustomize-"));
  cpSync(KUSTOMIZE_DIR, dir, { recursive: true });
  for (const overlay of readdirSync(join(dir, "overlays"))) {
    const file = join(dir, "overlays", overlay, "kustomization.yaml");
    const k = parse(readFileSync(file, "utf8")) as { resources?: string[]; bases?: string[]; patches?: Array<{ path: string }> };
    const isDir = (entry: string) => statSync(join(dirname(file), entry)).isDirectory();
    const bases = (k.resources ?? []).filter(isDir);
    if (bases.length > 0) {
      k.bases = bases;
      k.resources = (k.resources ?? []).filter((r) => !isDir(r));
    }
    if (k.patches) {
      Object.assign(k, { patchesStrategicMerge: k.patches.map((p) => p.path) });
      delete k.patches;
    }
    writeFileSync(file, stringify(k));
  }
  legacyDir = dir;
  return dir;
}

const rendered = new Map<string, K8sObject[]>();

/** The objects `kubectl kustomize docker/kubernetes/overlays/OVERLAY` renders (cached per process). */
export function renderOverlay(overlay: string): K8sObject[] {
  const cached = rendered.get(overlay);
  if (cached) return structuredClone(cached);
  const root = kubectlClient().legacy ? legacyCopy() : KUSTOMIZE_DIR;
  const result = spawnSync("kubectl", ["kustomize", join(root, "overlays", overlay)], { encoding: "utf8", timeout: 60_000 });
  if (missing(result)) throw new Error(KUBECTL_HINT);
  if (result.status !== 0) throw new Error(`kubectl kustomize overlays/${overlay} failed (${kubectlClient().version}):\n${result.stderr}`);
  const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);
  rendered.set(overlay, objects);
  return structuredClone(objects);
}

/** Removes the copy made for an old kubectl, if any (call from afterAll). */
export function cleanUpKustomize(): void {
  if (legacyDir) rmSync(legacyDir, { recursive: true, force: true });
  legacyDir = undefined;
}
