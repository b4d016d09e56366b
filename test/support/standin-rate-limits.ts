// The rate limits the Slack and PagerDuty stand-ins enforce, and their record of how a client met them: the 429s they
// sent, and every request that came back before the wait a 429 announced had passed.

/** A token bucket: `burst` requests at once after a quiet spell, then `perSecond` on average. */
export interface TokenBucketRate {
  perSecond: number;
  burst: number;
}

/** A limit, or "off" where a test is about something else and says why (see the stand-ins' options). */
export type LimitSetting<T> = T | "off";

export interface RateLimitedRequest {
  /** Date.now() when the request arrived. */
  at: number;
  /** What the limit counts against: a channel, a method, a webhook URL, a routing key or an API token (masked). */
  bucket: string;
  /** The stand-in answered 429. */
  limited: boolean;
  /** The wait a 429 announced: Retry-After, `ratelimit-reset`, or PagerDuty's advice where the Events API sends neither. */
  announcedWaitMs?: number;
  /** The request arrived this long before a wait announced for its bucket had passed: the client ignored a 429. */
  earlyByMs?: number;
  /**
   * The same request (same method and body) got a 429 before, and came back this long before the wait announced to it
   * had passed: the client's retry itself ignored the Retry-After, not only another of its workers.
   */
  retryEarlyByMs?: number;
}

/** What a stand-in exposes to tests and the bench. */
export interface RateLimitRecord {
  /** 429s the stand-in's limits sent (scripted failures are not counted). */
  readonly sent429: number;
  /** Requests that came while a wait the stand-in had announced for the same bucket was still running. */
  readonly ignored429: number;
  /** Every request a limit counted, in arrival order. */
  readonly requests: readonly RateLimitedRequest[];
}

export type Decision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Decides one request against one bucket; an allowed request uses up its share of the limit. */
export interface Limiter {
  decide(bucket: string, now: number): Decision;
}

export function tokenBucket(rate: TokenBucketRate): Limiter {
  if (!(rate.perSecond > 0) || !(rate.burst >= 1))
    throw new Error(`a token bucket needs perSecond > 0 and burst >= 1, got ${JSON.stringify(rate)}`);
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    decide(bucket, now) {
      const last = buckets.get(bucket) ?? { tokens: rate.burst, at: now };
      const tokens = Math.min(rate.burst, last.tokens + ((now - last.at) * rate.perSecond) / 1000);
      if (tokens >= 1) {
        buckets.set(bucket, { tokens: tokens - 1, at: now });
        return { allowed: true };
      }
      buckets.set(bucket, { tokens, at: now });
      return { allowed: false, retryAfterMs: ((1 - tokens) * 1000) / rate.perSecond };
    },
  };
}

/** At most `limit` requests in any `windowMs` looking back from now (PagerDuty's Events API). */
export function slidingWindow(limit: number, windowMs: number): Limiter {
  const seen = new Map<string, number[]>();
  return {
    decide(bucket, now) {
      const times = (seen.get(bucket) ?? []).filter((t) => t > now - windowMs);
      seen.set(bucket, times);
      if (times.length < limit) {
        times.push(now);
        return { allowed: true };
      }
      return { allowed: false, retryAfterMs: (times[0] as number) + windowMs - now };
    },
  };
}

export interface FixedWindowLimiter extends Limiter {
  /** The window a bucket is in after its last request: for PagerDuty's `ratelimit-*` headers. */
  state(bucket: string, now: number): { limit: number; remaining: number; resetMs: number };
}

/** At most `limit` requests per window; a window starts with the first request after the last one ended (PagerDuty's REST API). */
export function fixedWindow(limit: number, windowMs: number): FixedWindowLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  const current = (bucket: string, now: number) => {
    let window = windows.get(bucket);
    if (window === undefined || now >= window.start + windowMs) {
      window = { start: now, count: 0 };
      windows.set(bucket, window);
    }
    return window;
  };
  return {
    decide(bucket, now) {
      const window = current(bucket, now);
      if (window.count < limit) {
        window.count += 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterMs: window.start + windowMs - now };
    },
    state(bucket, now) {
      const window = current(bucket, now);
      return { limit, remaining: Math.max(0, limit - window.count), resetMs: window.start + windowMs - now };
    },
  };
}

/** Slack and PagerDuty's REST API announce waits in whole seconds; rounding up keeps a client that obeys on the safe side. */
export function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * The stand-in's side of the record. A 429 holds its whole bucket (the channel, the webhook URL, the routing key) for
 * the wait it announced: Slack's Retry-After is "the number of seconds until you can retry", and "continuing to send
 * messages after being rate limited runs the risk of having your application permanently disabled"
 * (api.slack.com/docs/rate-limits). So any request to that bucket before the wait is over counts as ignoring the 429,
 * whichever of the client's workers sent it. Whether it is answered is still up to the limit, as Slack's would be.
 */
export class RateLimitLedger implements RateLimitRecord {
  readonly requests: RateLimitedRequest[] = [];
  #sent429 = 0;
  #ignored429 = 0;
  readonly #holds = new Map<string, number>();
  /** Per limited request (bucket and request key): when the wait announced to it ends. */
  readonly #requestHolds = new Map<string, number>();

  get sent429(): number {
    return this.#sent429;
  }

  get ignored429(): number {
    return this.#ignored429;
  }

  /**
   * Counts one request against `bucket`. `announce` turns the limiter's exact wait into the one the 429 states (whole
   * seconds for Slack); the bucket is held for that long. `request` identifies the request (its method and body), so a
   * retry of a limited one is recognised.
   */
  check(
    bucket: string,
    limiter: Limiter,
    announce: (retryAfterMs: number) => number,
    options: { now?: number; request?: string } = {},
  ): Decision & { announcedWaitMs?: number } {
    const now = options.now ?? Date.now();
    const requestKey = options.request !== undefined ? `${bucket}\n${options.request}` : undefined;
    const heldUntil = this.#holds.get(bucket);
    const ownHold = requestKey !== undefined ? this.#requestHolds.get(requestKey) : undefined;
    const early = {
      ...(heldUntil !== undefined && now < heldUntil ? { earlyByMs: heldUntil - now } : {}),
      ...(ownHold !== undefined && now < ownHold ? { retryEarlyByMs: ownHold - now } : {}),
    };
    if (early.earlyByMs !== undefined) this.#ignored429 += 1;
    const decision = limiter.decide(bucket, now);
    if (decision.allowed) {
      this.requests.push({ at: now, bucket, limited: false, ...early });
      return decision;
    }
    const announcedWaitMs = announce(decision.retryAfterMs);
    this.#sent429 += 1;
    this.#holds.set(bucket, Math.max(heldUntil ?? 0, now + announcedWaitMs));
    if (requestKey !== undefined) this.#requestHolds.set(requestKey, now + announcedWaitMs);
    this.requests.push({ at: now, bucket, limited: true, announcedWaitMs, ...early });
    return { ...decision, announcedWaitMs };
  }
}

/** The last four characters of a secret, for a bucket name that can be printed. */
export function masked(secret: string): string {
  return `…${secret.slice(-4)}`;
}
