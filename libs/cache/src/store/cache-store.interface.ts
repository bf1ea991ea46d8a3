/** One entry of a batch write. */
export interface StoreEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly ttlMs: number;
}

/**
 * What a cache reads and writes: opaque bytes under full keys (namespace and domain prefix
 * included). Implementations: Redis, and an in-process memory store with the same semantics,
 * both checked by one conformance suite.
 *
 * Errors: a store throws the library's typed errors (`CacheUnavailableError`, `CacheTimeoutError`,
 * `CacheCommandError`); deciding whether a failure degrades or surfaces is the cache's job.
 */
export interface CacheStore {
  get(key: string): Promise<Buffer | undefined>;
  /** One round trip; the result is aligned with `keys`. */
  getMany(keys: readonly string[]): Promise<Array<Buffer | undefined>>;
  set(key: string, value: Buffer, ttlMs: number): Promise<void>;
  /** One round trip. */
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** Returns how many of the keys existed. */
  delete(keys: readonly string[]): Promise<number>;
  /** The first byte of the entry at `key` (enough to tell a value from a lease), or undefined. */
  peek(key: string): Promise<number | undefined>;
  /**
   * Atomically: when `key` is absent, store `value` and return undefined; otherwise return what
   * the key holds and change nothing.
   */
  setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined>;
  /**
   * Atomically: when `key` holds exactly `expected`, replace it with `value` (or delete it when
   * `value` is undefined) and return true; otherwise change nothing and return false.
   */
  replaceIf(key: string, expected: Buffer, value: Buffer | undefined, ttlMs: number): Promise<boolean>;
  /** Deletes every key matching a Redis glob pattern; returns how many were deleted. */
  deleteMatching(pattern: string): Promise<number>;
}
