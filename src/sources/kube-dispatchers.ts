// Keeps Kubernetes connections open between reads. client-node 2.0 builds a new undici Agent (its own connection
// pool) for every request, so each read of a playbook opened a new TCP connection, and on an https API server paid a
// TLS handshake, on the critical path of every diagnosis. This hands out one Agent per TLS identity instead: the
// same CA, client certificate and key (an exec plugin that returns a new certificate gets a new Agent).
import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";

/** Identities kept at once; past them the pools start afresh. */
const MAX_DISPATCHERS = 4;

type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => unknown;

const reusing = new WeakSet<KubeConfig>();

/**
 * Makes `kc` reuse its dispatchers. Relies on KubeConfig's createDispatcher (private in client-node's types); when a
 * client-node release no longer has it, requests keep working as before, one pool each.
 */
export function reuseKubeDispatchers(kc: KubeConfig): void {
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  const create = target.createDispatcher;
  if (typeof create !== "function" || reusing.has(kc)) return;
  reusing.add(kc);
  const kept = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = identityOf(cluster, agentOptions);
    if (kept.has(key)) return kept.get(key);
    const dispatcher = create.call(kc, cluster, agentOptions);
    // Past the bound (certificates rotating often), the kept Agents are forgotten, not closed: a read may still be
    // using one, and their idle sockets time out on their own.
    if (kept.size >= MAX_DISPATCHERS) kept.clear();
    kept.set(key, dispatcher);
    return dispatcher;
  };
}

/** A digest of what the Agent is built from: the cluster's address and proxy, and the TLS options (secrets stay hashed). */
function identityOf(cluster: unknown, agentOptions: Record<string, unknown>): string {
  const hash = createHash("sha256");
  const { server, proxyUrl, skipTLSVerify } = (cluster ?? {}) as { server?: string; proxyUrl?: string; skipTLSVerify?: boolean };
  hash.update(JSON.stringify([server, proxyUrl, skipTLSVerify]));
  for (const name of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "servername"]) {
    const value = agentOptions[name];
    hash.update(`\0${name}=`);
    if (value === undefined) continue;
    if (Buffer.isBuffer(value) || typeof value === "string") hash.update(value);
    else hash.update(JSON.stringify(value));
  }
  return hash.digest("hex");
}
