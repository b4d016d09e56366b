// Events recorded through events.k8s.io (kube-scheduler, anything on client-go's tools/events) reach core/v1 readers
// with "lastTimestamp": null, their times in eventTime and series.lastObservedTime. Playbooks read an Event's times
// with firstSeen()/lastSeen(), and `sortBy: lastTimestamp` orders Events by when they were last seen, whichever API
// recorded them.
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { compileExpression } from "../../src/engine/expressions.ts";
import type { KubeObject } from "../../testkit/kube-object.ts";
import { type FakeKubeApi, startFakeKubeApi } from "../../testkit/fixture-cluster.ts";
import { KubernetesSource } from "../../src/sources/kubernetes.ts";
import { createKubernetesClient, loadKubeConfig } from "../../src/sources/kubernetes-client.ts";

/** As the core recorder (kubelet, most controllers) writes an Event. */
function coreEvent(name: string, first: string, last: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name, namespace: "kube-system" },
    involvedObject: { kind: "Pod", namespace: "kube-system", name: "metrics-server-0" },
    reason: "BackOff",
    message: "Back-off restarting failed container",
    source: { component: "kubelet", host: "worker-1" },
    firstTimestamp: first,
    lastTimestamp: last,
    count: 4,
    type: "Warning",
  };
}

/** As kube-scheduler writes one through events.k8s.io/v1: a series once it repeats. */
function schedulerEvent(name: string, eventTime: string, lastObservedTime?: string): KubeObject {
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name, namespace: "kube-system" },
    eventTime,
    ...(lastObservedTime ? { series: { count: 5, lastObservedTime } } : {}),
    reportingController: "default-scheduler",
    reportingInstance: "default-scheduler-cp-1",
    action: "Scheduling",
    reason: "FailedScheduling",
    regarding: { kind: "Pod", namespace: "kube-system", name: "metrics-server-1", apiVersion: "v1" },
    note: "0/4 nodes are available: 4 Insufficient memory.",
    type: "Warning",
  };
}

const objects = [
  coreEvent("a-kubelet-old", "2026-01-15T09:10:00Z", "2026-01-15T09:20:00Z"),
  schedulerEvent("b-scheduler-series", "2026-01-15T09:05:00.000000Z", "2026-01-15T09:50:00.250000Z"),
  coreEvent("c-kubelet-new", "2026-01-15T09:30:00Z", "2026-01-15T09:50:00Z"),
  schedulerEvent("d-scheduler-once", "2026-01-15T09:40:00.000000Z"),
];

let fake: FakeKubeApi | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** The Events as core/v1 serves them (the events.k8s.io ones with "lastTimestamp": null), newest first. */
async function eventsNewestFirst(): Promise<KubernetesObject[]> {
  fake = await startFakeKubeApi({ objects });
  const source = new KubernetesSource(createKubernetesClient(loadKubeConfig(fake.kubeconfigPath), "alert-enricher/test"));
  const output = await source.read(
    { apiVersion: "v1", kind: "Event", namespace: "kube-system", limit: 500, sortBy: "lastTimestamp" },
    new AbortController().signal,
  );
  return output.data.items as KubernetesObject[];
}

describe("an Event's times, whichever API recorded it", () => {
  it("sorts Events by when they were last seen, a MicroTime later than the same second", async () => {
    const items = await eventsNewestFirst();
    expect(items.map((e) => e.metadata?.name)).toEqual(["b-scheduler-series", "c-kubelet-new", "d-scheduler-once", "a-kubelet-old"]);
    expect(items.find((e) => e.metadata?.name === "d-scheduler-once")).toMatchObject({ lastTimestamp: null });
  });

  it("gives playbooks the first and last time seen: eventTime and series.lastObservedTime where lastTimestamp is null", async () => {
    const items = await eventsNewestFirst();
    const times = compileExpression("events.map(e, [e.metadata.name, firstSeen(e), lastSeen(e)])").evaluate({ events: items });
    expect(times).toEqual([
      ["b-scheduler-series", "2026-01-15T09:05:00.000000Z", "2026-01-15T09:50:00.250000Z"],
      ["c-kubelet-new", "2026-01-15T09:30:00Z", "2026-01-15T09:50:00Z"],
      ["d-scheduler-once", "2026-01-15T09:40:00.000000Z", "2026-01-15T09:40:00.000000Z"],
      ["a-kubelet-old", "2026-01-15T09:10:00Z", "2026-01-15T09:20:00Z"],
    ]);
  });

  it("keeps such Events in a time window, which the old lastTimestamp-else-eventTime idiom dropped", async () => {
    const scope = { events: await eventsNewestFirst(), startsAt: "2026-01-15T10:30:00Z" };
    const inTheHour = (time: string) =>
      compileExpression(`events.filter(e, minutesBetween(${time}, startsAt) <= 60.0).map(e, e.metadata.name)`).evaluate(scope);
    expect(inTheHour("lastSeen(e)")).toEqual(["b-scheduler-series", "c-kubelet-new", "d-scheduler-once"]);
    // e.?lastTimestamp is present (null), so orValue() never reaches eventTime.
    expect(inTheHour('e.?lastTimestamp.orValue(e.?eventTime.orValue(""))')).toEqual(["c-kubelet-new"]);
  });

  it("has no time for an Event without any: an empty string, which no window holds", () => {
    expect(compileExpression("[firstSeen(e), lastSeen(e)]").evaluate({ e: { lastTimestamp: null, eventTime: null } })).toEqual(["", ""]);
  });
});
