/** Counters of the locks this process took, since it started (`LockService.stats()`). */
export interface LockStats {
  /** Acquisitions: `acquire`, `using` and `tryAcquire` calls that got the lock. */
  readonly acquired: number;
  /**
   * Calls that did not get it because another owner held it: an `acquire` (or `using`) whose wait
   * ran out, a `tryAcquire` that returned `null`. Failures (Redis down, breaker open) are not
   * counted here: they throw their own errors.
   */
  readonly notAcquired: number;
  /** Acquisitions that found the lock held at first and waited for it (also in `acquired`). */
  readonly contended: number;
  /** Seconds the contended acquisitions spent waiting, in total. */
  readonly contendedWaitSeconds: number;
  /**
   * Held locks lost before their release: validity ran out, an extension was refused or failed,
   * or Redis no longer held the lock for us at release. Locks given up at shutdown are not counted.
   */
  readonly lost: number;
  /** Successful extensions, the watchdog's (`autoExtend`) and `lock.extend()`'s. */
  readonly extended: number;
}

export class LockCounters {
  acquired = 0;
  notAcquired = 0;
  contended = 0;
  contendedWaitMs = 0;
  lost = 0;
  extended = 0;

  /** An acquisition; `waitedMs` when it found the lock held and waited for it. */
  recordAcquired(waitedMs: number | undefined): void {
    this.acquired++;
    if (waitedMs === undefined) return;
    this.contended++;
    this.contendedWaitMs += waitedMs;
  }

  snapshot(): LockStats {
    return {
      acquired: this.acquired,
      notAcquired: this.notAcquired,
      contended: this.contended,
      contendedWaitSeconds: this.contendedWaitMs / 1000,
      lost: this.lost,
      extended: this.extended,
    };
  }
}
