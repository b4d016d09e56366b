// Where the test binaries built from Go modules by .ci/install-test-deps live: a cache outside the work tree, one
// folder per tool and version (the versions are in .ci/test-tools.env), so a second run on one machine builds nothing.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const VERSIONS_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", ".ci", "test-tools.env");

export function testToolVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of readFileSync(VERSIONS_FILE, "utf8").split("\n")) {
    const match = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
    if (match) versions[match[1] as string] = match[2] as string;
  }
  return versions;
}

export function testToolsCache(env: NodeJS.ProcessEnv = process.env): string {
  return env.ALERT_ENRICHER_TOOLS_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "alert-enricher", "test-tools");
}

/**
 * The path of a built tool: `testTool("kubernetes", "KUBERNETES_VERSION", "kube-apiserver")` is
 * CACHE/kubernetes-1.36.3/kube-apiserver. Throws, naming the fix, when it is missing.
 */
export function testTool(name: string, versionKey: string, binary: string, env: NodeJS.ProcessEnv = process.env): string {
  const version = testToolVersions()[versionKey];
  if (version === undefined) throw new Error(`${versionKey} is not set in ${VERSIONS_FILE}`);
  const path = join(testToolsCache(env), `${name}-${version}`, binary);
  if (!existsSync(path)) {
    throw new Error(`${binary} ${version} is not built at ${path}: run \`bash .ci/install-test-deps\` (npm test runs it first)`);
  }
  return path;
}

/** Helm for test/deploy/helm-chart.test.ts: HELM_BIN when it names a file (a release binary), else the one .ci/build-helm built. */
export function helmBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HELM_BIN && existsSync(env.HELM_BIN)) return env.HELM_BIN;
  return testTool("helm", "HELM_VERSION", "helm", env);
}
