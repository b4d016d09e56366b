// A real kube-apiserver and etcd for tests, started the way controller-runtime's envtest starts them, with RBAC on and
// an audit log of every request. They run in a network namespace of their own (kube-apiserver-sandbox.ts), reached
// from here through a loopback port bridged to a Unix socket: whatever the API server dials on a fixture's behalf
// (webhooks, aggregated APIs, kubelets) stays inside that namespace.
//
// The binaries: KUBEBUILDER_ASSETS (a folder with kube-apiserver and etcd, as envtest's setup-envtest leaves it), else
// those .ci/build-kube-apiserver built into the test-tools cache.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "node:https";
import { NODE } from "./node-process.ts";
import { KUBELET_STATE_FILE } from "./kube-apiserver-sandbox-files.ts";
import { testTool } from "./test-tools.ts";

export interface AuditEvent {
  verb: string;
  user: { username: string; groups?: string[] };
  requestURI: string;
  responseStatus?: { code: number };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

export interface RealKubeApi {
  /** https://127.0.0.1:PORT; its certificate is the API server's own self-signed one. */
  url: string;
  /** A kubeconfig for a cluster admin (system:masters). */
  adminKubeconfig: string;
  /** Sends one request as the admin (or as `token`), JSON in and out; `headers` e.g. to impersonate a user. */
  call(method: string, path: string, body?: unknown, token?: string, headers?: Record<string, string | string[]>): Promise<ApiAnswer>;
  /** A ServiceAccount token from the TokenRequest API, and a kubeconfig that uses it. */
  serviceAccount(namespace: string, name: string): Promise<{ token: string; kubeconfig: string }>;
  /** What the stand-in kubelet behind the API server serves: logs keyed as ClusterState.logs, and the pods they belong to. */
  setKubeletState(state: { now: Date; logs: Record<string, string>; pods: unknown[] }): void;
  /** Every request recorded so far (audit level Metadata). */
  audit(): AuditEvent[];
  version: string;
  stop(): Promise<void>;
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

function binaries(): { kubeApiserver: string; etcd: string } {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && existsSync(join(assets, "kube-apiserver")) && existsSync(join(assets, "etcd"))) {
    return { kubeApiserver: join(assets, "kube-apiserver"), etcd: join(assets, "etcd") };
  }
  return {
    kubeApiserver: testTool("kubernetes", "KUBERNETES_VERSION", "kube-apiserver"),
    etcd: testTool("kubernetes", "KUBERNETES_VERSION", "etcd"),
  };
}

/** `unshare --net` needs root, or a user namespace mapping this user to root inside it. */
function unshareArgs(): string[] {
  return process.getuid?.() === 0 ? ["--net"] : ["--user", "--map-root-user", "--net"];
}

export async function startRealKubeApi(options: { startTimeoutMs?: number } = {}): Promise<RealKubeApi> {
  const { kubeApiserver, etcd } = binaries();
  const version = /v\d+\.\d+\.\d+/.exec(spawnSync(kubeApiserver, ["--version"], { encoding: "utf8" }).stdout)?.[0] ?? "unknown";
  const dir = mkdtempSync(join(tmpdir(), "alert-enricher-kube-"));
  const adminToken = randomBytes(24).toString("hex");
  writeFileSync(join(dir, "tokens.csv"), `${adminToken},test-admin,test-admin,"system:masters"\n`, { mode: 0o600 });
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "service-account.key"), keys.privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
  writeFileSync(join(dir, "service-account.pub"), keys.publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(join(dir, "audit-policy.yaml"), AUDIT_POLICY);

  const sandbox = join(import.meta.dirname, "kube-apiserver-sandbox.ts");
  const child: ChildProcess = spawn(
    "unshare",
    [...unshareArgs(), "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', NODE, sandbox, dir, kubeApiserver, etcd],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  child.on("exit", () => (exited = true));

  const bridge: Server = createServer((client) => {
    const upstream = connect(join(dir, "apiserver.sock"));
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
  });
  await new Promise<void>((resolve) => bridge.listen(0, "127.0.0.1", resolve));
  const port = (bridge.address() as { port: number }).port;
  const url = `https://127.0.0.1:${port}`;
  const agent = new Agent({ rejectUnauthorized: false, keepAlive: true });

  const call = (
    method: string,
    path: string,
    body?: unknown,
    token = adminToken,
    headers: Record<string, string | string[]> = {},
  ): Promise<ApiAnswer> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${url}${path}`,
        {
          method,
          agent,
          headers: {
            ...headers,
            Authorization: `Bearer ${token}`,
            Accept: "application/json",
            ...(payload !== undefined ? { "Content-Type": method === "PATCH" ? "application/merge-patch+json" : "application/json" } : {}),
          },
        },
        (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk.toString()));
          res.on("end", () => {
            let parsed: unknown = text;
            try {
              parsed = text === "" ? undefined : JSON.parse(text);
            } catch {
              // plain text (a log), kept as it is
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });

  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await Promise.race([gone, sleep(5000)]);
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    agent.destroy();
    await new Promise((resolve) => bridge.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  for (;;) {
    if (exited) {
      const logs = ["kube-apiserver.log", "etcd.log"].map((f) =>
        existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8").slice(-3000) : "",
      );
      await stop();
      throw new Error(`the real API server's sandbox exited: ${stderr}\n${logs.join("\n")}`);
    }
    const ready = await call("GET", "/readyz").catch(() => undefined);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) {
      const log = existsSync(join(dir, "kube-apiserver.log")) ? readFileSync(join(dir, "kube-apiserver.log"), "utf8").slice(-3000) : "";
      await stop();
      throw new Error(`kube-apiserver was not ready within the start timeout:\n${log}`);
    }
    await sleep(250);
  }

  const kubeconfigFor = (name: string, token: string) => {
    const path = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "real", cluster: { server: url, "insecure-skip-tls-verify": true } }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: "real", user: name } }],
        "current-context": name,
      }),
      { mode: 0o600 },
    );
    return path;
  };

  return {
    url,
    version,
    adminKubeconfig: kubeconfigFor("admin", adminToken),
    call,
    async serviceAccount(namespace, name) {
      const answer = await call("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 },
      });
      const token = (answer.body as { status?: { token?: string } } | undefined)?.status?.token;
      if (answer.status !== 201 || !token)
        throw new Error(`TokenRequest for ${namespace}/${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return { token, kubeconfig: kubeconfigFor(`${namespace}-${name}`, token) };
    },
    setKubeletState(state) {
      writeFileSync(join(dir, KUBELET_STATE_FILE), JSON.stringify(state));
    },
    audit() {
      const path = join(dir, "audit.log");
      if (!existsSync(path)) return [];
      return readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as AuditEvent);
    },
    stop,
  };
}
