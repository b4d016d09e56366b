// Times in the fake kube-apiserver read back in the real server's precision: whole seconds for metav1.Time, six
// fractional digits for metav1.MicroTime, UTC, and null where unset.
import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { list, read, serve } from "./fake-api-reads.ts";

function coreEvent(name: string, times: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name, namespace: "shop", creationTimestamp: "2026-01-15T09:58:00.750Z" },
    involvedObject: { kind: "Pod", name: "web-1", namespace: "shop" },
    reason: "BackOff",
    message: "Back-off restarting failed container",
    type: "Warning",
    ...times,
  };
}

describe("times in the fake kube-apiserver", () => {
  it("keeps whole seconds of creationTimestamp and an Event's first and last timestamps, in UTC", async () => {
    const fake = await serve([
      coreEvent("web-1.a", { firstTimestamp: "2026-01-15T09:58:00.750Z", lastTimestamp: "2026-01-15T11:59:59.999+02:00", count: 3 }),
    ]);
    const [served] = (await list(fake, "/api/v1/namespaces/shop/events")).items;
    expect(served?.metadata.creationTimestamp).toBe("2026-01-15T09:58:00Z");
    expect(served).toMatchObject({ firstTimestamp: "2026-01-15T09:58:00Z", lastTimestamp: "2026-01-15T09:59:59Z" });
  });

  it("keeps microseconds of an eventTime, written with six digits", async () => {
    const fake = await serve([
      coreEvent("web-1.b", { eventTime: "2026-01-15T09:58:00.123Z" }),
      coreEvent("web-1.c", { eventTime: "2026-01-15T09:58:00.1234567Z" }),
    ]);
    const served = (await list(fake, "/apis/events.k8s.io/v1/namespaces/shop/events")).items;
    expect(served.map((e) => e.eventTime)).toEqual(["2026-01-15T09:58:00.123000Z", "2026-01-15T09:58:00.123456Z"]);
  });

  it("serves an Event's unset times as null and its unset reporter as empty, as Go writes them", async () => {
    const fake = await serve([coreEvent("web-1.d", { eventTime: "2026-01-15T09:58:00.000001Z" })]);
    const core = (await read(fake, "/api/v1/namespaces/shop/events/web-1.d")).body;
    expect(core).toMatchObject({ firstTimestamp: null, lastTimestamp: null, source: {}, reportingComponent: "", reportingInstance: "" });
    const events = (await read(fake, "/apis/events.k8s.io/v1/namespaces/shop/events/web-1.d")).body;
    expect(events).toMatchObject({ deprecatedFirstTimestamp: null, deprecatedLastTimestamp: null, deprecatedSource: {} });
    expect(events).not.toHaveProperty("reportingController");
  });

  it("keeps whole seconds of conditions' and containers' times", async () => {
    const fake = await serve([
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web-1", namespace: "shop", creationTimestamp: "2026-01-15T09:00:00.001Z" },
        spec: { containers: [{ name: "web", image: "web:1" }], nodeName: "worker-1" },
        status: {
          phase: "Running",
          startTime: "2026-01-15T09:00:01.500Z",
          conditions: [{ type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: "2026-01-15T09:00:05.900Z" }],
          containerStatuses: [{ name: "web", ready: true, restartCount: 0, state: { running: { startedAt: "2026-01-15T09:00:03.250Z" } } }],
        },
      },
    ]);
    expect((await read(fake, "/api/v1/namespaces/shop/pods/web-1")).body).toMatchObject({
      status: {
        startTime: "2026-01-15T09:00:01Z",
        conditions: [{ lastProbeTime: null, lastTransitionTime: "2026-01-15T09:00:05Z" }],
        containerStatuses: [{ state: { running: { startedAt: "2026-01-15T09:00:03Z" } } }],
      },
    });
  });

  it("leaves annotations alone, though they may hold times", async () => {
    const annotated: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "clock", namespace: "shop", annotations: { lastTimestamp: "2026-01-15T09:00:00.123Z" } },
      data: { startTime: "not a time at all" },
    };
    const fake = await serve([annotated]);
    expect((await read(fake, "/api/v1/namespaces/shop/configmaps/clock")).body).toMatchObject({
      metadata: { annotations: { lastTimestamp: "2026-01-15T09:00:00.123Z" } },
      data: { startTime: "not a time at all" },
    });
  });

  it("refuses a time field that holds no RFC 3339 time, naming the object and the field", async () => {
    const fake = await startFakeKubeApi({ objects: [] });
    try {
      expect(() => fake.setState({ objects: [coreEvent("web-1.e", { lastTimestamp: "yesterday at noon" })] })).toThrow(
        'Event shop/web-1.e: lastTimestamp: "yesterday at noon" is not an RFC 3339 time; a real API server refuses to store it',
      );
    } finally {
      await fake.close();
    }
  });
});
