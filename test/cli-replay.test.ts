// `enricher diagnose FILE.json --at TIME` (issue #12) replays an alert at the moment it fired: Prometheus evaluates
// every query at that time (instant queries at it, range queries ending at it) and conditions' time functions measure
// from it; Kubernetes objects can only be read as they are now, and the output says so.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeKubeApi, startFakeKubeApi } from "../testkit/fixture-cluster.ts";
import { PrometheusSource } from "../src/sources/prometheus.ts";
import { type FakePrometheus, startFakePrometheus } from "./support/fake-prometheus.ts";
import { killChildren, runNode } from "./support/node-process.ts";
import { kubeClientErrorsPayload } from "./support/payloads.ts";

const AT = "2026-11-23T09:41:00Z";
const AT_SECONDS = Date.parse(AT) / 1000;

const PLAYBOOK = `alert: ReplayExample
title: Replay example
runbook: example.md
steps:
  - id: settings
    title: The settings ConfigMap
    kubernetes: { apiVersion: v1, kind: ConfigMap, namespace: shop, name: settings }
  - id: ratio
    title: Error ratio
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m]))' }
  - id: history
    title: Error history
    prometheus: { query: 'sum(rate(errors_total{job="web"}[5m]))', range: 10m }
causes:
  - id: replayed
    title: What the replay saw
    symptom: { when: "true", text: replayed }
    confidence: 0.5
    summary: >-
      ratio {{ steps.ratio.value }}, {{ size(steps.history.series[0].points) }} points,
      settings {{ fixed(-secondsUntil(steps.settings.object.metadata.creationTimestamp), 0) }} s old
noCorrelation:
  title: No correlation
  summary: nothing
`;

let dir: string;
let kube: FakeKubeApi | undefined;
let prometheus: FakePrometheus | undefined;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "enricher-replay-"));
  mkdirSync(join(dir, "rules"));
  writeFileSync(join(dir, "rules", "ReplayExample.yaml"), PLAYBOOK);
  writeFileSync(join(dir, "alert.json"), JSON.stringify(kubeClientErrorsPayload({ alertname: "ReplayExample" })));
  kube = await startFakeKubeApi({
    objects: [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "shop", creationTimestamp: "2026-11-23T09:00:00Z" } },
    ],
  });
  prometheus = await startFakePrometheus([
    {
      match: "errors_total",
      vector: [{ labels: {}, value: 0.25 }],
      // Two points in the ten minutes before AT, one after it: a range query ending at AT keeps two.
      matrix: [
        {
          labels: {},
          values: [
            [AT_SECONDS - 300, 0.1],
            [AT_SECONDS - 60, 0.2],
            [AT_SECONDS + 600, 0.9],
          ],
        },
      ],
    },
  ]);
});

afterEach(async () => {
  await killChildren();
  await Promise.all([kube?.close(), prometheus?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const diagnose = (...args: string[]) =>
  runNode(["bin/enricher.ts", "diagnose", join(dir, "alert.json"), "--dry-run", ...args], {
    env: { KUBECONFIG: kube?.kubeconfigPath, PROMETHEUS_URL: prometheus?.url, RULES_DIR: join(dir, "rules") },
  });

describe("enricher diagnose --at", () => {
  it("evaluates Prometheus queries and time functions at that moment, reads objects now, and says so", async () => {
    const result = await diagnose("--at", AT);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^Replayed at 2026-11-23T09:41:00\.000Z: metrics at 2026-11-23T09:41:00\.000Z, Kubernetes objects and logs read now \(\d{4}-\d\d-\d\dT[\d:.]+Z\)\./,
    );
    expect(result.stdout).toContain("ratio 0.25, 2 points, settings 2460 s old");
    const instant = prometheus?.queries.find((q) => q.path === "/api/v1/query");
    const range = prometheus?.queries.find((q) => q.path === "/api/v1/query_range");
    expect(instant?.params.time).toBe(String(AT_SECONDS));
    expect(range?.params.end).toBe(String(AT_SECONDS));
    expect(range?.params.start).toBe(String(AT_SECONDS - 600));
    expect(kube?.requests.length).toBeGreaterThan(0);
  });

  it("takes --at=TIME and a zone offset", async () => {
    const result = await diagnose("--at=2026-11-23T10:41:00+01:00");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("settings 2460 s old");
  });

  it("without --at, asks Prometheus for now and says nothing of a replay", async () => {
    const before = Date.now() / 1000;
    const result = await diagnose();
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("Replayed at");
    const time = Number(prometheus?.queries.find((q) => q.path === "/api/v1/query")?.params.time);
    expect(time).toBeGreaterThanOrEqual(before - 1);
  });

  it.each([
    [["--at", "yesterday"], "--at yesterday: not an RFC 3339 time with a zone, such as 2026-11-23T09:41:00Z"],
    [["--at", "2026-11-23T09:41:00"], "--at 2026-11-23T09:41:00: not an RFC 3339 time with a zone"],
    [["--at", "2999-01-01T00:00:00Z"], "--at 2999-01-01T00:00:00Z: is in the future"],
    [["--at"], "--at needs a time"],
  ])("exits 2 on %j", async (args, message) => {
    const result = await diagnose(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(prometheus?.queries).toEqual([]);
  });
});

describe("PrometheusSource with a query's `at`", () => {
  it("evaluates an instant query at it and ends a range query there", async () => {
    const source = new PrometheusSource({ url: prometheus?.url ?? "", userAgent: "test" });
    const at = Date.parse(AT);
    const instant = await source.query({ query: 'sum(rate(errors_total{job="web"}[5m]))', at }, AbortSignal.timeout(5000));
    const range = await source.query({ query: 'sum(rate(errors_total{job="web"}[5m]))', rangeMs: 600_000, at }, AbortSignal.timeout(5000));
    expect(instant.data.value).toBe(0.25);
    expect((range.data.series as Array<{ points: unknown[] }>)[0]?.points).toEqual([
      { t: "2026-11-23T09:36:00.000Z", v: 0.1 },
      { t: "2026-11-23T09:40:00.000Z", v: 0.2 },
    ]);
    expect(prometheus?.queries.map((q) => q.params.time ?? q.params.end)).toEqual([String(AT_SECONDS), String(AT_SECONDS)]);
  });
});
