/** Thrown by `Scheduler.acquire` when the waiting line is full (the server answers 503). */
export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`the server is busy: ${limit} requests are already waiting; retry later`);
    this.name = 'QueueFullError';
  }
}

/** Thrown by `Scheduler.acquire` when the request's signal fires while it waits. */
export class AbortedWhileQueuedError extends Error {
  constructor() {
    super('aborted while waiting in the queue');
    this.name = 'AbortedWhileQueuedError';
  }
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: Error) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

/**
 * Admits at most `concurrency` generations at a time; the rest wait in FIFO order, up to
 * `maxQueued` of them (then QueueFullError). A waiter whose signal fires (client gone) leaves the
 * line at once, so a disconnected client never holds up the ones behind it.
 */
export class Scheduler {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly concurrency: number, readonly maxQueued: number) {
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued must be an integer ≥ 0, got ${maxQueued}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function (call it once the generation ends; extra calls are no-ops). */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(new AbortedWhileQueuedError());
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueued) return Promise.reject(new QueueFullError(this.maxQueued));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new AbortedWhileQueuedError());
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next === undefined) {
        this.running--;
        return;
      }
      // The slot passes straight to the next waiter: `running` is unchanged.
      next.signal.removeEventListener('abort', next.onAbort);
      next.resolve(this.releaser());
    };
  }
}
