import { Logger } from '@nestjs/common';
import { CacheArgumentError, CacheDecodeError, type CacheError, CacheOverloadedError } from '../cache.errors';
import { messages, nearMessages, warmingMessages } from '../cache.messages';
import { EntryCodec, type EntryTiming, LEASED } from '../codec/entry-codec';
import type { InvalidationChannel } from '../near/invalidation-channel';
import type { KeyWatch, KeyWatches } from '../near/key-watches';
import { NearCache } from '../near/near-cache';
import { type CacheLoadContext, traceLoad } from '../observability/cache-tracing';
import { TracedOperation } from '../observability/traced-operation.decorator';
import { describe, type Duration, type DurationUnit, durationToMs, waitToMs } from '../options/duration.util';
import type { ResolvedDomain } from '../options/resolve-options';
import { escapeGlob, globToRegExp } from '../redis/glob.util';
import type { CacheStore, EntryTags, TagKeys } from '../store/cache-store.interface';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { CacheCounters, type CacheStats } from './cache-stats';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';
import { entryKey, GENERATED_KEY, type GeneratedKeyOption } from './cache-keys';
import { FailSafe } from './fail-safe';
import { FleetSingleFlight } from './fleet-single-flight';
import { inRefreshWindow, RefreshesInFlight, settleWithin, TIMED_OUT } from './refresh-ahead';
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
  /** Time to live (seconds, or a `Duration` such as `'5m'`); the domain's default when omitted. */
  ttl?: Duration;
  /** Tags for `invalidateTags`; a function receives the loaded value. */
  tags?: TagSource<T>;
  /** When it returns true for the loaded value, the value is returned but not stored. */
  unless?: (value: T) => boolean;
  /**
   * Refresh-ahead for this call, overriding the domain's `refreshAhead`: a hit in the last
   * `1 - refreshAhead` of its entry's TTL is served at once and refreshed in the background, by
   * one instance of the fleet. `false` turns it off.
   */
  refreshAhead?: number | false;
  /**
   * Seconds a miss waits for another instance that is loading the same key, instead of running
   * the loader too; `0` loads at once. At most `leaseTtl`, which is the default.
   */
  wait?: Duration;
  /**
   * Fail-safe (domains with `grace`): seconds after which a loader still running is not waited
   * for when a stale value is at hand; that value is served and the load goes on in the
   * background. Overrides the domain's `softTimeout`.
   */
  softTimeout?: Duration;
}

/** Options of one `set` call. */
export interface SetOptions extends KeyOptions {
  /** Time to live (seconds, or a `Duration` such as `'5m'`); the domain's default when omitted. */
  ttl?: Duration;
  /** Tags for `invalidateTags`. */
  tags?: readonly string[];
}

/** One entry of `setMany`. */
export interface CacheEntry<T> {
  key: string;
  value: T;
  /** Time to live (seconds, or a `Duration` such as `'5m'`); the domain's default when omitted. */
  ttl?: Duration;
}

/** Options of one `fillAbsent` call. */
export interface FillAbsentOptions<T> {
  /** Time to live (seconds, or a `Duration` such as `'5m'`); the domain's default when omitted. */
  ttl?: Duration;
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

/** The invalidation channel of the module and its key watches: what keeps in-process state coherent. */
export interface Coherence {
  readonly channel: InvalidationChannel;
  readonly watches: KeyWatches;
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
  private readonly near?: NearCache<T>;
  private readonly fleet: FleetSingleFlight<T>;
  private readonly refreshes: RefreshesInFlight;
  private readonly failSafe: FailSafe;

