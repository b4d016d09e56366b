import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { reuseKubeDispatchers } from "../../src/sources/kube-dispatchers.ts";
import { createKubernetesClient, loadKubeConfig } from "../../src/sources/kubernetes-client.ts";

let server: Server | undefined;
let dir: string | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** An API server that answers every list with an empty PodList and counts the TCP connections it was opened. */
async function countingApiServer(): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  server = createServer((_request, response) => {
    response.setHeader("Content-Type", "application/json");
    response.end(JSON.stringify({ kind: "PodList", apiVersion: "v1", metadata: {}, items: [] }));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

function kubeconfigFor(url: string): string {
  dir = mkdtempSync(join(tmpdir(), "kube-dispatchers-"));
  const path = join(dir, "kubeconfig");
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${url}", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  );
  return path;
}

describe("Kubernetes connections", () => {
  it("are kept open between reads: one connection for the waves of reads of a playbook", async () => {
    const api = await countingApiServer();
    const client = createKubernetesClient(loadKubeConfig(kubeconfigFor(api.url)), "alert-enricher/test");
    for (let i = 0; i < 3; i++) {
      await client.core.listNamespacedPod({ namespace: "shop" });
      // The next wave starts once the facts of this one are computed; by then the connection is back in its pool.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(api.connections()).toBe(1);
  });

  it("are pooled per TLS identity: a new client certificate (an exec plugin rotating it) gets a pool of its own", () => {
    const kc = new KubeConfig();
    reuseKubeDispatchers(kc);
    const create = (kc as unknown as { createDispatcher: (cluster: unknown, options: Record<string, unknown>) => unknown })
      .createDispatcher;
    const cluster = { name: "c", server: "https://10.0.0.1:6443", skipTLSVerify: false };
    const first = create(cluster, { ca: Buffer.from("ca"), cert: Buffer.from("cert-1"), key: Buffer.from("key-1") });
    const again = create(cluster, { ca: Buffer.from("ca"), cert: Buffer.from("cert-1"), key: Buffer.from("key-1") });
    const rotated = create(cluster, { ca: Buffer.from("ca"), cert: Buffer.from("cert-2"), key: Buffer.from("key-2") });
    expect(first).toBeDefined();
    expect(again).toBe(first);
    expect(rotated).not.toBe(first);
  });
});
