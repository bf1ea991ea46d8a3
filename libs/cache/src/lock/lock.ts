import { LockLostError } from '../cache.errors';
import { lockMessages } from '../cache.messages';
import { traceLock } from '../observability/cache-tracing';
import { type Duration, lockTtlToMs } from '../options/duration.util';
import { errorMessage } from '../support/error-message';
import type { LockBackend } from './lock-backend.interface';
import type { LockNames } from './lock-names.util';
import type { LockCounters } from './lock-stats';

/**
 * Redis expires keys on its own clock; the holder's clock may run faster. Like Redlock, the holder
 * gives up this much of each TTL: 1 % plus 2 ms.
 */
const DRIFT_FACTOR = 0.01;
const DRIFT_MS = 2;

/** How long a lock taken or extended for `ttlMs` is safe to use, on the holder's clock. */
export function lockValidityMs(ttlMs: number): number {
  return ttlMs - ttlMs * DRIFT_FACTOR - DRIFT_MS;
}

/** What a lock needs from the service that issued it (internal). */
export interface LockContext {
  readonly backend: LockBackend;
  readonly names: LockNames;
  readonly owner: string;
  readonly ttlMs: number;
  /** The issuing service's counters: losses and extensions are counted there. */
  readonly counters: LockCounters;
  /** Called once, when the lock is released or lost and its clean-up is done. */
  readonly onSettled: (lock: Lock) => void;
}

type LockState = 'held' | 'released' | 'lost';

/**
 * A held lock, from `LockService`. It is valid until `startedAt + ttl − drift` on this process's
 * monotonic clock (`performance.now()`), where `startedAt` is when the successful attempt (or
 * extension) was sent. At that deadline `signal` aborts with a `LockLostError` unless an extension
 * returned before it: the holder learns of a loss at its own deadline, never later, even when an
 * extension is slow to answer or the process was paused.
 *
 * @example
 * const lock = await locks.acquire('screening:42', { ttl: 30 });
 * try {
 *   await repository.update(id, changes, { fence: lock.fencingToken, signal: lock.signal });
 * } finally {
 *   await lock.release();
 * }
 */
export class Lock {
  /** The caller's key. */
  readonly key: string;
  /**
   * Increases with every acquisition of this key, across processes and restarts of the
   * application (and of Redis, see the README's guarantee). Give it to the protected resource,
   * which rejects writes carrying a token lower than one it has seen.
   */
  readonly fencingToken: number;
  private readonly controller = new AbortController();
  private state: LockState = 'held';
  private validUntil: number;
  /**
   * The TTL the lock is kept at: the acquisition's, then the last one given to `extend`. The
   * watchdog extends by it and ticks at a third of it, so a lock shortened by `extend(0.3)` is
   * extended before its 0.3 s run out, and one lengthened by `extend(60)` is not shrunk back.
   */
  private ttlMs: number;
  /** The watchdog runs while this is true: from acquisition until `release()` is called. */
  private autoExtend: boolean;
  private expiryTimer?: NodeJS.Timeout;
  private extensionTimer?: NodeJS.Timeout;
  /** After a loss: deleting our key (if it still exists), so that waiters need not wait out its TTL. */
  private cleanup?: Promise<void>;

  /** Locks come from `LockService`; this constructor is internal. */
  constructor(
    private readonly context: LockContext,
    fencingToken: number,
    startedAt: number,
    autoExtend: boolean,
  ) {
    this.key = context.names.key;
    this.fencingToken = fencingToken;
    this.ttlMs = context.ttlMs;
    this.autoExtend = autoExtend;
    this.validUntil = startedAt + lockValidityMs(context.ttlMs);
    this.armExpiry();
    if (autoExtend) this.scheduleExtension();
  }

  /**
   * Aborted when the lock is lost — validity ran out, an extension was refused or failed, or the
   * application shut down — with a `LockLostError` as its `reason`. Not aborted by `release()`.
   */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the lock is held and within its validity right now. */
  get isHeld(): boolean {
    return this.state === 'held' && performance.now() < this.validUntil;
  }

  /**
   * Sets the lock's TTL to `ttl` seconds from now (default: its current TTL — the one it was
   * acquired with, or the last one given here). With `autoExtend`, the watchdog keeps this TTL
   * from now on, extending every `ttl / 3`.
   * @throws LockLostError when the lock is no longer held — it was released, its validity ran
   *   out before the extension returned, Redis refused (another owner, or the key is gone), or
   *   the call failed. Every case but the first aborts `signal` at once.
   */
  extend(ttl?: Duration): Promise<void> {
    return traceLock(
      () => ({ operation: 'extend', key: this.key }),
      () => this.extendNow(ttl),
    );
  }

  /**
   * Releases the lock if this holder still holds it; resolves whether it did. `false` when it
   * had already been released or lost (a lost lock is never reported as released); a key this
   * holder still owns in Redis is deleted either way. Waiters are woken at once.
   * @throws CacheUnavailableError | CacheTimeoutError when Redis could not be asked; the lock
   *   then expires at the end of its TTL.
   */
  release(): Promise<boolean> {
    return traceLock(
      () => ({ operation: 'release', key: this.key }),
      () => this.releaseNow(),
    );
  }

