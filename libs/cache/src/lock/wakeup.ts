/**
 * The pause of a waiting acquire between two attempts: it ends at its delay, on a release
 * announcement, or when the caller's signal aborts. An announcement that arrives while an attempt
 * is in flight is remembered, so the next pause ends at once; none outlives its pause (no timer
 * or listener is left behind).
 */
export class Wakeup {
  private announced = false;
  private endPause?: () => void;

  constructor(private readonly signal?: AbortSignal) {}

  /** A release was announced. */
  readonly notify = (): void => {
    this.announced = true;
    this.endPause?.();
  };

  /** Called before each attempt: that attempt sees the effect of earlier announcements. */
  reset(): void {
    this.announced = false;
  }

  /** Resolves after `ms`, or earlier on an announcement or abort. */
  pause(ms: number): Promise<void> {
    if (this.announced || this.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.signal?.removeEventListener('abort', end);
        this.endPause = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.endPause = end;
      this.signal?.addEventListener('abort', end, { once: true });
    });
  }
}
