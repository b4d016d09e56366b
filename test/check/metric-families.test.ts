// Which metric families a playbook step needs, read from its PromQL: the names a query selects, alternatives joined by
// `or`, and the filter side of `unless`; and which steps a Prometheus without some of them starves.
import { describe, expect, it } from "vitest";
import { metricAlternatives, type MetricNeed, starvedSteps } from "../../src/check/metric-families.ts";

const names = (query: string) => metricAlternatives(query).map((a) => [...a].sort());

describe("the metric families of a query", () => {
  it("lists every metric a query selects, ranges, functions and aggregations included", () => {
    expect(names('sum(rate(apiserver_request_total{code=~"5.."}[5m])) / sum(rate(apiserver_request_total[5m]))')).toEqual([
      ["apiserver_request_total"],
    ]);
    expect(
      names("histogram_quantile(0.99, sum by (le) (rate(apiserver_request_duration_seconds_bucket[5m]))) * on(job) group_left up"),
    ).toEqual([["apiserver_request_duration_seconds_bucket", "up"]]);
  });

  it("gives each side of an `or` as an alternative, and ignores the right side of `unless`", () => {
    expect(names("max(apiserver_storage_size_bytes or etcd_db_total_size_in_bytes)")).toEqual([
      ["apiserver_storage_size_bytes"],
      ["etcd_db_total_size_in_bytes"],
    ]);
    expect(names("kube_pod_info unless kube_pod_completed")).toEqual([["kube_pod_info"]]);
  });

  it("reads through template placeholders inside strings, and gives nothing for text that does not parse", () => {
    expect(names('max(aggregator_unavailable_apiservice{name="{{ alert.labels.name }}"})')).toEqual([
      ["aggregator_unavailable_apiservice"],
    ]);
    expect(names("sum(rate(x[5m]")).toEqual([]);
  });
});

describe("the steps a Prometheus starves", () => {
  const needs: MetricNeed[] = [
    { step: "A/ratio", alternatives: metricAlternatives("sum(rate(a_total[5m])) / sum(rate(b_total[5m]))") },
    { step: "A/size", alternatives: metricAlternatives("max(new_size or old_size)") },
    { step: "B/ratio", alternatives: metricAlternatives("sum(a_total)") },
  ];

  it("names each missing family with every step it starves", () => {
    expect(starvedSteps(needs, new Set(["b_total", "old_size"]))).toEqual(new Map([["a_total", ["A/ratio", "B/ratio"]]]));
  });

  it("starves a step with alternatives only when all of them lack a family, and names them all", () => {
    expect(starvedSteps(needs, new Set(["a_total", "b_total"]))).toEqual(
      new Map([
        ["new_size", ["A/size"]],
        ["old_size", ["A/size"]],
      ]),
    );
    expect(starvedSteps(needs, new Set(["a_total", "b_total", "new_size"]))).toEqual(new Map());
  });
});
