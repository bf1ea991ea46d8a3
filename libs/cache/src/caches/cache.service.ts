import { Logger } from '@nestjs/common';
import { CacheArgumentError, CacheDecodeError, type CacheError, CacheOverloadedError } from '../cache.errors';
import { messages, warmingMessages } from '../cache.messages';
import { EntryCodec, LEASED } from '../codec/entry-codec';
import { describe, secondsToMs } from '../options/duration.util';
import type { ResolvedDomain } from '../options/resolve-options';
import { escapeGlob, globToRegExp } from '../redis/glob.util';
import type { CacheStore, EntryTags, TagKeys } from '../store/cache-store.interface';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { CacheCounters, type CacheStats } from './cache-stats';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';
import { entryKey, GENERATED_KEY, type GeneratedKeyOption } from './cache-keys';
import { SingleFlight } from './single-flight';

/** Tags of an entry, or a function computing them from the value. */
export type TagSource<T> = readonly string[] | ((value: T) => readonly string[]);

/** Which entry a key names. */
export interface KeyOptions {
  /**
   * The tenant or user the entry belongs to. Scoped entries live in a key space of their own:
   * no unscoped key and no other scope can read, overwrite or delete them. A non-empty string.
   */
  scope?: string;
}

/** Options of one `getOrSet` call. */
export interface GetOrSetOptions<T = unknown> extends KeyOptions {
  /** Time to live in seconds; the domain's default when omitted. */
  ttl?: number;
  /** Tags for `invalidateTags`; a function receives the loaded value. */
  tags?: TagSource<T>;
  /** When it returns true for the loaded value, the value is returned but not stored. */
  unless?: (value: T) => boolean;
}

/** Options of one `set` call. */
export interface SetOptions extends KeyOptions {
  /** Time to live in seconds; the domain's default when omitted. */
  ttl?: number;
  /** Tags for `invalidateTags`. */
  tags?: readonly string[];
}

/** One entry of `setMany`. */
export interface CacheEntry<T> {
  key: string;
  value: T;
  /** Time to live in seconds; the domain's default when omitted. */
  ttl?: number;
}

/** Options of one `fillAbsent` call. */
export interface FillAbsentOptions<T> {
  /** Time to live in seconds; the domain's default when omitted. */
  ttl?: number;
  /**
   * Spread of the TTLs, as a fraction: each entry lives `ttl × (1 ± jitter)`, drawn uniformly, so
   * that entries filled together do not expire together. From 0 (every entry gets `ttl`) to
   * below 1.
   * @default 0
   */
  jitter?: number;
  /** Tags of each entry, from its value and key. */
  tags?: (value: T, key: string) => readonly string[];
}

/** What `fillAbsent` did with its keys; each key is counted once. */
export interface FillAbsentResult {
  /** Stored. */
  readonly filled: number;
  /** Left alone: they held a value, or another read-through's lease. */
  readonly present: number;
  /** Not stored because the key was set, deleted or invalidated while loading (newer state kept). */
  readonly refused: number;
  /** Not stored because the loader returned `undefined` for them (nothing to cache). */
  readonly skipped: number;
  /**
   * Not stored because the loader failed for them (see `loadError`) or the cache did (counted in
   * `errors` and logged); all are counted in `stats().warmingErrors`.
   */
  readonly failed: number;
  /** What the loader threw (or why its result was refused), when it failed. */
  readonly loadError?: unknown;
}

/** How one lease-checked fill ended. */
type FillOutcome = 'filled' | 'refused' | 'skipped' | 'failed';

const MISS = Symbol('elile.cache.miss');
/** Covers the round trip between starting a load and its lease's TTL starting in Redis. */
const LEASE_EXPIRY_MARGIN_MS = 100;


