// A kubeconfig for the fake API server: plain http, insecure-skip-tls-verify, a token user.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const KUBECONFIG_TOKEN = "fake-kube-token";

function kubeconfigYaml(url: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: fake",
    "  cluster:",
    `    server: ${url}`,
    "    insecure-skip-tls-verify: true",
    "users:",
    "- name: fake",
    "  user:",
    `    token: ${KUBECONFIG_TOKEN}`,
    "contexts:",
    "- name: fake",
    "  context:",
    "    cluster: fake",
    "    user: fake",
    "    namespace: default",
    "current-context: fake",
    "",
  ].join("\n");
}

export interface WrittenKubeconfig {
  path: string;
  /** Removes the file and its temporary directory. */
  remove(): Promise<void>;
}

/** Writes a kubeconfig pointing at `url` into a new temporary directory. */
export async function writeKubeconfig(url: string): Promise<WrittenKubeconfig> {
  const directory = await mkdtemp(join(tmpdir(), "fake-kube-api-"));
  const path = join(directory, "kubeconfig.yaml");
  await writeFile(path, kubeconfigYaml(url));
  return { path, remove: () => rm(directory, { recursive: true, force: true }) };
}
