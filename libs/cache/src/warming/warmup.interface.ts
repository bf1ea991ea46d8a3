import type { Duration } from '../options/duration.util';

/**
 * What a warmer returns: the keys to preload and how to load them. Warming takes the read-through
 * lease of each absent key before calling `load`, so a key set or invalidated meanwhile keeps its
 * newer state, and keys already cached are left alone (and not passed to `load`).
 * @example
 * { keys: orgIds, load: (ids) => repository.findMany(ids), tags: (org) => [invalidationTags.org(org.id)] }
 */
export interface Warmup<T = unknown> {
  /** Keys within the domain, as given to `CacheService`. */
  readonly keys: readonly string[];
  /**
   * The values of `keys` (the absent ones, at most `batchSize` at a time), in the same order;
   * `undefined` for a key with nothing to cache. Must settle within the module's `leaseTtl`.
   */
  load(keys: readonly string[]): ReadonlyArray<T> | Promise<ReadonlyArray<T>>;
  /**
   * Time to live in seconds, jittered by `warming.jitter`.
   * @default the domain's TTL
   */
  readonly ttl?: Duration;
  /** Tags of each entry, from its value and key. */
  readonly tags?: (value: T, key: string) => readonly string[];
  /**
   * Keys per `load` call.
   * @default 100
   */
  readonly batchSize?: number;
}
