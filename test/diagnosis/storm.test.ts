// What a storm's groups say together: verdicts counted, and a shared cause only when most checked groups point to one.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import {
  analyseStorm,
  describeVerdictShare,
  SHARED_COMPONENT_CAUSES,
  type StormGroup,
  stormMembership,
} from "../../src/diagnosis/storm.ts";
import type { GroupVerdict } from "../../src/model/diagnosis.ts";

const RULES = join(import.meta.dirname, "../../rules");

function causeGroup(groupKey: string, name: string, id: string, title: string): StormGroup {
  return { groupKey, verdict: { verdict: "cause", cause: { id, title, summary: `${title} (${name})` }, name } };
}

const apiServerFailing = (i: number) =>
  causeGroup(`{}:{job="client-${i}"}`, `client-${i}`, "apiserver_side_errors", "The API server is failing the requests");
const rbac403 = causeGroup('{}:{job="report-exporter"}', "report-exporter", "authorization_failure", "Client not allowed by RBAC (403)");
const couldNotCheck = (i: number): StormGroup => ({
  groupKey: `{}:{job="blind-${i}"}`,
  verdict: { verdict: "could_not_check", name: `blind-${i}` } satisfies GroupVerdict,
});

describe("analyseStorm", () => {
  it("leads a storm of 40 clients failing on the API server and 1 RBAC 403 with the API server, 40 of 41", () => {
    const groups = [...Array.from({ length: 40 }, (_, i) => apiServerFailing(i)), rbac403];
    const storm = analyseStorm(groups);
    expect(storm.groups).toBe(41);
    expect(storm.sharedCause).toEqual({
      component: "the API server",
      causeId: "apiserver_side_errors",
      title: "The API server is failing the requests",
      groups: 40,
    });
    expect(storm.verdicts.map(describeVerdictShare)).toEqual([
      "40 groups: The API server is failing the requests",
      "1 group, report-exporter: Client not allowed by RBAC (403)",
    ]);
  });

  it("counts API server causes of different alerts' playbooks together, naming the most common one", () => {
    const groups = [
      apiServerFailing(1),
      apiServerFailing(2),
      causeGroup("budget", "KubeAPIErrorBudgetBurn", "apiserver_requests_failing", "The API server answers errors or cuts requests short"),
      causeGroup("aggregated", "metrics-server", "apiserver_load", "The API server itself is overloaded or failing"),
      rbac403,
    ];
    expect(analyseStorm(groups).sharedCause).toEqual({
      component: "the API server",
      causeId: "apiserver_side_errors",
      title: "The API server is failing the requests",
      groups: 4,
    });
  });

  it("finds no shared cause when the groups point to different causes", () => {
    const groups = [
      apiServerFailing(1),
      apiServerFailing(2),
      rbac403,
      causeGroup("b", "billing", "authentication_failure", "Client credentials rejected (401)"),
      causeGroup("c", "crawler", "client_resource_contention", "The client is starved of CPU or memory"),
    ];
    const storm = analyseStorm(groups);
    expect(storm.sharedCause).toBeUndefined();
    expect(storm.verdicts[0]).toMatchObject({ key: "cause:apiserver_side_errors", groups: 2 });
  });

  it("never counts groups that could not check as evidence of a shared cause", () => {
    const blind = Array.from({ length: 10 }, (_, i) => couldNotCheck(i));
    expect(analyseStorm([...blind, apiServerFailing(1)]).sharedCause).toBeUndefined();
    expect(analyseStorm(blind).sharedCause).toBeUndefined();
    // Nor against one: two API server causes among twelve groups still lead when the other ten could not check.
    expect(analyseStorm([...blind, apiServerFailing(1), apiServerFailing(2)]).sharedCause).toMatchObject({ groups: 2 });
  });

  it("counts groups checked with no cause holding against a shared cause, and undiagnosed groups not at all", () => {
    const noCause = (i: number): StormGroup => ({ groupKey: `n${i}`, verdict: { verdict: "no_cause", name: `n${i}` } });
    expect(analyseStorm([apiServerFailing(1), apiServerFailing(2), noCause(1), noCause(2)]).sharedCause).toBeUndefined();
    const pending: StormGroup[] = Array.from({ length: 5 }, (_, i) => ({ groupKey: `p${i}`, verdict: null }));
    const storm = analyseStorm([...pending, apiServerFailing(1), apiServerFailing(2)]);
    expect(storm.sharedCause).toMatchObject({ groups: 2 });
    expect(storm.verdicts.map(describeVerdictShare)[0]).toBe("5 groups: not diagnosed yet");
  });
});

const STORM_ID = { id: "s-1", openedAt: "2026-12-04T09:41:00.000Z" };

describe("stormMembership", () => {
  it("tells one group of the storm how many groups share its verdict", () => {
    const groups = [...Array.from({ length: 40 }, (_, i) => apiServerFailing(i)), rbac403];
    expect(stormMembership({ ...STORM_ID, groups, groupKey: rbac403.groupKey, cluster: "prod-eu", windowSeconds: 120 })).toEqual({
      ...STORM_ID,
      groups: 41,
      cluster: "prod-eu",
      windowSeconds: 120,
      sharedCause: expect.objectContaining({ component: "the API server", groups: 40 }),
      sameVerdict: 1,
    });
    expect(
      stormMembership({ ...STORM_ID, groups, groupKey: apiServerFailing(3).groupKey, cluster: "", windowSeconds: 120 }).sameVerdict,
    ).toBe(40);
  });
});

describe("SHARED_COMPONENT_CAUSES", () => {
  it("names only causes some playbook has", () => {
    const files = [
      ...readdirSync(RULES).map((f) => join(RULES, f)),
      ...readdirSync(join(RULES, "shared")).map((f) => join(RULES, "shared", f)),
    ].filter((f) => f.endsWith(".yaml"));
    const ids = new Set(
      files.flatMap((file) => ((parse(readFileSync(file, "utf8")) as { causes?: Array<{ id: string }> }).causes ?? []).map((c) => c.id)),
    );
    expect(Object.keys(SHARED_COMPONENT_CAUSES).filter((id) => !ids.has(id))).toEqual([]);
  });
});