/**
 * The cache of one domain (`screening`, `subject`, …): its keys are `namespace + prefix + key`
 * and its entries live for the domain's TTL unless a call says otherwise. TTLs are in seconds.
 *
 * Failure policy: reads and fills degrade — Redis down or slow, or an entry that does not decode,
 * is a miss, counted in `stats()` and logged (rate-limited); `getOrSet` then serves the loader's
 * result. Invalidations (`delete`, `invalidatePattern`) throw, because a lost invalidation would
 * serve stale data until the TTL and the caller must know.
 */
export class CacheService<T = unknown> {
  private readonly counters = new CacheCounters();
  private readonly loads: SingleFlight<T>;
  private readonly log: RateLimitedLogger;
  private readonly keyPrefix: string;
  private readonly tagPrefix: string;

  constructor(
    private readonly domain: ResolvedDomain,
    namespace: string,
    private readonly store: CacheStore,
    private readonly entries: EntryCodec,
    private readonly leaseTtlMs: number,
  ) {
    this.keyPrefix = namespace + domain.prefix;
    // A load that outlives its lease can no longer fill the key: later callers stop waiting for it.
    // The margin lets the lease expire in the store first, so their own load can fill the key.
    this.loads = new SingleFlight<T>(leaseTtlMs + LEASE_EXPIRY_MARGIN_MS);
    this.tagPrefix = `${namespace}${INTERNAL_KEY_PREFIX}${domain.name}:`;
    this.log = new RateLimitedLogger(new Logger(`ElileCache:${domain.name}`));
  }

  /** The domain's name. */
  get name(): string {
    return this.domain.name;
  }

  /** The domain's `scope` option: whose response a cached HTTP request is (see CacheInterceptor). */
  get requestScope(): ResolvedDomain['scope'] {
    return this.domain.scope;
  }

  /** The domain's default TTL in seconds. */
  get defaultTtl(): number {
    return this.domain.ttlMs / 1000;
  }

  /**
   * The Redis key under which `key` (within `scope`, when given) is stored.
   * @throws CacheArgumentError for an empty key or scope, or a key in the reserved space.
   */
  fullKey(key: string, scope?: string): string {
    return this.keyPrefix + entryKey(key, scope);
  }

  /** The Redis key of an entry named by a key and the options of a call. */
  private keyOf(key: string, options: KeyOptions | undefined): string {
    const generated = (options as GeneratedKeyOption | undefined)?.[GENERATED_KEY] === true;
    return this.keyPrefix + entryKey(key, options?.scope, generated);
  }

  /** The cached value, or `undefined` on a miss. A cached `null` is a hit and returns `null`. */
  async get(key: string, options?: KeyOptions): Promise<T | undefined> {
    const fullKey = this.keyOf(key, options);
    let entry: Buffer | null | undefined;
    try {
      entry = await this.store.get(fullKey);
    } catch (error) {
      this.degrade('get', error);
      return undefined;
    }
    const value = this.decodeRead(fullKey, entry);
    return value === MISS ? undefined : value;
  }

  /**
   * Stores a value for `ttl` seconds (the domain's default when omitted), optionally tagged.
   * Returns false when the cache could not store it (counted and logged).
   * @throws CacheSerializationError when the value cannot be encoded, and for `undefined` (which
   *   `get` could not tell from a miss: store `null` instead).
   * @throws CacheArgumentError for an empty key or tag, or a TTL that is not a positive number.
   */
  async set(key: string, value: T, ttlOrOptions?: number | SetOptions): Promise<boolean> {
    const options = typeof ttlOrOptions === 'object' && ttlOrOptions !== null ? ttlOrOptions : { ttl: ttlOrOptions };
    const fullKey = this.keyOf(key, options);
    this.loads.forget((loading) => loading === fullKey);
    const ttlMs = this.ttlMs(options.ttl);
    const tags = options.tags ? this.entryTags(options.tags) : undefined;
    const bytes = this.entries.encode(value);
    try {
      await this.store.set(fullKey, bytes, ttlMs, tags);
      return true;
    } catch (error) {
      this.degradeWrite('set', error);
      return false;
    }
  }

