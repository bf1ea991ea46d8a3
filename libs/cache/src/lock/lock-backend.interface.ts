import type { LockNames } from './lock-names.util';

/** Outcome of one acquisition attempt. */
export type AcquireAttempt =
  | { readonly acquired: true; readonly fencingToken: number }
  /** `holderTtlMs`: how long the current holder's key still lives (-1 when it has no expiry). */
  | { readonly acquired: false; readonly holderTtlMs: number };

/** Replicas that must acknowledge an acquisition before it counts. */
export interface ReplicaRequirement {
  readonly count: number;
  readonly timeoutMs: number;
}

/**
 * Where locks live: Redis, or this process (memory store mode). `LockService` owns waiting,
 * validity and extension; a backend only performs single atomic steps, each owner-checked.
 * One behavioural suite runs against every implementation.
 *
 * `owner` is a random id of one acquisition; a lock's stored value is `<owner>:<fencing token>`.
 * Errors are the library's typed errors (`CacheUnavailableError`, `CacheTimeoutError`,
 * `CacheCommandError`).
 */
export interface LockBackend {
  /**
   * Atomically: when the lock is free, take it for `ttlMs` and issue the next fencing token of
   * the key; when it already holds `owner` (a retried attempt whose first reply was lost), renew
   * it and return the token it was given; otherwise report the holder's remaining TTL.
   */
  acquire(names: LockNames, owner: string, ttlMs: number): Promise<AcquireAttempt>;
  /**
   * `acquire`, then the number of replicas that acknowledged it within `replicas.timeoutMs`
   * (`undefined` when not acquired).
   */
  acquireReplicated(
    names: LockNames,
    owner: string,
    ttlMs: number,
    replicas: ReplicaRequirement,
  ): Promise<{ attempt: AcquireAttempt; acknowledged?: number }>;
  /** Atomically: when the lock holds `owner`, set its TTL to `ttlMs`. Returns whether it did. */
  extend(names: LockNames, owner: string, ttlMs: number): Promise<boolean>;
  /** Atomically: when the lock holds `owner`, delete it and announce the release. */
  release(names: LockNames, owner: string): Promise<boolean>;
  /**
   * Calls `listener` on every release of the lock until the returned function is called. Resolves
   * once announcements are flowing, so that an attempt made afterwards cannot miss a release.
   */
  onRelease(names: LockNames, listener: () => void): Promise<() => void>;
  /** Eviction policies of the servers holding locks; empty when nothing can be evicted. */
  evictionPolicies(): Promise<string[]>;
  /** Closes what the backend opened itself (never the shared connection). */
  close(): Promise<void>;
}
