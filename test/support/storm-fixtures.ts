// A storm as a group's diagnosis carries it, and the line every renderer shows for it.
import type { StormMembership } from "../../src/model/diagnosis.ts";

export const FIXTURE_STORM: StormMembership = {
  id: "7f1c2a9e-5b8d-4f3a-9c61-0d2e4b6a8f10",
  openedAt: "2026-12-04T09:41:02.000Z",
  groups: 41,
  cluster: "prod-eu",
  windowSeconds: 120,
  sharedCause: {
    component: "the API server",
    causeId: "apiserver_side_errors",
    title: "The API server is failing the requests",
    groups: 40,
  },
  sameVerdict: 40,
};

export const FIXTURE_STORM_LINE =
  "Part of a storm of 41 alert groups in cluster prod-eu in the last 2 min: 40 point to the API server: The API server is failing the requests.";
