// The Prometheus part of `enricher check` against a real Prometheus (Debian's 2.42, and the 3.x build of the test tools
// when present): it scrapes an exporter of two of the families the playbooks query, and the check names every other
// family as missing — so the label values API with match[] and a start/end window behaves as the check expects.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricNeeds, starvedSteps } from "../../src/check/metric-families.ts";
import { checkPrometheus } from "../../src/check/prometheus-check.ts";
import { loadPlaybooks } from "../../src/engine/load-playbooks.ts";
import { type LoopbackServer, listenOnLoopback } from "../../testkit/loopback-server.ts";
import { REPO_ROOT } from "../support/node-process.ts";
import { type RunningPrometheus, startPrometheus } from "../support/prometheus-server.ts";
import { testToolsCache, testToolVersions } from "../support/test-tools.ts";

const needs = metricNeeds(loadPlaybooks(join(REPO_ROOT, "rules")));
const PROMETHEUS_3 = join(testToolsCache(), `prometheus-${testToolVersions().PROMETHEUS_VERSION ?? ""}`, "prometheus");
const binaries = [undefined, ...(existsSync(PROMETHEUS_3) ? [PROMETHEUS_3] : [])];

let exporter: LoopbackServer;

beforeAll(async () => {
  exporter = await listenOnLoopback((_request, response) => {
    response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
    response.end('# TYPE rest_client_requests_total counter\nrest_client_requests_total{code="200"} 7\n');
  });
});

afterAll(async () => {
  await exporter?.close();
});

describe.each(binaries)("the Prometheus check against a real Prometheus (%s)", (binary) => {
  let prometheus: RunningPrometheus;

  beforeAll(async () => {
    prometheus = await startPrometheus({
      ...(binary !== undefined ? { binary } : {}),
      rulesFiles: [],
      scrapeTargets: [{ job: "client", address: new URL(exporter.url).host }],
    });
    // New targets are scraped in 5 s batches: wait for the exporter's series.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = await fetch(`${prometheus.url}/api/v1/query?query=rest_client_requests_total`);
      const body = (await answer.json()) as { data?: { result?: unknown[] } };
      if ((body.data?.result?.length ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error("Prometheus never scraped the exporter");
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
  });

  it("finds the scraped families and names each other one with the steps it starves", async () => {
    const lines = await checkPrometheus({ url: prometheus.url }, needs, {
      label: "prometheus",
      userAgent: "alert-enricher/test",
      timeoutMs: 5000,
      configuredBy: "PROMETHEUS_URL",
    });
    const expected = starvedSteps(needs, new Set(["rest_client_requests_total", "up"]));
    expect(lines.every((l) => l.status === "warn")).toBe(true);
    expect(lines.map((l) => /no series of (\S+) /.exec(l.detail)?.[1])).toEqual([...expected.keys()]);
    expect(lines.some((l) => l.detail.includes("rest_client_requests_total"))).toBe(false);
  });
});
