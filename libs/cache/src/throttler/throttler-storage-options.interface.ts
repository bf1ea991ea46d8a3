/**
 * What a request meets while Redis cannot answer a throttler call (down, hung past the command
 * deadline, overloaded, or refusing the script):
 * - `'local'`: counted by a limiter in this process instead (`@nestjs/throttler`'s own in-memory
 *   storage, same limits): abuse is still held back, at up to N times the limit across N instances.
 * - `'open'`: let through, uncounted.
 * - `'closed'`: refused as over the limit (429 with `Retry-After: 1`).
 */
export type ThrottlerFailurePolicy = 'local' | 'open' | 'closed';

/** Options of `RedisThrottlerStorage`. */
export interface RedisThrottlerStorageOptions {
  /**
   * What a request meets while Redis cannot answer; see `ThrottlerFailurePolicy`.
   * @default 'local'
   */
  whenUnavailable?: ThrottlerFailurePolicy;
}

/** Counters of a `RedisThrottlerStorage` since it was built. */
export interface ThrottlerStorageStats {
  /** Requests decided by Redis. */
  readonly decided: number;
  /** Requests that Redis could not decide, so the `whenUnavailable` policy did. */
  readonly unavailable: number;
}
