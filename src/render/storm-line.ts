// The one line every message of a group that arrived in a storm carries, the same in every renderer.
import type { StormMembership } from "../model/diagnosis.ts";

/**
 * "Part of a storm of 41 alert groups in cluster prod-eu in the last 2 min: 40 point to the API server: The API server
 * is failing the requests." Without a shared cause, how many groups share this one's verdict.
 */
export function stormLine(storm: StormMembership): string {
  const where = storm.cluster === "" ? "" : ` in cluster ${storm.cluster}`;
  const start = `Part of a storm of ${storm.groups} alert groups${where} in the last ${windowText(storm.windowSeconds)}`;
  if (storm.sharedCause !== undefined) {
    const { groups, component, title } = storm.sharedCause;
    return `${start}: ${groups} point to ${component}: ${title}.`;
  }
  const others = storm.sameVerdict - 1;
  const same =
    others === 0
      ? "no other group has this one's verdict"
      : `${others} other ${others === 1 ? "group has" : "groups have"} this one's verdict`;
  return `${start}: no one cause on a shared component found; ${same}.`;
}

function windowText(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
