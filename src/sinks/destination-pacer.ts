// When a request may go to one destination (a Slack webhook URL, a Slack channel, a PagerDuty routing key): paced to
// the destination's published limit, held after a 429 for as long as the answer asked, and the most urgent waiting
// request first. One pacer is shared by every delivery loop of a sink, so a 429 seen by one loop holds them all.
// Replicas each keep their own: with N replicas the limit can be met N times over, and the 429s that follow are honoured.

/** `interval`: at least `intervalMs` between two requests. `window`: at most `limit` in any `windowMs` looking back. */
export type PacingRule = (
  | {
      kind: "interval";
      intervalMs: number;
      /** After a hold, `intervalMs` is this for `forMs` more: a destination that said 429 once is paced from then on. */
      afterHold?: { intervalMs: number; forMs: number };
    }
  | { kind: "window"; limit: number; windowMs: number; marginMs?: number }
) & {
  /**
   * One request at a time: the next leaves only once the last one's answer is in (its release was called), so a 429
   * holds the destination before anything else is sent to it.
   */
  serial?: boolean;
};

interface Waiter {
  priority: number;
  seq: number;
  resolve: () => void;
}

interface Destination {
  waiters: Waiter[];
  /** When requests were let through, oldest first (the last one only, for an interval). */
  sent: number[];
  heldUntil: number;
  /** Until when the interval after a hold applies. */
  slowUntil: number;
  /** A serial destination's request is out and its answer not yet in. */
  busy: boolean;
  timer?: NodeJS.Timeout;
}

export class DestinationPacer {
  readonly #rule: PacingRule;
  readonly #destinations = new Map<string, Destination>();
  /** A name a destination was first known by, to the name it turned out to have (a Slack channel's name to its ID). */
  readonly #aliases = new Map<string, string>();
  #seq = 0;

  constructor(rule: PacingRule) {
    if (rule.kind === "interval" && !(rule.intervalMs >= 0)) throw new Error(`a pacing interval must be >= 0 ms, got ${rule.intervalMs}`);
    if (rule.kind === "window" && !(rule.limit >= 1 && rule.windowMs > 0))
      throw new Error(`a pacing window needs limit >= 1 and windowMs > 0, got ${JSON.stringify(rule)}`);
    this.#rule = rule;
  }

  /**
   * Resolves when a request to `destination` may leave: not while it is held, not faster than the rule, and a lower
   * `priority` number before a higher one (first come, first served within one priority). For a serial rule, call the
   * release it resolves with once the answer is in (a hold it brought set first).
   */
  async acquire(destination: string, priority = 0): Promise<() => void> {
    const state = this.#state(destination);
    await new Promise<void>((resolve) => {
      state.waiters.push({ priority, seq: this.#seq++, resolve });
      this.#pump(this.#key(destination));
    });
    if (this.#rule.serial !== true) return () => {};
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = this.#destinations.get(this.#key(destination));
      if (now === undefined) return;
      now.busy = false;
      this.#pump(this.#key(destination));
    };
  }

  /** Nothing goes to `destination` for `ms` from now (a 429's Retry-After, or the service's advice without one). */
  hold(destination: string, ms: number): void {
    const state = this.#state(destination);
    state.heldUntil = Math.max(state.heldUntil, Date.now() + ms);
    if (this.#rule.kind === "interval" && this.#rule.afterHold !== undefined) {
      state.slowUntil = Math.max(state.slowUntil, state.heldUntil + this.#rule.afterHold.forMs);
    }
  }

  /** How long `destination` is still held, in ms (0 when it is not). */
  heldForMs(destination: string): number {
    const state = this.#destinations.get(this.#key(destination));
    return state === undefined ? 0 : Math.max(0, state.heldUntil - Date.now());
  }

  /** `name` and `id` are one destination from now on: their waiters, holds and pace are merged. */
  alias(name: string, id: string): void {
    if (name === id || this.#aliases.get(name) === id) return;
    this.#aliases.set(name, id);
    const old = this.#destinations.get(name);
    if (old === undefined) return;
    this.#destinations.delete(name);
    clearTimeout(old.timer);
    const merged = this.#state(id);
    merged.waiters.push(...old.waiters);
    merged.sent = [...merged.sent, ...old.sent].sort((a, b) => a - b);
    merged.heldUntil = Math.max(merged.heldUntil, old.heldUntil);
    merged.slowUntil = Math.max(merged.slowUntil, old.slowUntil);
    merged.busy ||= old.busy;
    this.#pump(id);
  }

  #key(destination: string): string {
    return this.#aliases.get(destination) ?? destination;
  }

  #state(destination: string): Destination {
    const key = this.#key(destination);
    let state = this.#destinations.get(key);
    if (state === undefined) {
      state = { waiters: [], sent: [], heldUntil: 0, slowUntil: 0, busy: false };
      this.#destinations.set(key, state);
    }
    return state;
  }

  /** The earliest time the rule lets the next request go, from what was sent. */
  #nextByRule(state: Destination, now: number): number {
    const rule = this.#rule;
    if (rule.kind === "interval") {
      const last = state.sent.at(-1);
      const interval = rule.afterHold !== undefined && now < state.slowUntil ? rule.afterHold.intervalMs : rule.intervalMs;
      return last === undefined ? now : last + interval;
    }
    // A request's clock starts when it leaves here, the service's when it arrives: the margin covers the difference.
    const margin = rule.marginMs ?? 0;
    state.sent = state.sent.filter((t) => t + rule.windowMs + margin > now);
    if (state.sent.length < rule.limit) return now;
    return (state.sent[state.sent.length - rule.limit] as number) + rule.windowMs + margin;
  }

  #pump(key: string): void {
    const state = this.#destinations.get(key);
    if (state === undefined || state.timer !== undefined || state.busy) return;
    while (state.waiters.length > 0 && !state.busy) {
      const now = Date.now();
      const at = Math.max(state.heldUntil, this.#nextByRule(state, now));
      if (at > now) {
        state.timer = setTimeout(() => {
          state.timer = undefined;
          this.#pump(key);
        }, at - now);
        return;
      }
      const next = this.#takeMostUrgent(state);
      state.sent.push(now);
      if (this.#rule.kind === "interval") state.sent = [now];
      if (this.#rule.serial === true) state.busy = true;
      next.resolve();
    }
    // Nothing waits: forget the destination once nothing it remembers can delay a request any more.
    const now = Date.now();
    const rule = this.#rule;
    const last = state.sent.at(-1);
    const spent = rule.kind === "interval" ? last === undefined || last + rule.intervalMs <= now : state.sent.length === 0;
    const forgettable = state.waiters.length === 0 && !state.busy && state.heldUntil <= now && state.slowUntil <= now;
    if (forgettable && spent) this.#destinations.delete(key);
  }

  #takeMostUrgent(state: Destination): Waiter {
    let best = 0;
    for (let i = 1; i < state.waiters.length; i++) {
      const w = state.waiters[i] as Waiter;
      const b = state.waiters[best] as Waiter;
      if (w.priority < b.priority || (w.priority === b.priority && w.seq < b.seq)) best = i;
    }
    return state.waiters.splice(best, 1)[0] as Waiter;
  }
}
