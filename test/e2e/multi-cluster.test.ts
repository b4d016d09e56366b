// One service behind a central Alertmanager, reading two clusters through CLUSTERS_FILE: each alert is diagnosed with
// its own cluster's API server and Prometheus, an alert from a cluster the service cannot read is forwarded with a note
// (and nothing is asked of the clusters it can), and a black-holed cluster does not slow the other one.
import { createServer, type IncomingHttpHeaders } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { diagnose } from "../../src/diagnosis/diagnose.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { createLogger } from "../../src/logger.ts";
import { createClusterSelection, type RunningService, startService } from "../../src/service.ts";
import type { Alert, AlertmanagerPayload } from "../../src/model/alertmanager.ts";
import type { AlertDiagnosis, Diagnosis } from "../../src/model/diagnosis.ts";
import { renderText } from "../../src/render/text.ts";
import type { Sink } from "../../src/sinks/sink.ts";
import { type DemoCluster, startDemoCluster } from "../support/demo-cluster.ts";
import { scenarioNamed } from "../support/kube-client-errors-scenarios.ts";
import { killChildren, runNode } from "../support/node-process.ts";
import { kubeClientErrorsPayload } from "../support/payloads.ts";
import { runLimitsFrom } from "../../src/engine/run-limits.ts";

const MIMIR_TOKEN = "mimir-token-0123456789abcdef";

let dir: string;
let clusters: DemoCluster[] = [];
let service: RunningService | undefined;

