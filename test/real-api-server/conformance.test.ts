// The fake API server against a real kube-apiserver v1.36: every request shape the playbooks make (collected by
// running every case of rules/tests on the fake), then targeted probes of the selectors, paging, defaults, logs,
// discovery and errors they rely on, each sent to both while they hold the same objects, and the answers compared
// field by field. What the fake deliberately does not emulate (its header table) is taken out first
// (not-emulated.ts); anything else that differs fails, one line per difference.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { type FakeKubeApi, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { loadTestFiles } from "../../testkit/run-playbook-tests.ts";
import { type RealKubeApi, startRealKubeApi } from "../support/kube-apiserver.ts";
import { REPO_ROOT } from "../support/node-process.ts";
import { answerDifferences, continueOf, discoveryDifferences, jsonDifferences } from "./answer-differences.ts";
import { loadConformanceCluster, unionOf } from "./conformance-cluster.ts";
import { PROBE_LOGS, PROBE_NAMESPACE, PROBE_NODE, probeObjects } from "./conformance-probes.ts";
import { notEmulated } from "./not-emulated.ts";
import { collectRequestShapes, pathAndQuery, type RequestShape, shapeText } from "./request-shapes.ts";
import { type TwoServers, twoServers } from "./two-servers.ts";

let real: RealKubeApi;
let fake: FakeKubeApi;
let servers: TwoServers;
let shapes: RequestShape[];
let requestsMade = 0;
let refused: string[] = [];
let probes = 0;

const ns = PROBE_NAMESPACE;

/** The clock most cases run at: the fake's and the stand-in kubelet's now, for sinceSeconds. */
function commonest(times: Date[]): Date {
  const counts = new Map<number, number>();
  for (const t of times) counts.set(t.getTime(), (counts.get(t.getTime()) ?? 0) + 1);
  const [best] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? [Date.now()];
  return new Date(best);
}

beforeAll(async () => {
  const starting = startRealKubeApi();
  try {
    const playbooks = loadPlaybooks(join(REPO_ROOT, "rules"));
    const collected = await collectRequestShapes(loadTestFiles(join(REPO_ROOT, "rules", "tests"), playbooks));
    shapes = collected.shapes;
    requestsMade = collected.requests;
    const at = commonest(collected.cases.map((c) => c.at));
    const cases = unionOf(collected.cases.map((c) => c.state));
    real = await starting;
    const cluster = await loadConformanceCluster(real, {
      objects: [...cases.objects, ...probeObjects()],
      logs: { ...cases.logs, ...PROBE_LOGS },
    });
    refused = cluster.refused;
    fake = await startFakeKubeApi(cluster.fakeState, { now: () => at });
    const pods = cluster.fakeState.objects.filter((o) => o.kind === "Pod");
    real.setKubeletState({ now: at, logs: cluster.fakeState.logs ?? {}, pods });
    servers = twoServers(real, fake);
  } catch (error) {
    await (await starting.catch(() => undefined))?.stop();
    throw error;
  }
}, 180_000);

afterAll(async () => {
  console.log(
    `conformance with kube-apiserver ${real?.version}: ${shapes?.length ?? 0} request shapes (of ${requestsMade} requests) compared, ${probes} probes; ${refused.length} objects the real server refused left out`,
  );
  // Fixtures no real server would hold: for whoever keeps rules/tests and base-cluster.ts.
  if (refused.length > 0) console.log(`refused by the real server:\n  ${refused.join("\n  ")}`);
  servers?.close();
  await fake?.close();
  await real?.stop();
});

/** Sends one request to both and compares the answers, following each server's continue tokens to the last page. */
async function compare(path: string, query: Record<string, string>, label: string): Promise<string[]> {
  const first = await servers.get(pathAndQuery(path, query));
  const lines = answerDifferences(label, first.real, first.fake, notEmulated);
  let [realToken, fakeToken] = [continueOf(first.real), continueOf(first.fake)];
  for (let page = 2; realToken !== undefined && fakeToken !== undefined; page++) {
    const [r, f] = await Promise.all([
      servers.real(pathAndQuery(path, { ...query, continue: realToken })),
      servers.fake(pathAndQuery(path, { ...query, continue: fakeToken })),
    ]);
    lines.push(...answerDifferences(`${label} (page ${page})`, r, f, notEmulated));
    [realToken, fakeToken] = [continueOf(r), continueOf(f)];
  }
  return lines;
}