  /**
   * Removes an entry; returns whether it existed.
   * @throws CacheUnavailableError | CacheTimeoutError when the invalidation may not have happened.
   */
  async delete(key: string, options?: KeyOptions): Promise<boolean> {
    const fullKey = this.keyOf(key, options);
    this.loads.forget((loading) => loading === fullKey);
    return (await this.store.delete([fullKey])) > 0;
  }

  /**
   * Removes several entries in one round trip; returns how many existed.
   * @throws CacheUnavailableError | CacheTimeoutError when the invalidation may not have happened.
   * @throws CacheArgumentError for an empty key or one in the reserved space, before deleting any.
   */
  async deleteMany(keys: readonly string[], options?: KeyOptions): Promise<number> {
    const fullKeys = new Set(keys.map((key) => this.keyOf(key, options)));
    this.loads.forget((loading) => fullKeys.has(loading));
    return this.store.delete([...fullKeys]);
  }

  /** Whether a value is cached under `key` (a read-through in progress does not count). */
  async exists(key: string, options?: KeyOptions): Promise<boolean> {
    const fullKey = this.keyOf(key, options);
    try {
      const found = await this.store.peek(fullKey, EntryCodec.HEAD_LENGTH);
      return found !== undefined && this.entries.isValueHead(found.head, found.length);
    } catch (error) {
      this.degrade('exists', error);
      return false;
    }
  }

  /**
   * Read-through: the cached value, or the loader's result, stored for `ttl` seconds. Concurrent
   * calls for the same key in this process run the loader once and share its result or error.
   *
   * A fill never overwrites a newer write or an invalidation: the miss takes a lease on the key,
   * and the result is stored only if the lease is still there (any `set`, `delete` or pattern
   * invalidation in between removes it). When another process holds the lease, the loader's
   * result is served without being stored.
   *
   * A shared load is shared for at most the lease TTL (`leaseTtl`): a loader that never settles
   * wedges only the calls that started it and those that joined it in time; calls after that load
   * for themselves (and the hung load, should it ever finish, cannot fill the key any more).
   *
   * A loader result of `undefined` is returned but not stored (`get` could not tell it from a
   * miss); return `null` to cache "nothing found".
   *
   * Cache failures never fail this call; the loader's own errors propagate and are not cached.
   */
  async getOrSet(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions<T> = {}): Promise<T> {
    const fullKey = this.keyOf(key, options);
    const ttlMs = this.ttlMs(options.ttl);
    // Hits skip the single-flight bookkeeping; only misses (and failures) are shared.
    let entry: Buffer | null | undefined;
    try {
      entry = await this.store.get(fullKey);
    } catch (error) {
      this.degrade('getOrSet', error);
      return this.loads.run(fullKey, () => this.load(loader));
    }
    const cached = this.decodeRead(fullKey, entry);
    if (cached !== MISS) return cached;
    return this.loads.run(fullKey, () => this.fillThrough(fullKey, loader, ttlMs, options));
  }

