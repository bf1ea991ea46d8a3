interface Waiter<T> {
  readonly work: () => Promise<T>;
  // Method syntax keeps SingleFlight<Row> assignable to SingleFlight<unknown>.
  resolve(value: T | Promise<T>): void;
}

interface Execution<T> {
  readonly result: Promise<T>;
  readonly startedAt: number;
  /** Callers that joined after the start; released together when sharing ends. */
  waiters?: Array<Waiter<T>>;
  expiry?: NodeJS.Timeout;
}

/**
 * Concurrent calls for the same key share one execution and its outcome, result or error.
 * The entry is removed when it settles, so a failure is never remembered.
 *
 * Sharing is bounded in time: an execution older than `shareLimitMs` is not joined any more, and
 * the callers that joined it stop waiting when it reaches that age and share one fresh execution
 * instead, so one work that never settles cannot wedge its key for everyone after it. (Whoever
 * started the hung work waits for it: that is the work's own business.)
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Execution<T>>();

  constructor(private readonly shareLimitMs: number) {}

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) {
      const age = performance.now() - running.startedAt;
      if (age < this.shareLimitMs) return this.join(key, running, work, this.shareLimitMs - age);
    }
    return this.start(key, work);
  }

  /**
   * Stops sharing the executions whose key matches: they finish for the callers that joined
   * them, and later calls start afresh. Used after an invalidation, so that a call made after it
   * never receives a result loaded before it.
   */
  forget(matches: (key: string) => boolean): void {
    for (const key of [...this.inFlight.keys()]) if (matches(key)) this.inFlight.delete(key);
  }

  private start(key: string, work: () => Promise<T>): Promise<T> {
    const execution: Execution<T> = {
      startedAt: performance.now(),
      result: work().finally(() => {
        if (execution.expiry) clearTimeout(execution.expiry);
        if (this.inFlight.get(key) === execution) this.inFlight.delete(key);
      }),
    };
    this.inFlight.set(key, execution);
    return execution.result;
  }

  private join(key: string, running: Execution<T>, work: () => Promise<T>, remainingMs: number): Promise<T> {
    return new Promise<T>((resolve) => {
      if (running.waiters) {
        running.waiters.push({ work, resolve });
        return;
      }
      running.waiters = [{ work, resolve }];
      // Settling first wins: a released waiter's resolve is then a no-op, and vice versa.
      running.result.then(
        () => running.waiters?.forEach((waiter) => waiter.resolve(running.result)),
        () => running.waiters?.forEach((waiter) => waiter.resolve(running.result)),
      );
      running.expiry = setTimeout(() => this.release(key, running), remainingMs);
      running.expiry.unref();
    });
  }

  private release(key: string, expired: Execution<T>): void {
    const waiters = expired.waiters ?? [];
    expired.waiters = undefined;
    if (this.inFlight.get(key) === expired) this.inFlight.delete(key);
    if (waiters.length === 0) return;
    const fresh = this.run(key, waiters[0].work);
    for (const waiter of waiters) waiter.resolve(fresh);
  }
}
