/** Time as the engine sees it; tests inject a manual clock so triggers run without sleeping. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or earlier when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * A number in [0, 1) that spreads retry waits (jitter), so that queries failing together do not
   * retry together. Clocks without it (test clocks) wait exactly the exponential backoff.
   */
  random?(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      // The abort listener is removed when the timer fires: a polling query sleeps on one signal
      // for as long as it runs, and listeners left behind would pile up.
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A clock that only moves when told to (`advance`). */
export class ManualClock implements Clock {
  private time: number;
  private waiters: { until: number; resolve: () => void }[] = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const onAbort = () => resolve();
      this.waiters.push({
        until: this.time + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Moves time forward and wakes the sleepers whose time has come. */
  advance(ms: number): void {
    this.time += ms;
    const due = this.waiters.filter((w) => w.until <= this.time);
    this.waiters = this.waiters.filter((w) => w.until > this.time);
    for (const w of due) w.resolve();
  }
}
