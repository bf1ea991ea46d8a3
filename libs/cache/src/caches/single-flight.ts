/**
 * Concurrent calls for the same key share one execution and its outcome, result or error.
 * The entry is removed when it settles, so a failure is never remembered.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const started = work().finally(() => {
      if (this.inFlight.get(key) === started) this.inFlight.delete(key);
    });
    this.inFlight.set(key, started);
    return started;
  }

  /**
   * Stops sharing the executions whose key matches: they finish for the callers that joined
   * them, and later calls start afresh. Used after an invalidation, so that a call made after it
   * never receives a result loaded before it.
   */
  forget(matches: (key: string) => boolean): void {
    for (const key of [...this.inFlight.keys()]) if (matches(key)) this.inFlight.delete(key);
  }
}
