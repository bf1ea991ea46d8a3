/** One entry of a batch write. */
export interface StoreEntry {
  readonly key: string;
  readonly value: Buffer;
  readonly ttlMs: number;
}

/** The two keys that index one tag of a domain. */
export interface TagKeys {
  /** Index of the full keys of the live entries carrying the tag, each with its expiry. */
  readonly members: string;
  /** When the tag was last invalidated (server time, ms); kept for `leaseTtlMs` afterwards. */
  readonly invalidatedAt: string;
}

/** The start of an entry and how long the whole entry is. */
export interface EntryHead {
  readonly head: Buffer;
  readonly length: number;
}

/** Tags written with an entry. */
export interface EntryTags {
  readonly tags: readonly TagKeys[];
  /** The lease TTL of the domain: a fill checks that no tag was invalidated since its lease began. */
  readonly leaseTtlMs: number;
  /**
   * The key of the lease whose age dates the load, when it is not the entry's own key (a
   * refresh-ahead keeps serving the entry while its refresh lease lives beside it).
   */
  readonly leaseKey?: string;
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
  /** The entry, or null/undefined when absent (Redis's null is passed on as is: the hot path). */
  get(key: string): Promise<Buffer | null | undefined>;
  /** One round trip; the result is aligned with `keys`. */
  getMany(keys: readonly string[]): Promise<Array<Buffer | null | undefined>>;
  /**
   * The entry, with its TTL set to `ttlMs` in the same step (Redis `GETEX key PX ttlMs`, one
   * round trip): reading it extends it. Absent keys stay absent.
   */
  getAndExpire(key: string, ttlMs: number): Promise<Buffer | null | undefined>;
  /** Stores unconditionally; with `tags`, also adds the key to each tag's members. */
  set(key: string, value: Buffer, ttlMs: number, tags?: EntryTags): Promise<void>;
  /** One round trip. */
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** Returns how many of the keys existed. */
  delete(keys: readonly string[]): Promise<number>;
  /**
   * The first `headLength` bytes of the entry at `key` and its full length, read atomically in
   * one round trip (enough to tell a value from a lease or foreign bytes), or undefined when the
   * key is absent or empty.
   */
  peek(key: string, headLength: number): Promise<EntryHead | undefined>;
  /**
   * Atomically: when `key` is absent, store `value` and return undefined; otherwise return what
   * the key holds and change nothing.
   */
  setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined>;
  /**
   * Atomically: when `key` holds exactly `expected`, replace it with `value` (or delete it when
   * `value` is undefined) and return true; otherwise change nothing and return false.
   * With `tags`, `expected` is a lease (or, with `tags.leaseKey`, the entry a refresh read while
   * holding that lease): when any tag was invalidated since the lease was taken, `key` is deleted
   * instead and false returned; otherwise the key joins each tag's members.
   */
  replaceIf(
    key: string,
    expected: Buffer,
    value: Buffer | undefined,
    ttlMs: number,
    tags?: EntryTags,
  ): Promise<boolean>;
  /**
   * Deletes every member of each tag and records the invalidation time, so that fills whose lease
   * began earlier are refused. Returns how many entries were deleted.
   */
  invalidateTags(tags: readonly TagKeys[], leaseTtlMs: number): Promise<number>;
  /**
   * Soft expiry (fail-safe): each key that holds a timed value gets `expiredAt` (6 bytes, ms
   * since the epoch, big-endian) as its recorded expiry and lives at most `graceMs` longer; a
   * lease or an untimed entry is deleted instead. Returns how many keys held something.
   */
  expireEntries(keys: readonly string[], expiredAt: Buffer, graceMs: number): Promise<number>;
  /**
   * `expireEntries` for every member of each tag, after recording the invalidation as
   * `invalidateTags` does (fills whose lease began earlier are refused). Members stay indexed.
   */
  expireTagged(tags: readonly TagKeys[], expiredAt: Buffer, graceMs: number, leaseTtlMs: number): Promise<number>;
  /** Deletes every key matching a Redis glob pattern; returns how many were deleted. */
  deleteMatching(pattern: string): Promise<number>;
}
