// The physical floor of a storm's delivery to Slack: with one message per group and Slack's posting limit per channel,
// how soon after its webhook each group can be named at best, whatever the service does.
import { type TokenBucketRate, tokenBucket } from "../../test/support/standin-rate-limits.ts";

/**
 * An ideal client posts each group's message the moment its webhook arrives, or the moment the channel's limit allows
 * the next message if that is later, in webhook order, and spends no time diagnosing. `sentAtMs[g]` is when group g's
 * webhook was sent; the result is, per group, the wait until its message could be posted. The limit is the stand-in's
 * model of Slack's (the same token bucket), so the floor and the measurement meet the same rule.
 */
export function postingFloorMs(sentAtMs: readonly number[], rate: TokenBucketRate): number[] {
  const bucket = tokenBucket(rate);
  const order = sentAtMs.map((sent, group) => ({ sent, group })).sort((a, b) => a.sent - b.sent);
  const floor: number[] = new Array<number>(sentAtMs.length).fill(0);
  let clock = Number.NEGATIVE_INFINITY;
  for (const { sent, group } of order) {
    let at = Math.max(sent, clock);
    for (let decision = bucket.decide("channel", at); !decision.allowed; decision = bucket.decide("channel", at)) {
      at += Math.max(decision.retryAfterMs, 0.001);
    }
    clock = at;
    floor[group] = at - sent;
  }
  return floor;
}
