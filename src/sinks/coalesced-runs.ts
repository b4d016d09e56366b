// Runs of one key (a storm) that later callers join instead of queueing their own: the run that has not begun yet
// reads the store when it begins, so it carries every caller's news that arrived before then.

export class CoalescedRuns<T> {
  /** Per key: the run that has not begun yet, which later callers join. */
  readonly #waiting = new Map<string, Promise<T>>();
  /** Per key: the end of its queue of runs, one at a time. */
  readonly #tail = new Map<string, Promise<unknown>>();

  /**
   * Joins the run of `key` that has not begun, or queues one after the current. `work` calls `begin()` at the moment
   * from which a later caller's news may be missed (before it reads): callers from then on queue the next run.
   */
  run(key: string, work: (begin: () => void) => Promise<T>): Promise<T> {
    const waiting = this.#waiting.get(key);
    if (waiting !== undefined) return waiting;
    const previous = this.#tail.get(key) ?? Promise.resolve();
    let started = false;
    const begin = () => {
      if (started) return;
      started = true;
      if (this.#waiting.get(key) === next) this.#waiting.delete(key);
    };
    const next: Promise<T> = previous.then(async () => {
      try {
        return await work(begin);
      } finally {
        begin();
      }
    });
    this.#waiting.set(key, next);
    const tail = next.catch(() => undefined);
    this.#tail.set(key, tail);
    void tail.then(() => {
      if (this.#tail.get(key) === tail) this.#tail.delete(key);
    });
    return next;
  }
}
