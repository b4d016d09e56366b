// Readiness from the writes that matter. The heartbeat rewrites one small row in place, which still fits when the disk
// is full and every webhook is refused; so a store remembers whether its last real write (storing a notification,
// completing a diagnosis) failed, and while it did, readiness is decided by a probe write as large as that one.

export interface FailedWrite {
  /** What was being written: "storing a notification". */
  action: string;
  message: string;
  at: number;
  bytes: number;
}

/** A probe smaller than a few pages could fit in space a table already has, as the heartbeat does. */
const MIN_PROBE_BYTES = 64 * 1024;
const MAX_PROBE_BYTES = 8 * 1024 * 1024;

export class LastWrite {
  #failure: FailedWrite | undefined;
  readonly #describeError: (error: unknown) => string;

  constructor(describeError: (error: unknown) => string) {
    this.#describeError = describeError;
  }

  /** The real write that failed last, while no real write or probe has succeeded since. */
  get failure(): FailedWrite | undefined {
    return this.#failure;
  }

  /**
   * Runs a real write of about `bytes` bytes and records its outcome. `wrote` says whether a result wrote anything
   * (a duplicate notification does not, so it proves nothing about space).
   */
  async track<T>(action: string, bytes: number, work: () => T | Promise<T>, wrote: (result: T) => boolean = () => true): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      this.#failure = { action, message: this.#describeError(error), at: Date.now(), bytes };
      throw error;
    }
    if (wrote(result)) this.#failure = undefined;
    return result;
  }

  /** How large a probe write must be to show that `failure`'s write fits again. */
  probeBytes(failure: FailedWrite): number {
    return Math.min(MAX_PROBE_BYTES, Math.max(MIN_PROBE_BYTES, failure.bytes));
  }

  /** A probe write as large as `failure`'s succeeded: ready again, unless a newer real write has failed meanwhile. */
  recovered(failure: FailedWrite): void {
    if (this.#failure === failure) this.#failure = undefined;
  }

  /** "storing a notification failed 3 s ago (database or disk is full), and a 65536-byte test write fails too" */
  describe(failure: FailedWrite): string {
    const seconds = Math.max(0, Math.round((Date.now() - failure.at) / 1000));
    return `${failure.action} failed ${seconds} s ago (${failure.message}), and a ${this.probeBytes(failure)}-byte test write fails too`;
  }
}