/** Probes: each "path?query" compared as `compare` does. */
async function probe(requests: string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const request of requests) {
    probes++;
    const url = new URL(request, "http://probe.invalid");
    lines.push(...(await compare(url.pathname, Object.fromEntries(url.searchParams), `GET ${request}`)));
  }
  return lines;
}

/** A continue token as the API server encodes one (storage.EncodeContinue), with whatever is in it. */
function token(content: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(content)).toString("base64url");
}

/** No difference, or every one of them in the failure, a line each. */
function expectAlike(differences: string[]): void {
  expect(differences.join("\n")).toBe("");
}

/** The group versions of /apis: each version's path, and whether the fake serves any kind there. */
async function groupVersions(): Promise<Array<{ group: string; path: string; served: boolean }>> {
  const groups = (await servers.fake("/apis")).body as { groups: Array<{ name: string; versions: Array<{ groupVersion: string }> }> };
  const found: Array<{ group: string; path: string; served: boolean }> = [];
  for (const g of groups.groups) {
    for (const v of g.versions) {
      const path = `/apis/${v.groupVersion}`;
      found.push({ group: g.name, path, served: (await servers.fake(path)).status === 200 });
    }
  }
  return found;
}

/** Paths the fake serves a list at, from its own discovery. */
async function listPaths(): Promise<string[]> {
  const bases = ["/api/v1", ...(await groupVersions()).filter((v) => v.served).map((v) => v.path)];
  const paths: string[] = [];
  for (const base of bases) {
    const list = (await servers.fake(base)).body as { resources: Array<{ name: string }> };
    for (const r of list.resources) if (!r.name.includes("/")) paths.push(`${base}/${r.name}`);
  }
  return paths;
}