  /**
   * @param coherence the module's invalidation channel; without it there is no near cache and a
   *   miss never waits for another instance's load.
   */
  constructor(
    private readonly domain: ResolvedDomain,
    namespace: string,
    private readonly store: CacheStore,
    private readonly entries: EntryCodec,
    private readonly leaseTtlMs: number,
    private readonly coherence?: Coherence,
  ) {
    this.keyPrefix = namespace + domain.prefix;
    // A load that outlives its lease can no longer fill the key: later callers stop waiting for it.
    // The margin lets the lease expire in the store first, so their own load can fill the key.
    this.loads = new SingleFlight<T>(leaseTtlMs + LEASE_EXPIRY_MARGIN_MS);
    this.tagPrefix = `${namespace}${INTERNAL_KEY_PREFIX}${domain.name}:`;
    this.log = new RateLimitedLogger(new Logger(`ElileCache:${domain.name}`));
    this.failSafe = new FailSafe(domain.graceMs ?? 0, domain.softTimeoutMs, this.counters);
    // A refresh is bounded by the lease TTL, and so is the pause before the next attempt.
    this.refreshes = new RefreshesInFlight(leaseTtlMs);
    if (domain.l1 && coherence) {
      const decode = (bytes: Buffer) => entries.decode(bytes) as T;
      this.near = new NearCache<T>(domain.l1, coherence.channel, this.counters, decode, this.failSafe);
    }
    this.fleet = new FleetSingleFlight<T>(
      store,
      entries,
      coherence?.watches,
      leaseTtlMs,
      this.counters,
      (fullKey, held) => this.decodeHeld(fullKey, held),
      (error) => this.degrade('getOrSet', error),
      (held) => this.failSafe.isStale(entries.timingOf(held)),
    );
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
  @TracedOperation('get')
  async get(key: string, options?: KeyOptions): Promise<T | undefined> {
    const fullKey = this.keyOf(key, options);
    const near = this.near?.get(fullKey);
    if (near && !near.stale) {
      this.counters.hits++;
      return near.value;
    }
    const watch = this.watchForNear(fullKey);
    let entry: Buffer | null | undefined;
    try {
      entry = await this.store.get(fullKey);
    } catch (error) {
      watch?.dispose();
      this.degrade('get', error);
      return undefined;
    }
    const value = this.decodeRead(fullKey, entry);
    if (value === MISS) {
      watch?.dispose();
      return undefined;
    }
    return this.near ? this.keepNear(fullKey, value, entry!, this.entries.timingOf(entry!), watch) : value;
  }

  /**
   * Stores a value for `ttl` seconds (the domain's default when omitted), optionally tagged.
   * Returns false when the cache could not store it (counted and logged).
   * @throws CacheSerializationError when the value cannot be encoded, and for `undefined` (which
   *   `get` could not tell from a miss: store `null` instead).
   * @throws CacheArgumentError for an empty key or tag, or a TTL that is not a positive number.
   */
  @TracedOperation('set')
  async set(key: string, value: T, ttlOrOptions?: number | `${number}${DurationUnit}` | SetOptions): Promise<boolean> {
    // An object here is always options: a Duration object goes in them (`{ ttl: { minutes: 5 } }`).
    const options = typeof ttlOrOptions === 'object' && ttlOrOptions !== null ? ttlOrOptions : { ttl: ttlOrOptions };
    const fullKey = this.keyOf(key, options);
    this.loads.forget((loading) => loading === fullKey);
    const ttlMs = this.ttlMs(options.ttl);
    const tags = options.tags ? this.entryTags(options.tags) : undefined;
    const bytes = this.entries.encode(value, ttlMs);
    this.writing([fullKey]);
    try {
      await this.store.set(fullKey, bytes, this.failSafe.storedTtlMs(ttlMs), tags);
      this.counters.sets++;
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
  @TracedOperation('delete')
  async delete(key: string, options?: KeyOptions): Promise<boolean> {
    const fullKey = this.keyOf(key, options);
    this.loads.forget((loading) => loading === fullKey);
    this.writing([fullKey]);
    const existed = (await this.store.delete([fullKey])) > 0;
    this.counters.deletes++;
    return existed;
  }

  /**
   * Removes several entries in one round trip; returns how many existed.
   * @throws CacheUnavailableError | CacheTimeoutError when the invalidation may not have happened.
   * @throws CacheArgumentError for an empty key or one in the reserved space, before deleting any.
   */
  @TracedOperation('deleteMany')
  async deleteMany(keys: readonly string[], options?: KeyOptions): Promise<number> {
    const fullKeys = new Set(keys.map((key) => this.keyOf(key, options)));
    this.loads.forget((loading) => fullKeys.has(loading));
    this.writing([...fullKeys]);
    const existed = await this.store.delete([...fullKeys]);
    this.counters.deletes += fullKeys.size;
    return existed;
  }

  /** Whether a value is cached under `key` (a read-through in progress does not count). */
  @TracedOperation('exists')
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
   * Like `get`, and a hit lives `ttl` seconds again from now (the domain's default when omitted),
   * in the same round trip (Redis `GETEX … PX`): sliding expiration, as sessions need. It always
   * asks the store (a near-cache hit would not extend the entry). A miss creates nothing; cache
   * failures degrade like `get`.
   * @throws CacheArgumentError for a bad key, scope or TTL.
   */
  @TracedOperation('getAndExpire')
  async getAndExpire(key: string, options?: KeyOptions & { ttl?: number }): Promise<T | undefined> {
    const fullKey = this.keyOf(key, options);
    const ttlMs = this.ttlMs(options?.ttl);
    let entry: Buffer | null | undefined;
    try {
      entry = await this.store.getAndExpire(fullKey, ttlMs);
    } catch (error) {
      this.degrade('getAndExpire', error);
      return undefined;
    }
    let value: unknown;
    try {
      value = entry == null ? undefined : this.entries.decode(entry);
    } catch (error) {
      this.dropCorrupt(fullKey, entry!, error as CacheDecodeError);
    }
    if (value === LEASED) {
      // GETEX extended what it found; a read-through's lease gets back its own short life.
      this.store.replaceIf(fullKey, entry!, entry!, this.leaseTtlMs).catch(() => {
        // Then it lives until the TTL just set; readers meanwhile load without storing.
      });
    }
    if (value === LEASED || value === undefined) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return value as T;
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
  @TracedOperation('getOrSet')
  async getOrSet(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions<T> = {}): Promise<T> {
    const fullKey = this.keyOf(key, options);
    const ttlMs = this.ttlMs(options.ttl);
    const refreshAhead = this.refreshRatio(options.refreshAhead);
    const near = this.near?.get(fullKey);
    if (near && !near.stale) {
      this.counters.hits++;
      if (inRefreshWindow(near.timing, refreshAhead)) this.refreshLater(fullKey, loader, ttlMs, refreshAhead!, options);
      return near.value;
    }
    // Fail-safe: a stale copy kept in process is the fallback only while Redis cannot be read;
    // once Redis answers, what it holds decides (a key it no longer holds was deleted).
    const nearFallback = near && { value: near.value };
    const softTimeoutMs = this.softTimeoutMs(options.softTimeout);
    // Hits skip the single-flight bookkeeping; only misses (and failures) are shared.
    const watch = this.watchForNear(fullKey);
    let entry: Buffer | null | undefined;
    try {
      entry = await this.store.get(fullKey);
    } catch (error) {
      watch?.dispose();
      this.degrade('getOrSet', error);
      return this.loads.run(fullKey, () =>
        this.failSafe.serve(this.load(loader, fullKey, 'unavailable'), nearFallback, softTimeoutMs),
      );
    }
    const cached = this.decodeRead(fullKey, entry);
    if (cached === MISS) {
      watch?.dispose();
      const fallback = entry && this.failSafe.graceMs > 0 ? this.staleValue(fullKey, entry) : undefined;
      const waitMs = this.fleetWaitMs(options.wait);
      return this.loads.run(fullKey, () =>
        this.fillThrough(fullKey, loader, ttlMs, waitMs, options, fallback, softTimeoutMs),
      );
    }
    if (!this.near && refreshAhead === undefined) return cached;
    const timing = this.entries.timingOf(entry!);
    if (inRefreshWindow(timing, refreshAhead)) this.refreshLater(fullKey, loader, ttlMs, refreshAhead!, options);
    return this.near ? this.keepNear(fullKey, cached, entry!, timing, watch) : cached;
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
  @TracedOperation('fillAbsent')
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
        throw new CacheArgumentError(
          warmingMessages.misalignedValues(leased.length, Array.isArray(values) ? values.length : describe(values)),
        );
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
  @TracedOperation('getMany')
  async getMany(keys: readonly string[]): Promise<Array<T | undefined>> {
    const fullKeys = keys.map((key) => this.fullKey(key));
    const values = new Array<T | undefined>(fullKeys.length).fill(undefined);
    // With a near cache, only the keys it does not hold go to the store.
    const remote: number[] = [];
    for (let i = 0; i < fullKeys.length; i++) {
      const near = this.near?.get(fullKeys[i]);
      if (near && !near.stale) {
        this.counters.hits++;
        values[i] = near.value;
      } else {
        remote.push(i);
      }
    }
    if (remote.length === 0) return values;
    const watches = remote.map((i) => this.watchForNear(fullKeys[i]));
    let found: Array<Buffer | null | undefined>;
    try {
      found = await this.store.getMany(remote.map((i) => fullKeys[i]));
    } catch (error) {
      for (const watch of watches) watch?.dispose();
      this.degrade('getMany', error);
      return values;
    }
    remote.forEach((i, r) => {
      const entry = found[r];
      const value = this.decodeRead(fullKeys[i], entry);
      if (value === MISS) {
        watches[r]?.dispose();
        return;
      }
      values[i] = this.near
        ? this.keepNear(fullKeys[i], value, entry!, this.entries.timingOf(entry!), watches[r])
        : value;
    });
    return values;
  }

  /**
   * Stores several values in one round trip. Every entry is validated and encoded before anything
   * is written. Returns false when the cache could not store them (counted and logged).
   * @throws CacheSerializationError | CacheArgumentError before writing anything.
   */
  @TracedOperation('setMany')
  async setMany(entries: ReadonlyArray<CacheEntry<T>>): Promise<boolean> {
    const encoded = entries.map(({ key, value, ttl }) => {
      const ttlMs = this.ttlMs(ttl);
      return {
        key: this.fullKey(key),
        ttlMs: this.failSafe.storedTtlMs(ttlMs),
        value: this.entries.encode(value, ttlMs),
      };
    });
    this.writing(encoded.map(({ key }) => key));
    try {
      await this.store.setMany(encoded);
      this.counters.sets += encoded.length;
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
  @TracedOperation('invalidatePattern')
  async invalidatePattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string' || pattern === '') {
      throw new CacheArgumentError(`invalidatePattern needs a non-empty pattern, got ${describe(pattern)}`);
    }
    const fullPattern = escapeGlob(this.keyPrefix) + pattern;
    const matcher = globToRegExp(fullPattern);
    this.loads.forget((loading) => matcher.test(loading));
    this.near?.deleteMatching(matcher);
    const deleted = await this.store.deleteMatching(fullPattern);
    this.counters.invalidations++;
    await this.nearCaughtUp();
    return deleted;
  }

  /**
   * Deletes every entry carrying any of these tags. A read-through that began before this call
   * and fills afterwards is refused, whatever its tags.
   * @throws CacheUnavailableError | CacheTimeoutError when the invalidation may be incomplete.
   */
  @TracedOperation('invalidateTags')
  async invalidateTags(tags: readonly string[]): Promise<number> {
    const tagKeys = this.tagKeys(tags);
    // A load's tags are known only once it finishes: none in progress may be shared any more.
    this.loads.forget(() => true);
    const deleted = await this.store.invalidateTags(tagKeys, this.leaseTtlMs);
    this.counters.invalidations++;
    // The near cache does not know which keys carried the tags: their invalidations tell it.
    await this.nearCaughtUp();
    return deleted;
  }

  /**
   * Soft invalidation (fail-safe, domains with `grace`): the entry becomes stale instead of being
   * removed — never a hit again, but still the fallback served when a reload fails, for at most
   * the grace. A read-through still loading it cannot store what it loaded. Without `grace`, the
   * same as `delete`. Returns whether the key held something.
   * @throws CacheUnavailableError | CacheTimeoutError when it may not have happened.
   */
  @TracedOperation('expire')
  async expire(key: string, options?: KeyOptions): Promise<boolean> {
    if (this.failSafe.graceMs === 0) return this.delete(key, options);
    const fullKey = this.keyOf(key, options);
    this.loads.forget((loading) => loading === fullKey);
    this.writing([fullKey]);
    const expiredAt = EntryCodec.expiryBytes(Date.now());
    const held = (await this.store.expireEntries([fullKey], expiredAt, this.failSafe.graceMs)) > 0;
    this.counters.invalidations++;
    return held;
  }

  /**
   * `expire` for every entry carrying any of these tags (see `invalidateTags`, which it is without
   * `grace`). Returns how many entries were expired.
   * @throws CacheUnavailableError | CacheTimeoutError when it may be incomplete.
   */
  @TracedOperation('expireTags')
  async expireTags(tags: readonly string[]): Promise<number> {
    if (this.failSafe.graceMs === 0) return this.invalidateTags(tags);
    const tagKeys = this.tagKeys(tags);
    this.loads.forget(() => true);
    const expiredAt = EntryCodec.expiryBytes(Date.now());
    const expired = await this.store.expireTagged(tagKeys, expiredAt, this.failSafe.graceMs, this.leaseTtlMs);
    this.counters.invalidations++;
    await this.nearCaughtUp();
    return expired;
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
    waitMs: number,
    options: GetOrSetOptions<T>,
    staleFallback: { value: T } | undefined,
    softTimeoutMs: number | undefined,
  ): Promise<T> {
    // Filled by someone else since our read, or another process is loading it right now.
    const claim = await this.fleet.claim(fullKey, waitMs);
    if ('value' in claim) return claim.value;
    const fallback = claim.stale ?? staleFallback;
    if (!('lease' in claim)) return this.failSafe.serve(this.load(loader, fullKey, 'miss'), fallback, softTimeoutMs);
    const { lease, replaced } = claim;
    // Settles on its own, whether or not fail-safe served a stale value before it ended.
    const loading = this.load(loader, fullKey, 'miss').then(
      async (value) => {
        await this.fill(fullKey, lease, value, ttlMs, options);
        return value;
      },
      async (error: unknown) => {
        await this.giveBack(fullKey, lease, replaced);
        throw error;
      },
    );
    return this.failSafe.serve(loading, fallback, softTimeoutMs);
  }

  /**
   * After a failed load: the stale entry the lease replaced goes back for what is left of its
   * grace, so that every instance can still serve it; otherwise the lease is released.
   */
  private async giveBack(fullKey: string, lease: Buffer, replaced: Buffer | undefined): Promise<void> {
    const graceLeftMs = replaced ? this.failSafe.graceLeftMs(this.entries.timingOf(replaced)) : 0;
    if (replaced === undefined || graceLeftMs === 0) return this.releaseLease(fullKey, lease);
    try {
      await this.store.replaceIf(fullKey, lease, replaced, graceLeftMs);
    } catch {
      // The lease expires by itself within leaseTtl, and the stale value with it.
      this.fleet.orphaned(fullKey, lease);
    }
  }

  /** The value of an entry past its TTL but within its grace, when `entry` is one. */
  private staleValue(fullKey: string, entry: Buffer): { value: T } | undefined {
    if (!this.failSafe.isStale(this.entries.timingOf(entry))) return undefined;
    const value = this.decode(fullKey, entry);
    return value === MISS ? undefined : { value };
  }

  private softTimeoutMs(softTimeout: Duration | undefined): number | undefined {
    return softTimeout === undefined ? this.domain.softTimeoutMs : waitToMs(softTimeout, 'getOrSet "softTimeout"');
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
      bytes = this.entries.encode(value, ttlMs);
    } catch (error) {
      this.degradeWrite(operation, error);
      await this.releaseLease(fullKey, lease);
      return 'failed';
    }
    this.writing([fullKey]);
    try {
      if (await this.store.replaceIf(fullKey, lease, bytes, this.failSafe.storedTtlMs(ttlMs), tags)) return 'filled';
      this.counters.staleFillsDiscarded++;
      return 'refused';
    } catch (error) {
      this.degradeWrite(operation, error);
      this.fleet.orphaned(fullKey, lease);
      return 'failed';
    }
  }

  private async releaseLease(fullKey: string, lease: Buffer): Promise<void> {
    try {
      await this.store.replaceIf(fullKey, lease, undefined, 0);
    } catch {
      // It expires by itself within leaseTtl; until then this process's misses take it over, and
      // other processes' wait for it at most that long.
      this.fleet.orphaned(fullKey, lease);
    }
  }

  private load(loader: () => T | Promise<T>, redisKey: string, reason: CacheLoadContext['reason']): Promise<T> {
    this.counters.loads++;
    return traceLoad(
      () => ({ domain: this.domain.name, redisKey, reason }),
      () => Promise.resolve().then(loader),
    );
  }

  /** Decodes a read and counts it as a hit or a miss; an entry past its TTL (fail-safe) is a miss. */
  private decodeRead(fullKey: string, entry: Buffer | null | undefined): T | typeof MISS {
    let value = entry == null ? MISS : this.decode(fullKey, entry);
    if (value !== MISS && this.failSafe.graceMs > 0 && this.failSafe.isStale(this.entries.timingOf(entry!)))
      value = MISS;
    if (value === MISS) this.counters.misses++;
    else this.counters.hits++;
    return value;
  }

  private decode(fullKey: string, entry: Buffer): T | typeof MISS {
    const value = this.decodeHeld(fullKey, entry);
    return value === LEASED || value === undefined ? MISS : value;
  }

  /** A value, `LEASED`, or undefined for bytes that do not decode (dropped, counted, logged). */
  private decodeHeld(fullKey: string, entry: Buffer): T | typeof LEASED | undefined {
    try {
      return this.entries.decode(entry) as T | typeof LEASED;
    } catch (error) {
      this.dropCorrupt(fullKey, entry, error as CacheDecodeError);
      return undefined;
    }
  }

  /** A watch for a read whose answer the near cache may keep; none without a near cache. */
  private watchForNear(fullKey: string): KeyWatch | undefined {
    return this.near ? this.coherence?.watches.watch(fullKey) : undefined;
  }

  private keepNear(
    fullKey: string,
    value: T,
    entry: Buffer,
    timing: EntryTiming | undefined,
    watch: KeyWatch | undefined,
  ): T {
    try {
      return this.near!.keep(fullKey, value, entry, timing, watch);
    } finally {
      watch?.dispose();
    }
  }

  /**
   * Before this process writes keys: its near cache drops them, and reads already in flight for
   * them may not keep their (older) answer.
   */
  private writing(fullKeys: readonly string[]): void {
    if (!this.coherence) return;
    this.near?.delete(fullKeys);
    this.coherence.watches.touch(fullKeys);
  }

  /**
   * After an invalidation whose keys only Redis knows: waits until their invalidations reached
   * this process, so that a read after the call returns never hits a copy kept from before.
   */
  private async nearCaughtUp(): Promise<void> {
    if (!this.near) return;
    try {
      await this.coherence!.channel.sync();
    } catch {
      // The channel counts as down now, which cleared every near cache.
    }
  }

  /**
   * A refresh ahead of expiry, in the background: under a refresh lease (one instance of the
   * fleet refreshes), it loads and replaces the entry only if the entry is still the one it read
   * — a write, delete or invalidation meanwhile wins, as it does against a fill.
   */
  private refreshLater(
    fullKey: string,
    loader: () => T | Promise<T>,
    ttlMs: number,
    ratio: number,
    options: GetOrSetOptions<T>,
  ): void {
    this.refreshes.start(fullKey, async () => {
      const leaseKey = `${this.tagPrefix}refresh:${fullKey}`;
      const lease = this.entries.newLease();
      try {
        if ((await this.store.setIfAbsent(leaseKey, lease, this.leaseTtlMs)) !== undefined) return;
        try {
          const current = await this.store.get(fullKey);
          // Gone, or already rewritten (by another instance's refresh, say): nothing to refresh.
          if (!current || !inRefreshWindow(this.entries.timingOf(current), ratio)) return;
          let value: T | typeof TIMED_OUT;
          try {
            // Past its lease a refresh could no longer be told from one that began after an
            // invalidation: its result is dropped.
            value = await settleWithin(this.load(loader, fullKey, 'refresh'), this.leaseTtlMs);
            if (value === TIMED_OUT) throw new Error(nearMessages.refreshTimedOut(this.leaseTtlMs));
          } catch (error) {
            this.counters.refreshErrors++;
            this.log.warn('refresh', nearMessages.refreshFailed(this.domain.name, reasonOf(error)));
            return;
          }
          if (value === undefined || options.unless?.(value)) return;
          const source = options.tags;
          const tags = source ? this.entryTags(typeof source === 'function' ? source(value) : source) : undefined;
          const bytes = this.entries.encode(value, ttlMs);
          this.writing([fullKey]);
          const storedTtlMs = this.failSafe.storedTtlMs(ttlMs);
          if (await this.store.replaceIf(fullKey, current, bytes, storedTtlMs, tags && { ...tags, leaseKey }))
            this.counters.refreshes++;
          else this.counters.staleFillsDiscarded++;
        } finally {
          await this.releaseLease(leaseKey, lease);
        }
      } catch (error) {
        this.degradeWrite('refresh', error);
      }
    });
  }

  /** The refresh-ahead ratio of a call: its own, else the domain's; undefined when off. */
  private refreshRatio(ratio: number | false | undefined): number | undefined {
    if (ratio === false) return undefined;
    if (ratio === undefined) return this.domain.refreshAhead;
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) {
      throw new CacheArgumentError(nearMessages.badRefreshAhead('getOrSet "refreshAhead"', describe(ratio)));
    }
    return ratio;
  }

  /** How long a miss waits for another instance's load: the call's `wait`, at most the lease TTL. */
  private fleetWaitMs(wait: Duration | undefined): number {
    if (!this.domain.fleetSingleFlight) return 0;
    if (wait === undefined) return this.leaseTtlMs;
    return Math.min(waitToMs(wait, 'getOrSet "wait"'), this.leaseTtlMs);
  }

  private dropCorrupt(fullKey: string, entry: Buffer, error: CacheDecodeError): void {
    this.counters.corruptEntries++;
    this.counters.errors++;
    this.counters.errorKinds.corruptEntry++;
    this.log.warn('corrupt', messages.corruptEntry(this.domain.name, error.message));
    // Only these exact bytes: a valid value written meanwhile must survive. Commands on one
    // connection run in order, so a lease taken right after this sees the key already cleared.
    this.store.replaceIf(fullKey, entry, undefined, 0).catch(() => {
      // Left for its TTL; every read of it stays a miss.
    });
  }

  private degrade(operation: string, error: unknown): void {
    this.counters.errors++;
    this.counters.countKind(error);
    if (error instanceof CacheOverloadedError) this.counters.overloaded++;
    if ((error as CacheError | undefined)?.code === 'ELILE_CACHE_CIRCUIT_OPEN') this.counters.circuitOpen++;
    this.log.warn(operation, messages.cacheDegraded(this.domain.name, operation, reasonOf(error)));
  }

  private degradeWrite(operation: string, error: unknown): void {
    this.counters.errors++;
    this.counters.countKind(error);
    if (error instanceof CacheOverloadedError) this.counters.overloaded++;
    if ((error as CacheError | undefined)?.code === 'ELILE_CACHE_CIRCUIT_OPEN') this.counters.circuitOpen++;
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

  private ttlMs(ttl: Duration | undefined): number {
    return ttl === undefined ? this.domain.ttlMs : durationToMs(ttl, 'TTL');
  }
}

/** `ttlMs` moved by up to `jitter` of itself either way, uniformly; at least 1 ms. */
function jittered(ttlMs: number, jitter: number): number {
  return jitter === 0 ? ttlMs : Math.max(1, Math.round(ttlMs * (1 + jitter * (2 * Math.random() - 1))));
}

function reasonOf(error: unknown): string {
  return (error as CacheError)?.message ?? String(error);
}
