// A loop that takes work from the store until there is none, then sleeps until woken or the poll interval passes.
// Shared by the notification and delivery workers so that start, wake and graceful stop are written once.

export interface Poller {
  start(): void;
  wake(): void;
  /**
   * Stops taking new work and resolves when the work in hand is finished. With `drain`, each loop first keeps taking
   * work until it finds none (work that is not yet due is left), for the deliveries of notifications finished while
   * shutting down.
   */
  stop(options?: { drain?: boolean }): Promise<void>;
}

/** `takeOne` does one unit of work and says whether it found any. */
export function createPoller(
  takeOne: () => Promise<boolean>,
  options: { concurrency: number; intervalMs: number; onError: (error: unknown) => void },
): Poller {
  let running = false;
  let draining = false;
  let loops: Promise<void>[] = [];
  const sleepers = new Set<() => void>();
  /**
   * Counts wake() calls. A loop whose look found nothing sleeps only if no wake came while it looked: work stored
   * during the look (its query saw the store before the insert) would otherwise wait a whole poll interval.
   */
  let wakes = 0;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
    });

  const loop = async () => {
    while (running || draining) {
      let found = false;
      let failed = false;
      const wakesBefore = wakes;
      try {
        found = await takeOne();
      } catch (error) {
        failed = true;
        options.onError(error);
      }
      if (found || (running && !failed && wakes !== wakesBefore)) continue;
      if (running) await sleep(options.intervalMs);
      else return;
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      loops = Array.from({ length: options.concurrency }, () => loop());
    },
    wake() {
      wakes++;
      for (const wakeUp of [...sleepers]) wakeUp();
    },
    async stop(stopOptions = {}) {
      draining = running && stopOptions.drain === true;
      running = false;
      for (const wakeUp of [...sleepers]) wakeUp();
      await Promise.all(loops);
      draining = false;
    },
  };
}
