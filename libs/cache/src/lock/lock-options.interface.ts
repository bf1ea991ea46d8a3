import type { Duration } from '../options/duration.util';

/** Options of `LockService.tryAcquire()`. Durations are in seconds (fractions allowed). */
export interface TryAcquireOptions {
  /**
   * How long the lock lives unless extended. The holder considers it lost slightly earlier
   * (1 % + 2 ms before, on its own monotonic clock), to allow for clock drift.
   * @default the module's `locks.defaultTtl` (30)
   */
  ttl?: Duration;
  /**
   * Extend the lock every `ttl / 3` until it is released; a failed extension aborts
   * `lock.signal`. Extension stops when the lock is released or lost.
   * @default false (`using` defaults to true)
   */
  autoExtend?: boolean;
  /**
   * Replicas that must acknowledge the acquisition (Redis `WAIT`) before it counts; fewer within
   * `replicaTimeout` release the lock and throw `LockReplicationError`. `0` skips the check.
   * @default the module's `locks.replicas` (0)
   */
  replicas?: number;
  /**
   * How long to wait for those acknowledgements; below `redis.commandTimeout`.
   * @default the module's `locks.replicaTimeout` (0.2)
   */
  replicaTimeout?: Duration;
  /**
   * Cancels the acquisition (not the work of `using`): the call rejects with the signal's reason
   * once the attempt in flight, if any, has answered, releasing a lock that attempt may have
   * taken, and leaves no timer or subscription behind.
   */
  signal?: AbortSignal;
}

/** Options of `LockService.acquire()`. */
export interface AcquireOptions extends TryAcquireOptions {
  /**
   * How long to wait for a held lock before throwing `LockNotAcquiredError`; `0` tries once.
   * A waiter is woken as soon as the holder releases the lock, and retries when the holder's
   * TTL runs out.
   * @default the module's `locks.defaultWait` (5)
   */
  wait?: Duration;
}

/** Options of `LockService.using()`: those of `acquire`, with `autoExtend` on by default. */
export interface UsingOptions extends AcquireOptions {
  /** @default true */
  autoExtend?: boolean;
}