describe("the fake API server answers as a real kube-apiserver", () => {
  test("every request shape the playbooks make, holding every case's objects", async () => {
    expect(shapes.length).toBeGreaterThan(30);
    const lines: string[] = [];
    for (const shape of shapes) {
      const discovery = shape.path === "/api" || shape.path === "/apis" || /^\/(api\/v1|apis\/[^/]+\/[^/]+)$/.test(shape.path);
      if (discovery) {
        const answers = await servers.get(pathAndQuery(shape.path, shape.query));
        lines.push(...discoveryDifferences(shapeText(shape), answers.real, answers.fake));
      } else {
        lines.push(...(await compare(shape.path, shape.query, shapeText(shape))));
      }
    }
    expectAlike(lines);
  });

  test("every object reads back alike, listed kind by kind across all namespaces", async () => {
    expectAlike(await probe(await listPaths()));
  });

  test("pages: the same items in the same order, a continue token while objects remain, remainingItemCount only without selectors", async () => {
    const lines = await probe([
      `/api/v1/namespaces/${ns}/configmaps?limit=5`,
      `/api/v1/namespaces/${ns}/configmaps?limit=11`,
      `/api/v1/namespaces/${ns}/configmaps?limit=12`,
      `/api/v1/namespaces/${ns}/configmaps?limit=2&labelSelector=tier%3Dweb`,
      `/api/v1/namespaces/${ns}/configmaps?limit=5&resourceVersion=0`,
      `/api/v1/configmaps?limit=7&fieldSelector=metadata.namespace%3D${ns}`,
      "/api/v1/events?limit=100",
      "/api/v1/events?limit=60&fieldSelector=type%3DWarning",
      "/apis/events.k8s.io/v1/events?limit=150",
      "/api/v1/pods?limit=9",
      `/api/v1/namespaces/${ns}/configmaps?limit=abc`,
      `/api/v1/namespaces/${ns}/configmaps?limit=-5`,
      `/api/v1/namespaces/${ns}/configmaps?limit=5&continue=%25%25`,
      `/api/v1/namespaces/${ns}/configmaps?limit=5&continue=abcde`,
      `/api/v1/namespaces/${ns}/configmaps?limit=5&continue=${token({ v: "meta.k8s.io/v1", rv: 0, start: "page-04\u0000" })}`,
      `/api/v1/namespaces/${ns}/configmaps?limit=5&continue=${token({ v: "meta.k8s.io/v1", rv: 5, start: "" })}`,
      `/api/v1/namespaces/${ns}/configmaps?limit=5&continue=${token({ v: "meta.k8s.io/v2", rv: 5, start: "page-04\u0000" })}`,
    ]);
    expectAlike(lines);
    // What the comparison rests on: the real server did cut these lists into pages.
    const cut = await servers.real(`/api/v1/namespaces/${ns}/configmaps?limit=5`);
    expect(continueOf(cut)).toBeDefined();
    expect(cut.body).toMatchObject({ metadata: { remainingItemCount: 7 } });
    expect(continueOf(await servers.real("/api/v1/events?limit=100"))).toBeDefined();
  });

  test("a read of one name (metadata.name with limit=1) comes back whole, without a continue token", async () => {
    const lines = await probe([
      `/api/v1/namespaces/${ns}/configmaps?fieldSelector=metadata.name%3Dpage-03&limit=1`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=metadata.name%3Dtwo-containers.0002&limit=1`,
      `/api/v1/nodes?fieldSelector=metadata.name%3D${PROBE_NODE}&limit=1`,
      "/api/v1/configmaps?fieldSelector=metadata.name%3Dpage-03&limit=1",
      `/api/v1/configmaps?fieldSelector=metadata.name%3Dpage-03,metadata.namespace%3D${ns}&limit=1`,
    ]);
    expectAlike(lines);
    const single = await servers.real(`/api/v1/namespaces/${ns}/configmaps?fieldSelector=metadata.name%3Dpage-03&limit=1`);
    expect(single.body).toMatchObject({ items: [{ metadata: { name: "page-03" } }] });
    expect(continueOf(single)).toBeUndefined();
  });

  test("field selectors: the ones playbooks use match the same objects; the ones the real server refuses get the same 400", async () => {
    const lines = await probe([
      `/api/v1/namespaces/${ns}/events?fieldSelector=type%3DWarning`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=type!%3DNormal`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.kind%3DPod,involvedObject.name%3Dtwo-containers`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=reason%3DBackOff`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=source%3Ddefault-scheduler`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=reportingComponent%3Dkubelet`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.fieldPath%3Dspec.containers%7Bapp%7D`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events?fieldSelector=regarding.name%3Dtwo-containers,type%3DWarning`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events?fieldSelector=reportingController%3Dexample.com/operator`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events?fieldSelector=source%3Dkubelet`,
      `/api/v1/pods?fieldSelector=spec.nodeName%3D${PROBE_NODE}`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.nodeName%3D`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=status.phase!%3DRunning`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.restartPolicy%3DAlways`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.schedulerName%3Ddefault-scheduler`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.hostNetwork%3Dtrue`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.hostNetwork%3Dfalse`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=status.podIP%3D10.244.9.11`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.host%3D${PROBE_NODE}`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=spec.containers`,
      `/api/v1/namespaces/${ns}/pods?fieldSelector=metadata.labels.app%3Dweb`,
      "/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse",
      "/api/v1/namespaces?fieldSelector=status.phase%3DActive",
      `/api/v1/namespaces?fieldSelector=name%3D${ns}`,
      `/api/v1/namespaces/${ns}/secrets?fieldSelector=type%3DOpaque`,
      `/api/v1/namespaces/${ns}/services?fieldSelector=spec.type%3DClusterIP`,
      `/api/v1/namespaces/${ns}/configmaps?fieldSelector=data.index%3D1`,
      `/apis/apps/v1/namespaces/${ns}/replicasets?fieldSelector=status.replicas%3D1`,
      `/apis/apps/v1/namespaces/${ns}/deployments?fieldSelector=metadata.name%3Dweb`,
      `/apis/batch/v1/namespaces/${ns}/jobs?fieldSelector=status.successful%3D0`,
      `/apis/batch/v1/namespaces/${ns}/jobs?fieldSelector=status.active%3D1`,
      "/apis/certificates.k8s.io/v1/certificatesigningrequests?fieldSelector=spec.signerName%3Dkubernetes.io/kube-apiserver-client",
      `/api/v1/namespaces/${ns}/events?fieldSelector=type`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=type%3D%3DWarning`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=type%3DWarn%3Ding`,
      `/api/v1/namespaces/${ns}/events?fieldSelector=zzz%3D1,aaa%3D2`,
    ]);
    expectAlike(lines);
    // Among them, selectors the real server refuses that an earlier fake took.
    for (const refused of [
      `/api/v1/namespaces?fieldSelector=name%3D${ns}`,
      `/apis/apps/v1/namespaces/${ns}/replicasets?fieldSelector=status.replicas%3D1`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events?fieldSelector=source%3Dkubelet`,
    ]) {
      expect((await servers.real(refused)).status, refused).toBe(400);
    }
  });

  test("label selectors: equality, set-based, existence and their parse errors", async () => {
    const selectors = [
      "tier=web",
      "tier==web",
      "tier!=db",
      "tier in (web,api)",
      "tier notin (web)",
      "release",
      "!release",
      "tier=web,release",
      "tier in (web),!release",
      "tier in (",
      "tier in ()",
      "tier=",
      "=web",
      "tier>1",
      "Bad Key=x",
      "tier=web!",
      "-bad=x",
      "tier=-x",
      "tier in (a,-b)",
      "a/b/c=x",
      "tier in (web",
      "tier notin ()",
      "tier in (,web)",
      "tier=web,",
      ",tier",
      "tier=web tier=api",
      "!",
      "tier<x",
      "tier=!x",
    ];
    const lines = await probe(selectors.map((s) => `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent(s)}`));
    expectAlike(lines);
  });

  test("pod logs: the API server's own checks (204, 422, 400, 404) and what the kubelet's answer becomes", async () => {
    const logs = (pod: string, query = "") => `/api/v1/namespaces/${ns}/pods/${pod}/log${query}`;
    const lines = await probe([
      logs("unscheduled"),
      logs("unscheduled", "?container=app&tailLines=10"),
      logs("two-containers", "?container=app&tailLines=-1"),
      logs("two-containers", "?container=app&limitBytes=0"),
      logs("two-containers", "?container=app&sinceSeconds=0"),
      logs("two-containers", "?container=app&tailLines=-1&limitBytes=0"),
      logs("two-containers", "?container=app&sinceSeconds=60&sinceTime=2026-11-23T09:00:00Z"),
      logs("two-containers", "?container=app&tailLines=abc"),
      logs("two-containers", "?container=app&sinceTime=yesterday"),
      logs("two-containers", "?container=nope"),
      logs("two-containers"),
      logs("defaults-pod"),
      logs("two-containers", "?container=sidecar&previous=true"),
      logs("two-containers", "?container=app&previous=true"),
      logs("two-containers", "?container=app&tailLines=2"),
      logs("two-containers", "?container=app&tailLines=0"),
      logs("two-containers", "?container=app&limitBytes=20"),
      logs("two-containers", "?container=app&timestamps=true&tailLines=3"),
      logs("two-containers", "?container=app&sinceSeconds=600"),
      logs("two-containers", "?container=app&sinceTime=2026-11-23T09:50:00Z&timestamps=true"),
      logs("two-containers", "?container=app&previous=maybe"),
      logs("two-containers", "?container=app&timestamps=maybe"),
      logs("two-containers", "?container=app&sinceTime=2026-11-23T09:50:00"),
      logs("two-containers", "?container=app&sinceTime=2026-13-23T09:50:00Z"),
      logs("no-such-pod", "?container=app"),
      "/api/v1/namespaces/no-such-namespace/pods/two-containers/log",
    ]);
    expectAlike(lines);
    // What the comparison rests on: a pod with no node has no log, and no Content-Type; bad options are 422, a
    // container the pod does not have (or none named in a pod of two) 400.
    expect(await servers.real(logs("unscheduled"))).toEqual({ status: 204, contentType: undefined, body: "" });
    expect((await servers.real(logs("two-containers", "?container=app&tailLines=-1"))).status).toBe(422);
    expect((await servers.real(logs("two-containers"))).status).toBe(400);
  });

  test("discovery: /api, /apis, each group and the resource lists of what playbooks read", async () => {
    const versions = await groupVersions();
    // A group the fake serves no kind of is one /apis lists only because an APIService announces it (every built-in
    // group has one; an aggregated API's is Available as the fixture says): its resources are not emulated.
    const servedGroups = new Set(versions.filter((v) => v.served).map((v) => v.group));
    const paths = [
      "/api",
      "/apis",
      "/api/v1",
      ...[...servedGroups].map((g) => `/apis/${g}`),
      ...versions.filter((v) => servedGroups.has(v.group)).map((v) => v.path),
    ];
    const lines: string[] = [];
    for (const path of paths) {
      probes++;
      const answers = await servers.get(path);
      lines.push(...discoveryDifferences(`GET ${path}`, answers.real, answers.fake));
    }
    // The version, not how or when the binary was built.
    probes++;
    const version = await servers.get("/version");
    const release = (body: unknown) => {
      const { major, minor, gitVersion } = body as Record<string, unknown>;
      return { major, minor, gitVersion };
    };
    lines.push(...jsonDifferences(release(version.real.body), release(version.fake.body)).map((line) => `GET /version: ${line}`));
    expectAlike(lines);
  });

  test("missing objects, resources, groups and versions get the same 404", async () => {
    const lines = await probe([
      `/api/v1/namespaces/${ns}/pods/nope`,
      `/api/v1/namespaces/${ns}/events/nope`,
      "/api/v1/nodes/nope",
      `/apis/apps/v1/namespaces/${ns}/deployments/nope`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events/nope`,
      "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/nope",
      "/apis/apiregistration.k8s.io/v1/apiservices/v1.nope.example.com",
      "/api/v1/foos",
      `/api/v1/namespaces/${ns}/foos`,
      `/api/v1/namespaces/${ns}/nodes`,
      `/api/v1/namespaces/${ns}/configmaps/page-01/extra`,
      "/apis/apps/v1/foos",
      "/apis/apps/v9",
      "/apis/apps/v9/deployments",
      "/apis/nonexistent.example.com/v1",
      "/apis/nonexistent.example.com",
      "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
      "/apis/flowcontrol.apiserver.k8s.io/v1beta3/prioritylevelconfigurations",
      "/api/v2",
      "/nonsense",
      "/api/v1/namespaces/no-such-namespace/configmaps",
    ]);
    expectAlike(lines);
  });

  test("an object written without its defaults, with millisecond times and empty lists, reads back as the real server has it", async () => {
    const lines = await probe([
      `/api/v1/namespaces/${ns}/pods/defaults-pod`,
      `/api/v1/namespaces/${ns}/pods/two-containers`,
      `/api/v1/namespaces/${ns}/pods/host-network`,
      `/api/v1/nodes/${PROBE_NODE}`,
      `/api/v1/namespaces/${ns}`,
      `/api/v1/namespaces/${ns}/services/web`,
      `/api/v1/namespaces/${ns}/secrets/credentials`,
      `/apis/apps/v1/namespaces/${ns}/deployments/web`,
      `/apis/apps/v1/namespaces/${ns}/replicasets/web-5c9f`,
      `/apis/batch/v1/namespaces/${ns}/jobs/report`,
      `/apis/batch/v1/namespaces/${ns}/cronjobs/nightly`,
      `/api/v1/namespaces/${ns}/events/two-containers.0000`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events/two-containers.0000`,
      `/api/v1/namespaces/${ns}/events/two-containers.new-style`,
      `/apis/events.k8s.io/v1/namespaces/${ns}/events/two-containers.new-style`,
    ]);
    expectAlike(lines);
    const written = await servers.get(`/api/v1/namespaces/${ns}/pods/defaults-pod`);
    for (const side of [written.real, written.fake]) {
      expect(side.body).toMatchObject({ spec: { restartPolicy: "Always", schedulerName: "default-scheduler", dnsPolicy: "ClusterFirst" } });
    }
  });
});