  /**
   * Preloads the keys that hold nothing, with the read-through rule of `getOrSet`: each absent
   * key's lease is taken before `load` runs, and each result is stored only if its lease survived.
   * A key set, deleted or invalidated while loading keeps that newer state; keys holding a value
   * (or another read-through's lease) are left alone and not passed to `load`. `load` receives
   * the absent keys and returns their values in the same order; it must settle within `leaseTtl`,
   * after which its results can no longer be stored.
   *
   * Neither cache failures nor the loader's fail this call: the keys they hit are counted as
   * `failed`, and a loader that throws (or returns a different number of values than it was given
   * keys) has its leases given back, nothing stored, and its error in `loadError`.
   * @throws CacheArgumentError for a bad key, ttl or jitter, before anything is written.
   */
  async fillAbsent(
    keys: readonly string[],
    load: (absent: readonly string[]) => ReadonlyArray<T> | Promise<ReadonlyArray<T>>,
    options: FillAbsentOptions<T> = {},
  ): Promise<FillAbsentResult> {
    const unique = [...new Set(keys)];
    const fullKeys = unique.map((key) => this.fullKey(key));
    const ttlMs = this.ttlMs(options.ttl);
    const jitter = options.jitter ?? 0;
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
      throw new CacheArgumentError(warmingMessages.badJitter(describe(jitter)));
    }
    const result: { -readonly [K in keyof FillAbsentResult]: FillAbsentResult[K] } = {
      filled: 0,
      present: 0,
      refused: 0,
      skipped: 0,
      failed: 0,
    };
    const taken = await Promise.all(
      fullKeys.map(async (fullKey, i) => {
        const lease = this.entries.newLease();
        try {
          if ((await this.store.setIfAbsent(fullKey, lease, this.leaseTtlMs)) === undefined) {
            return { key: unique[i], fullKey, lease };
          }
          result.present++;
        } catch (error) {
          this.degradeWrite('fillAbsent', error);
          result.failed++;
        }
        return undefined;
      }),
    );
    // In the order of `keys`, so that the loader sees them as its caller listed them.
    const leased = taken.filter((entry) => entry !== undefined);
    if (leased.length === 0) {
      this.counters.warmingErrors += result.failed;
      return result;
    }