  /** Gives the lock up because the application shuts down (internal, called by `LockService`). */
  async abandon(): Promise<void> {
    this.lose(lockMessages.lostAtShutdown(this.key), undefined, false);
    await this.cleanup;
  }

  private async extendNow(ttl: Duration | undefined): Promise<void> {
    const ttlMs = ttl === undefined ? this.ttlMs : lockTtlToMs(ttl, 'Lock ttl');
    this.assertValid();
    // Taken at once, not on success: a watchdog tick firing while this call is in flight must
    // extend by the new TTL, not send the old one after ours (Redis would keep the old one). A
    // failed extension loses the lock, so there is nothing to roll back.
    this.ttlMs = ttlMs;
    const startedAt = performance.now();
    let extended: boolean;
    try {
      extended = await this.context.backend.extend(this.context.names, this.context.owner, ttlMs);
    } catch (error) {
      throw this.lose(lockMessages.lostExtendFailed(this.key, errorMessage(error)), error);
    }
    this.assertValid();
    if (!extended) throw this.lose(lockMessages.lostRefused(this.key));
    this.validUntil = startedAt + lockValidityMs(ttlMs);
    this.context.counters.extended++;
    this.armExpiry();
    // The next tick a third of this TTL from now: the pending one may be too late for a shorter
    // TTL. Replies come back in the order the extensions were sent, so the last one to arrive
    // here is the one Redis applied last, and its TTL is `this.ttlMs`.
    if (this.autoExtend && this.state === 'held') this.scheduleExtension();
  }

  private async releaseNow(): Promise<boolean> {
    if (this.state === 'released') return false;
    if (this.state === 'held' && performance.now() >= this.validUntil) this.lose(lockMessages.lostExpired(this.key));
    if (this.state === 'lost') {
      await this.cleanup;
      return false;
    }
    // The expiry timer stays armed: a release slower than the validity still aborts on time. No
    // extension still in flight may re-arm the watchdog: a tick sent after the release would be
    // refused and turn a release into a loss.
    this.autoExtend = false;
    clearTimeout(this.extensionTimer);
    let released: boolean;
    try {
      released = await this.context.backend.release(this.context.names, this.context.owner);
    } catch (error) {
      this.settle('released');
      throw error;
    }
    if (this.state !== 'held') return false;
    if (!released) {
      this.lose(lockMessages.lostRefused(this.key));
      await this.cleanup;
      return false;
    }
    this.settle('released');
    return true;
  }

  /** Throws when the lock cannot be used any more, marking it lost if its validity ran out. */
  private assertValid(): void {
    if (this.state === 'held' && performance.now() >= this.validUntil) this.lose(lockMessages.lostExpired(this.key));
    if (this.state === 'lost') throw this.signal.reason as LockLostError;
    if (this.state === 'released') throw new LockLostError(lockMessages.alreadyReleased(this.key), this.key);
  }

  /**
   * Marks a held lock lost: aborts `signal`, stops the timers and deletes the key if it is still
   * ours. Returns the loss (the first one, when called again). `counted` is false for a lock
   * given up at shutdown: that is not a loss an operator needs to hear about.
   */
  private lose(message: string, cause?: unknown, counted = true): LockLostError {
    if (this.state === 'held') {
      if (counted) this.context.counters.lost++;
      this.controller.abort(new LockLostError(message, this.key, cause === undefined ? undefined : { cause }));
      this.cleanup = this.context.backend.release(this.context.names, this.context.owner).then(
        () => undefined,
        () => undefined,
      );
      this.settle('lost');
    }
    if (this.state === 'lost') return this.signal.reason as LockLostError;
    return new LockLostError(lockMessages.alreadyReleased(this.key), this.key);
  }

  private settle(state: Exclude<LockState, 'held'>): void {
    if (this.state !== 'held') return;
    this.state = state;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.extensionTimer);
    void (this.cleanup ?? Promise.resolve()).then(() => this.context.onSettled(this));
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(
      () => this.lose(lockMessages.lostExpired(this.key)),
      Math.max(0, this.validUntil - performance.now()),
    );
    // A forgotten lock must not keep the process alive; its key expires in Redis regardless.
    this.expiryTimer.unref();
  }

  /**
   * The watchdog of `autoExtend`: extends by the current TTL a third of it from now. A successful
   * extension (the watchdog's or the caller's) schedules the next tick, replacing a pending one.
   */
  private scheduleExtension(): void {
    clearTimeout(this.extensionTimer);
    this.extensionTimer = setTimeout(() => {
      // The loss is already on `signal`; nothing else is listening to this promise.
      this.extend().catch(() => undefined);
    }, this.ttlMs / 3);
    this.extensionTimer.unref();
  }
}