afterEach(async () => {
  await service?.stop();
  service = undefined;
  await killChildren();
  await Promise.all(clusters.map((c) => c.close()));
  clusters = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * prod-eu: kube-state-metrics' ServiceAccount was deleted (its token is rejected with 401).
 * prod-us: a default-deny egress NetworkPolicy cuts kube-state-metrics off.
 * Each fake holds only its own cluster's objects; prod-eu's API server and Prometheus can be black-holed.
 */
async function twoClusters(options: { prodEuBlackHoled?: boolean } = {}): Promise<{ eu: DemoCluster; us: DemoCluster }> {
  dir = mkdtempSync(join(tmpdir(), "enricher-clusters-"));
  const hang = options.prodEuBlackHoled === true;
  const eu = await startDemoCluster(scenarioNamed("credentials-rejected"), hang ? { hang: () => true } : {}, hang ? { hang: true } : {});
  const us = await startDemoCluster(scenarioNamed("egress-blocked"));
  clusters.push(eu, us);
  return { eu, us };
}

function writeClustersFile(eu: DemoCluster, us: DemoCluster, extra = ""): string {
  writeFileSync(join(dir, "mimir-token"), `${MIMIR_TOKEN}\n`);
  const file = join(dir, "clusters.yaml");
  writeFileSync(
    file,
    `${extra}clusters:
  prod-eu:
    kubernetes:
      kubeconfig: ${eu.kube.kubeconfigPath}
    prometheus:
      url: ${eu.prometheus.url}
  prod-us:
    kubernetes:
      kubeconfig: ${us.kube.kubeconfigPath}
      context: fake
    prometheus:
      url: ${us.prometheus.url}
      bearerTokenFile: mimir-token
      headers:
        X-Scope-OrgID: prod-us
`,
  );
  return file;
}

function alertFrom(cluster: string | undefined, fingerprint: string): Alert {
  const [alert] = kubeClientErrorsPayload(cluster === undefined ? {} : { cluster }).alerts;
  const labels = { ...(alert as Alert).labels };
  if (cluster === undefined) delete labels.cluster;
  return { ...(alert as Alert), labels, fingerprint };
}

function payloadOf(...alerts: Alert[]): AlertmanagerPayload {
  return kubeClientErrorsPayload(
    {},
    { alerts, commonLabels: { alertname: "KubeClientErrors" }, groupKey: `{}:{fp="${alerts.map((a) => a.fingerprint).join(",")}"}` },
  );
}

/** Keeps what it is given: the diagnoses as the sinks receive them. */
function recordingSink(): Sink & { delivered: Diagnosis[] } {
  const delivered: Diagnosis[] = [];
  return {
    name: "console",
    delivered,
    async deliver(diagnosis) {
      delivered.push(diagnosis);
      return { status: "delivered" };
    },
  };
}

async function startWith(env: Record<string, string>): Promise<{ running: RunningService; sink: ReturnType<typeof recordingSink> }> {
  const sink = recordingSink();
  service = await startService(
    loadConfig({ PORT: "0", HOST: "127.0.0.1", ALLOW_UNAUTHENTICATED: "true", DATABASE_URL: `sqlite:${join(dir, "enricher.db")}`, ...env }),
    { logger: createLogger("silent"), sinks: [sink], pollIntervalMs: 50, deliveryBackoff: { baseMs: 50, maxMs: 200 } },
  );
  return { running: service, sink };
}

async function send(url: string, payload: AlertmanagerPayload): Promise<void> {
  const response = await fetch(`${url}/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  expect(response.status).toBe(200);
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alertWith(d: Diagnosis, fingerprint: string): AlertDiagnosis {
  const found = d.alerts.find((a) => a.alert.fingerprint === fingerprint);
  if (!found) throw new Error(`no alert ${fingerprint} in the diagnosis`);
  return found;
}

const evidenceOf = (a: AlertDiagnosis) => a.causes.flatMap((c) => [c.summary, ...c.evidence.map((e) => e.text)]).join("\n");

describe("one service, two clusters (CLUSTERS_FILE)", () => {
  it("diagnoses each alert with its own cluster's objects and names the cluster it read", async () => {
    const { eu, us } = await twoClusters();
    const { running, sink } = await startWith({ CLUSTERS_FILE: writeClustersFile(eu, us) });
    await send(running.url, payloadOf(alertFrom("prod-eu", "eu00000000000001"), alertFrom("prod-us", "us00000000000001")));
    await until(() => sink.delivered.length === 1);
    const [diagnosis] = sink.delivered as [Diagnosis];

    const fromEu = alertWith(diagnosis, "eu00000000000001");
    expect(fromEu.cluster).toBe("prod-eu");
    expect(fromEu.causes[0]?.id).toBe("authentication_failure");
    expect(evidenceOf(fromEu)).toContain("kube-state-metrics");
    expect(JSON.stringify(fromEu)).not.toContain("default-deny-egress");

    const fromUs = alertWith(diagnosis, "us00000000000001");
    expect(fromUs.cluster).toBe("prod-us");
    expect(fromUs.causes[0]?.id).toBe("network_failure");
    expect(evidenceOf(fromUs)).toContain("default-deny-egress");

    const text = renderText(diagnosis);
    expect(text).toContain("Playbook: KubeClientErrors on cluster prod-eu");
    expect(text).toContain("Playbook: KubeClientErrors on cluster prod-us");
    // Each cluster's Prometheus got its own credentials: the token file only goes to prod-us'.
    expect(us.prometheus.queries.length).toBeGreaterThan(0);
    expect(us.prometheus.queries.every((q) => q.authorization === `Bearer ${MIMIR_TOKEN}`)).toBe(true);
    expect(eu.prometheus.queries.length).toBeGreaterThan(0);
    expect(eu.prometheus.queries.every((q) => q.authorization === undefined)).toBe(true);
    expect(eu.kube.requests.length).toBeGreaterThan(0);
    expect(us.kube.requests.length).toBeGreaterThan(0);
  });

  it("forwards an alert from a cluster it cannot read with a note, asking neither cluster anything", async () => {
    const { eu, us } = await twoClusters();
    const { running, sink } = await startWith({ CLUSTERS_FILE: writeClustersFile(eu, us) });
    await send(running.url, payloadOf(alertFrom("staging", "st00000000000001"), alertFrom(undefined, "no00000000000001")));
    await until(() => sink.delivered.length === 1);
    const [diagnosis] = sink.delivered as [Diagnosis];

    const fromStaging = alertWith(diagnosis, "st00000000000001");
    expect(fromStaging.playbook).toBeNull();
    expect(fromStaging.cluster).toBeUndefined();
    expect(fromStaging.note).toBe(
      'This alert is from cluster "staging" (label cluster); this service has no access to it (CLUSTERS_FILE names prod-eu, prod-us): forwarded without a diagnosis.',
    );
    // Without a `default` in the file, an alert that names no cluster is not read against a guess.
    const unlabelled = alertWith(diagnosis, "no00000000000001");
    expect(unlabelled.playbook).toBeNull();
    expect(unlabelled.note).toContain("This alert names no cluster (it has no label cluster)");
    expect(renderText(diagnosis)).toContain('This alert is from cluster "staging"');

    expect(eu.kube.requests).toHaveLength(0);
    expect(us.kube.requests).toHaveLength(0);
    expect(eu.prometheus.queries).toHaveLength(0);
    expect(us.prometheus.queries).toHaveLength(0);
  });

  it("keeps diagnosing prod-us at full speed while prod-eu's API server and Prometheus never answer", async () => {
    const { eu, us } = await twoClusters({ prodEuBlackHoled: true });
    // Caps of 2 in flight: were the guards shared, prod-eu's hung reads would hold every slot and prod-us would wait.
    const { running, sink } = await startWith({
      CLUSTERS_FILE: writeClustersFile(eu, us),
      STEP_TIMEOUT_SECONDS: "4",
      PLAYBOOK_DEADLINE_SECONDS: "8",
      MAX_INFLIGHT_KUBERNETES_REQUESTS: "2",
      MAX_INFLIGHT_PROMETHEUS_QUERIES: "2",
    });
    await send(running.url, payloadOf(alertFrom("prod-eu", "eu00000000000002"), alertFrom("prod-us", "us00000000000002")));
    await until(() => sink.delivered.length === 1);
    const [diagnosis] = sink.delivered as [Diagnosis];

    const fromUs = alertWith(diagnosis, "us00000000000002");
    expect(fromUs.partial).toBe(false);
    expect(fromUs.causes[0]?.id).toBe("network_failure");
    // Well inside one step timeout (4 s), though prod-eu's reads hang for the whole of theirs.
    expect(Date.parse(fromUs.finishedAt) - Date.parse(fromUs.startedAt)).toBeLessThan(2500);

    const fromEu = alertWith(diagnosis, "eu00000000000002");
    expect(fromEu.partial).toBe(true);
    expect(fromEu.verdict).toBe("could_not_check");
    expect(fromEu.couldNotRead?.join("\n")).toMatch(/the API server \(prod-eu\) did not answer \d+ reads? in 4 s/);
    expect(fromEu.couldNotRead?.join("\n")).toMatch(/Prometheus \(prod-eu\) did not answer/);
    expect(JSON.stringify(fromEu)).not.toContain("default-deny-egress");
    expect(eu.kube.requests.length).toBeGreaterThan(0);
  });

  it("reads an alert without the label against the file's default cluster, a context of KUBECONFIG, and says which it read", async () => {
    const { eu, us } = await twoClusters();
    // prod-us names only a context: it is looked up in KUBECONFIG.
    const file = writeClustersFile(eu, us, "default: prod-us\n");
    writeFileSync(file, readFileSync(file, "utf8").replace(`      kubeconfig: ${us.kube.kubeconfigPath}\n`, ""));
    const config = loadConfig({ ALLOW_UNAUTHENTICATED: "true", CLUSTERS_FILE: file, KUBECONFIG: us.kube.kubeconfigPath });
    expect(config.clusters?.clusters[1]?.kubernetes).toEqual({ context: "fake" });
    const diagnosis = await diagnose("n1", payloadOf(alertFrom(undefined, "no00000000000002")), {
      playbooks: loadPlaybooks(config.rulesDir),
      sources: createClusterSelection(config),
      limits: runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 }),
      maxPlaybookRuns: 10,
    });
    const [unlabelled] = diagnosis.alerts as [AlertDiagnosis];
    expect(unlabelled.cluster).toBe("prod-us");
    expect(unlabelled.causes[0]?.id).toBe("network_failure");
    expect(eu.kube.requests).toHaveLength(0);
  });

  it("sends each cluster's own headers and token to its Prometheus, reading the token file again for every query", async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-clusters-"));
    const seen: IncomingHttpHeaders[] = [];
    const prometheus = createServer((request, response) => {
      seen.push(request.headers);
      request.resume();
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }));
    });
    await new Promise<void>((resolve) => prometheus.listen(0, "127.0.0.1", resolve));
    const port = (prometheus.address() as { port: number }).port;
    const kube = await startDemoCluster(scenarioNamed("nothing-found"));
    clusters.push(kube);
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "first-token-0123456789");
    writeFileSync(
      join(dir, "clusters.yaml"),
      `clusters:
  tenant-a:
    kubernetes: { kubeconfig: ${kube.kube.kubeconfigPath} }
    prometheus:
      url: http://127.0.0.1:${port}/prometheus
      bearerTokenFile: token
      headers: { X-Scope-OrgID: tenant-a }
`,
    );
    try {
      const selection = createClusterSelection(loadConfig({ ALLOW_UNAUTHENTICATED: "true", CLUSTERS_FILE: join(dir, "clusters.yaml") }));
      if (typeof selection !== "function") throw new Error("expected a selection per alert");
      const choice = selection(alertFrom("tenant-a", "ta00000000000001"));
      if (!("sources" in choice)) throw new Error(choice.notServed);
      const ask = (query: string) => choice.sources.prometheus({ query }, AbortSignal.timeout(5000), { stepId: "test" });
      await ask("up");
      writeFileSync(tokenFile, "rotated-token-0123456789\n");
      await ask("up == 0");
      expect(seen.map((h) => [h["x-scope-orgid"], h.authorization])).toEqual([
        ["tenant-a", "Bearer first-token-0123456789"],
        ["tenant-a", "Bearer rotated-token-0123456789"],
      ]);
    } finally {
      await new Promise((resolve) => prometheus.close(resolve));
    }
  });
});

describe("one service for one cluster (CLUSTER_NAME)", () => {
  it("diagnoses its own cluster's alerts and those without the label, and forwards another cluster's", async () => {
    const { eu } = await twoClusters();
    const config = loadConfig({ ...eu.env, ALLOW_UNAUTHENTICATED: "true", CLUSTER_NAME: "prod-eu" });
    const diagnosis = await diagnose(
      "n2",
      payloadOf(
        alertFrom("prod-eu", "eu00000000000003"),
        alertFrom(undefined, "no00000000000003"),
        alertFrom("prod-us", "us00000000000003"),
      ),
      {
        playbooks: loadPlaybooks(config.rulesDir),
        sources: createClusterSelection(config),
        limits: runLimitsFrom({ stepTimeoutMs: 5000, playbookDeadlineMs: 20_000 }),
        maxPlaybookRuns: 10,
      },
    );
    expect(alertWith(diagnosis, "eu00000000000003")).toMatchObject({ cluster: "prod-eu", causes: [{ id: "authentication_failure" }] });
    expect(alertWith(diagnosis, "no00000000000003")).toMatchObject({ cluster: "prod-eu", causes: [{ id: "authentication_failure" }] });
    const other = alertWith(diagnosis, "us00000000000003");
    expect(other.playbook).toBeNull();
    expect(other.note).toBe(
      'This alert is from cluster "prod-us" (label cluster); this service reads only cluster "prod-eu" (CLUSTER_NAME) and has no access to that one: forwarded without a diagnosis.',
    );
  });
});

describe("a clusters file that cannot work", () => {
  it("stops the start naming the file, the cluster and a context its kubeconfig lacks", async () => {
    const { eu, us } = await twoClusters();
    const file = writeClustersFile(eu, us);
    writeFileSync(file, readFileSync(file, "utf8").replace("context: fake", "context: prod-us-admin"));
    const start = startWith({ CLUSTERS_FILE: file });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(
      `CLUSTERS_FILE ${file}: cluster "prod-us": kubernetes.context: "prod-us-admin" is not a context in ${us.kube.kubeconfigPath} (it has fake)`,
    );
  });

  it("stops the start naming a bearer token file that is not there", async () => {
    const { eu, us } = await twoClusters();
    const file = writeClustersFile(eu, us);
    rmSync(join(dir, "mimir-token"));
    await expect(startWith({ CLUSTERS_FILE: file })).rejects.toThrow(
      `CLUSTERS_FILE ${file}: cluster "prod-us": prometheus.bearerTokenFile: ${join(dir, "mimir-token")} could not be read: ENOENT`,
    );
  });
});

describe("enricher diagnose with CLUSTERS_FILE", () => {
  it("reads each alert's own cluster, as the service does, and forwards the unknown one", async () => {
    const { eu, us } = await twoClusters();
    const file = writeClustersFile(eu, us);
    const payloadFile = join(dir, "alert.json");
    writeFileSync(
      payloadFile,
      JSON.stringify(payloadOf(alertFrom("prod-us", "us00000000000004"), alertFrom("staging", "st00000000000004"))),
    );
    const result = await runNode(["bin/enricher.ts", "diagnose", payloadFile, "--dry-run"], { env: { CLUSTERS_FILE: file } });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Playbook: KubeClientErrors on cluster prod-us");
    expect(result.stdout).toContain("default-deny-egress");
    expect(result.stdout).toContain('This alert is from cluster "staging" (label cluster); this service has no access to it');
    expect(eu.kube.requests).toHaveLength(0);
  });

  it("exits 2 naming the file and the field of a clusters file that fails its schema", async () => {
    dir = mkdtempSync(join(tmpdir(), "enricher-clusters-"));
    const file = join(dir, "clusters.yaml");
    writeFileSync(file, "clusters:\n  prod-eu:\n    kubernetes: { inCluster: true }\n    prometheus: { url: http://p, tenant: a }\n");
    const payloadFile = join(dir, "alert.json");
    writeFileSync(payloadFile, JSON.stringify(kubeClientErrorsPayload()));
    const result = await runNode(["bin/enricher.ts", "diagnose", payloadFile, "--dry-run"], { env: { CLUSTERS_FILE: file } });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `enricher: CLUSTERS_FILE ${file}:4: cluster "prod-eu": prometheus: unknown field "tenant" (known: url, bearerToken, bearerTokenFile, headers)\n`,
    );
  });
});
