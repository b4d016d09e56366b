// A loop that takes work from the store until there is none, then sleeps until woken or the poll interval passes.
// Shared by the notification and delivery workers so that start, wake and graceful stop are written once.

export interface Poller {
  start(): void;
  wake(): void;
  /** Stops taking new work and resolves when the work in hand is finished. */
  stop(): Promise<void>;
}

/** `takeOne` does one unit of work and says whether it found any. */
export function createPoller(
  takeOne: () => Promise<boolean>,
  options: { concurrency: number; intervalMs: number; onError: (error: unknown) => void },
): Poller {
  let running = false;
  let loops: Promise<void>[] = [];
  const sleepers = new Set<() => void>();

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
    while (running) {
      let found = false;
      try {
        found = await takeOne();
      } catch (error) {
        options.onError(error);
      }
      if (!found && running) await sleep(options.intervalMs);
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      loops = Array.from({ length: options.concurrency }, () => loop());
    },
    wake() {
      for (const wakeUp of [...sleepers]) wakeUp();
    },
    async stop() {
      running = false;
      for (const wakeUp of [...sleepers]) wakeUp();
      await Promise.all(loops);
    },
  };
}
