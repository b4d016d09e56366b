// Runs inside a network namespace of its own (kube-apiserver.ts starts it under `unshare --net`), so nothing the real
// API server dials — an admission webhook's Service, an aggregated API, a node's kubelet at a fixture's 10.x address —
// can leave this machine: the namespace has only a loopback. Starts etcd and kube-apiserver there on fixed ports, a
// stand-in kubelet that serves container logs, and a bridge from a Unix socket (which the test process can reach
// through the shared file system) to the API server's port. Ends them all on SIGTERM.
//
//   node kube-apiserver-sandbox.ts DIR KUBE_APISERVER ETCD
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, openSync, readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type FixtureLogs, kubeletLog } from "../../testkit/kubelet-logs.ts";
import { KUBELET_STATE_FILE } from "./kube-apiserver-sandbox-files.ts";

const ETCD_CLIENT_PORT = 2379;
const API_SERVER_PORT = 6443;
const KUBELET_PORT = 10250;

interface KubeletState {
  /** The case's clock, for sinceSeconds. */
  now: string;
  logs: FixtureLogs;
  pods: Array<{ metadata: { name: string; namespace?: string }; status?: unknown }>;
}

const [dir, kubeApiserver, etcd] = process.argv.slice(2) as [string, string, string];
const children: ChildProcess[] = [];

function start(name: string, command: string, args: string[]): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), "a");
  const child = spawn(command, args, { stdio: ["ignore", log, log] });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${name} exited (${code ?? signal}); see ${join(dir, `${name}.log`)}\n`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code: number): void {
  stopping = true;
  for (const child of children) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 2000).unref();
  void Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(undefined) : c.on("exit", resolve))))).then(
    () => process.exit(code),
  );
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

start("etcd", etcd, [
  "--name=sandbox",
  `--data-dir=${join(dir, "etcd")}`,
  `--listen-client-urls=http://127.0.0.1:${ETCD_CLIENT_PORT}`,
  `--advertise-client-urls=http://127.0.0.1:${ETCD_CLIENT_PORT}`,
  "--listen-peer-urls=http://127.0.0.1:2380",
  "--initial-advertise-peer-urls=http://127.0.0.1:2380",
  "--initial-cluster=sandbox=http://127.0.0.1:2380",
  // A throwaway store: nothing in it must survive a crash, and fsync on a busy 2-core machine costs seconds.
  "--unsafe-no-fsync",
  "--log-level=warn",
]);

start("kube-apiserver", kubeApiserver, [
  `--etcd-servers=http://127.0.0.1:${ETCD_CLIENT_PORT}`,
  "--bind-address=127.0.0.1",
  "--advertise-address=127.0.0.1",
  `--secure-port=${API_SERVER_PORT}`,
  `--cert-dir=${join(dir, "certs")}`,
  "--service-cluster-ip-range=10.0.0.0/24",
  "--allow-privileged=true",
  "--authorization-mode=RBAC",
  `--token-auth-file=${join(dir, "tokens.csv")}`,
  "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
  `--service-account-key-file=${join(dir, "service-account.pub")}`,
  `--service-account-signing-key-file=${join(dir, "service-account.key")}`,
  // Without a controller-manager no namespace gets its `default` ServiceAccount, which this plugin would require.
  "--disable-admission-plugins=ServiceAccount",
  // Aggregated APIs are reached at their endpoints, not through a Service IP that only kube-proxy could route.
  "--enable-aggregator-routing=true",
  // Logs go to the stand-in kubelet: every Node is loaded with 127.0.0.1 as its InternalIP (real-cluster-loader.ts).
  "--kubelet-preferred-address-types=InternalIP",
  `--audit-log-path=${join(dir, "audit.log")}`,
  `--audit-policy-file=${join(dir, "audit-policy.yaml")}`,
  "--audit-log-mode=blocking",
  "--profiling=false",
]);

// Container logs as a kubelet serves them to the API server (GET /containerLogs/NS/POD/CONTAINER). The API server has
// already checked the pod and the container name; the kubelet's own answers are what remain: the log, or 400 for a
// previous instance that does not exist.
async function startKubelet(): Promise<void> {
  const certs = join(dir, "certs");
  while (!existsSync(join(certs, "apiserver.key"))) await sleep(100);
  await sleep(100);
  const server = createHttpsServer(
    { cert: readFileSync(join(certs, "apiserver.crt")), key: readFileSync(join(certs, "apiserver.key")) },
    (request, response) => {
      const url = new URL(request.url ?? "/", "https://kubelet");
      const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (!match) {
        response.writeHead(404).end("not found");
        return;
      }
      const file = join(dir, KUBELET_STATE_FILE);
      const state: KubeletState = existsSync(file)
        ? (JSON.parse(readFileSync(file, "utf8")) as KubeletState)
        : { now: new Date().toISOString(), logs: {}, pods: [] };
      const [, namespace, name, container] = match.map(decodeURIComponent) as [string, string, string, string];
      const pod = state.pods.find((p) => p.metadata.name === name && p.metadata.namespace === namespace);
      if (!pod) {
        response.writeHead(404, { "Content-Type": "text/plain" }).end(`pod ${namespace}/${name} is not on this node`);
        return;
      }
      const query = url.searchParams;
      const number = (key: string) => (query.has(key) ? Number(query.get(key)) : undefined);
      const sinceSeconds = number("sinceSeconds");
      const sinceTime = query.get("sinceTime");
      const answer = kubeletLog(state.logs, pod, container, {
        previous: query.get("previous") === "true",
        timestamps: query.get("timestamps") === "true",
        tailLines: number("tailLines"),
        limitBytes: number("limitBytes"),
        since: sinceTime
          ? new Date(sinceTime)
          : sinceSeconds !== undefined
            ? new Date(Date.parse(state.now) - sinceSeconds * 1000)
            : undefined,
      });
      if (answer.status === 400) {
        response.writeHead(400, { "Content-Type": "text/plain" }).end(answer.message);
        return;
      }
      response.writeHead(200, { "Content-Type": "text/plain" }).end(answer.body);
    },
  );
  server.listen(KUBELET_PORT, "127.0.0.1");
}

// The test process cannot reach this namespace's loopback; it reaches this Unix socket, and the bridge the port.
function startBridge(): void {
  const socket = join(dir, "apiserver.sock");
  createServer((client) => {
    const upstream = connect(API_SERVER_PORT, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  }).listen(socket);
}

startBridge();
void startKubelet();