    let values: ReadonlyArray<T>;
    try {
      values = await Promise.resolve().then(() => load(leased.map(({ key }) => key)));
      if (!Array.isArray(values) || values.length !== leased.length) {
        throw new CacheArgumentError(warmingMessages.misalignedValues(leased.length, Array.isArray(values) ? values.length : describe(values)));
      }
    } catch (error) {
      await Promise.all(leased.map(({ fullKey, lease }) => this.releaseLease(fullKey, lease)));
      result.failed += leased.length;
      result.loadError = error;
      this.counters.warmingErrors += result.failed;
      return result;
    }
    const { tags } = options;
    const outcomes = await Promise.all(
      leased.map(({ key, fullKey, lease }, i) =>
        this.fill(
          fullKey,
          lease,
          values[i],
          jittered(ttlMs, jitter),
          { tags: tags && ((value: T) => tags(value, key)) },
          'fillAbsent',
        ),
      ),
    );
    for (const outcome of outcomes) result[outcome]++;
    this.counters.warmingErrors += result.failed;
    return result;
  }

  /**
   * Counts, in `stats().warmingErrors`, entries a warm-up of this domain could not preload for a
   * reason `fillAbsent` did not see (a warmer that threw counts as one). Logging it is the caller's.
   */
  reportWarmingFailure(entries = 1): void {
    this.counters.warmingErrors += entries;
  }

  /** Values of several keys in one round trip, aligned with `keys`; misses are `undefined`. */
  async getMany(keys: readonly string[]): Promise<Array<T | undefined>> {
    const fullKeys = keys.map((key) => this.fullKey(key));
    let found: Array<Buffer | null | undefined>;
    try {
      found = await this.store.getMany(fullKeys);
    } catch (error) {
      this.degrade('getMany', error);
      return fullKeys.map(() => undefined);
    }
    return found.map((entry, i) => {
      const value = this.decodeRead(fullKeys[i], entry);
      return value === MISS ? undefined : value;
    });
  }

  /**
   * Stores several values in one round trip. Every entry is validated and encoded before anything
   * is written. Returns false when the cache could not store them (counted and logged).
   * @throws CacheSerializationError | CacheArgumentError before writing anything.
   */
  async setMany(entries: ReadonlyArray<CacheEntry<T>>): Promise<boolean> {
    const encoded = entries.map(({ key, value, ttl }) => ({
      key: this.fullKey(key),
      ttlMs: this.ttlMs(ttl),
      value: this.entries.encode(value),
    }));
    try {
      await this.store.setMany(encoded);
      return true;
    } catch (error) {
      this.degradeWrite('setMany', error);
      return false;
    }
  }

  /**
   * Deletes this domain's entries whose key (without the prefix) matches a Redis glob pattern.
   * Escape ids inside the pattern with `escapeGlob`. Uses SCAN, never KEYS; returns the count.
   * @throws CacheUnavailableError | CacheTimeoutError when the invalidation may be incomplete.
   */
  async invalidatePattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string' || pattern === '') {
      throw new CacheArgumentError(`invalidatePattern needs a non-empty pattern, got ${describe(pattern)}`);
    }
    const fullPattern = escapeGlob(this.keyPrefix) + pattern;
    const matcher = globToRegExp(fullPattern);
    this.loads.forget((loading) => matcher.test(loading));
    return this.store.deleteMatching(fullPattern);
  }

  /**
   * Deletes every entry carrying any of these tags. A read-through that began before this call
   * and fills afterwards is refused, whatever its tags.
   * @throws CacheUnavailableError | CacheTimeoutError when the invalidation may be incomplete.
   */
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const tagKeys = this.tagKeys(tags);
    // A load's tags are known only once it finishes: none in progress may be shared any more.
    this.loads.forget(() => true);
    return this.store.invalidateTags(tagKeys, this.leaseTtlMs);
  }

  /** Deletes every entry of this domain (SCAN + UNLINK in batches). */
  clear(): Promise<number> {
    return this.invalidatePattern('*');
  }

  /**
   * Counts and logs (rate-limited) a failure of cache work done on this domain's behalf outside
   * this class — e.g. by a decorator that could not build a key — so it shows in `stats()`.
   */
  reportFailure(operation: string, error: unknown): void {
    this.counters.errors++;
    this.log.warn(operation, messages.cacheWorkFailed(this.domain.name, operation, reasonOf(error)));
  }

  /** Hits, misses, hit ratio and failures of this domain since the process started. */
  stats(): CacheStats {
    return this.counters.snapshot();
  }

  /** After a miss: lease, load, and fill only if the lease survived. */
  private async fillThrough(
    fullKey: string,
    loader: () => T | Promise<T>,
    ttlMs: number,
    options: GetOrSetOptions<T>,
  ): Promise<T> {
    const lease = this.entries.newLease();
    let holder: Buffer | undefined;
    try {
      holder = await this.store.setIfAbsent(fullKey, lease, this.leaseTtlMs);
    } catch (error) {
      this.degrade('getOrSet', error);
      return this.load(loader);
    }
    if (holder !== undefined) {
      // Filled by someone else since our read, or another process is loading it right now.
      const value = this.decode(fullKey, holder);
      return value === MISS ? this.load(loader) : value;
    }

    let value: T;
    try {
      value = await this.load(loader);
    } catch (error) {
      await this.releaseLease(fullKey, lease);
      throw error;
    }
    await this.fill(fullKey, lease, value, ttlMs, options);
    return value;
  }

  /** Stores a loaded value in place of its lease, unless the lease is gone or a tag was invalidated. */
  private async fill(
    fullKey: string,
    lease: Buffer,
    value: T,
    ttlMs: number,
    { tags: tagSource, unless }: Pick<GetOrSetOptions<T>, 'tags' | 'unless'>,
    operation = 'getOrSet',
  ): Promise<FillOutcome> {
    let bytes: Buffer;
    let tags: EntryTags | undefined;
    try {
      // `undefined` is what `get` returns for a miss, so it is not cached: it is not a failure.
      if (value === undefined || unless?.(value)) {
        await this.releaseLease(fullKey, lease);
        return 'skipped';
      }
      tags = tagSource ? this.entryTags(typeof tagSource === 'function' ? tagSource(value) : tagSource) : undefined;
      bytes = this.entries.encode(value);
    } catch (error) {
      this.degradeWrite(operation, error);
      await this.releaseLease(fullKey, lease);
      return 'failed';
    }
    try {
      if (await this.store.replaceIf(fullKey, lease, bytes, ttlMs, tags)) return 'filled';
      this.counters.staleFillsDiscarded++;
      return 'refused';
    } catch (error) {
      this.degradeWrite(operation, error);
      return 'failed';
    }
  }

  private async releaseLease(fullKey: string, lease: Buffer): Promise<void> {
    try {
      await this.store.replaceIf(fullKey, lease, undefined, 0);
    } catch {
      // The lease expires by itself within leaseTtl; until then other readers load from the source.
    }
  }

  private load(loader: () => T | Promise<T>): Promise<T> {
    this.counters.loads++;
    return Promise.resolve().then(loader);
  }

  /** Decodes a read and counts it as a hit or a miss. */
  private decodeRead(fullKey: string, entry: Buffer | null | undefined): T | typeof MISS {
    const value = entry == null ? MISS : this.decode(fullKey, entry);
    if (value === MISS) this.counters.misses++;
    else this.counters.hits++;
    return value;
  }

  private decode(fullKey: string, entry: Buffer): T | typeof MISS {
    try {
      const value = this.entries.decode(entry);
      return value === LEASED ? MISS : (value as T);
    } catch (error) {
      this.dropCorrupt(fullKey, entry, error as CacheDecodeError);
      return MISS;
    }
  }

  private dropCorrupt(fullKey: string, entry: Buffer, error: CacheDecodeError): void {
    this.counters.corruptEntries++;
    this.counters.errors++;
    this.log.warn('corrupt', messages.corruptEntry(this.domain.name, error.message));
    // Only these exact bytes: a valid value written meanwhile must survive. Commands on one
    // connection run in order, so a lease taken right after this sees the key already cleared.
    this.store.replaceIf(fullKey, entry, undefined, 0).catch(() => {
      // Left for its TTL; every read of it stays a miss.
    });
  }

  private degrade(operation: string, error: unknown): void {
    this.counters.errors++;
    if (error instanceof CacheOverloadedError) this.counters.overloaded++;
    this.log.warn(operation, messages.cacheDegraded(this.domain.name, operation, reasonOf(error)));
  }

  private degradeWrite(operation: string, error: unknown): void {
    this.counters.errors++;
    if (error instanceof CacheOverloadedError) this.counters.overloaded++;
    this.log.warn(`${operation}:write`, messages.cacheWriteFailed(this.domain.name, operation, reasonOf(error)));
  }

  private entryTags(tags: readonly string[]): EntryTags {
    return { tags: this.tagKeys(tags), leaseTtlMs: this.leaseTtlMs };
  }

  private tagKeys(tags: readonly string[]): TagKeys[] {
    if (!Array.isArray(tags)) throw new CacheArgumentError(`Tags must be an array of strings, got ${describe(tags)}`);
    return tags.map((tag) => {
      if (typeof tag !== 'string' || tag === '') {
        throw new CacheArgumentError(`Tags must be non-empty strings, got ${describe(tag)}`);
      }
      return { members: `${this.tagPrefix}tag:${tag}`, invalidatedAt: `${this.tagPrefix}tag-invalidated:${tag}` };
    });
  }

  private ttlMs(ttl: number | undefined): number {
    return ttl === undefined ? this.domain.ttlMs : secondsToMs(ttl, 'TTL');
  }
}

/** `ttlMs` moved by up to `jitter` of itself either way, uniformly; at least 1 ms. */
function jittered(ttlMs: number, jitter: number): number {
  return jitter === 0 ? ttlMs : Math.max(1, Math.round(ttlMs * (1 + jitter * (2 * Math.random() - 1))));
}

function reasonOf(error: unknown): string {
  return (error as CacheError)?.message ?? String(error);
}
