import { LRUCache } from 'lru-cache';
import type { CacheCounters } from '../caches/cache-stats';
import type { FailSafe } from '../caches/fail-safe';
import type { EntryTiming } from '../codec/entry-codec';
import { immutable } from './frozen-value';
import { EVERY_KEY, type InvalidationChannel } from './invalidation-channel';
import type { KeyWatch } from './key-watches';

/** Settings of one domain's near cache. */
export interface NearCacheSettings {
  /** Most entries kept; the least recently used go first. */
  readonly maxEntries: number;
  /** Longest an entry is kept, whatever its own TTL. */
  readonly ttlMs: number;
}

/**
 * A kept entry. Values are kept decoded and immutable (see frozen-value.ts), so a hit costs
 * neither a decode nor a copy; a value that cannot be made immutable (a Buffer, a typed array, a
 * class instance) is kept as its entry's bytes and decoded on each hit, so each caller gets its
 * own copy.
 */
interface NearEntry {
  readonly frozen: unknown;
  readonly bytes: Buffer | undefined;
  readonly timing: EntryTiming | undefined;
  /** `performance.now()` after which the entry is dropped. */
  readonly deadline: number;
  /** The channel epoch it was kept in; an older one may have missed an invalidation. */
  readonly epoch: number;
}

/** What a near hit gives: the value, and the timing its entry was written with. */
export interface NearHit<T> {
  readonly value: T;
  readonly timing: EntryTiming | undefined;
  /** Past its TTL, kept for fail-safe (`grace`): a fallback, not a hit. */
  readonly stale: boolean;
}

/**
 * One domain's in-process copy of recently read entries, in front of the shared store, kept
 * coherent by an invalidation channel: a key changed anywhere is dropped here when its
 * invalidation arrives, every key is dropped when the channel goes down or comes back, and
 * nothing is kept while it is down.
 *
 * A read may only be kept when no invalidation of its key arrived between sending the read and
 * keeping its answer (a `KeyWatch` taken before sending): otherwise an answer overtaken by the
 * invalidation of a newer write would be kept after that invalidation, for good.
 */
export class NearCache<T> {
  private readonly entries: LRUCache<string, NearEntry>;
  /**
   * Bumped when every key may have changed unheard (the channel went down or came back, or the
   * dataset was flushed). With fail-safe, entries of older epochs are kept as stale fallbacks —
   * within their grace, which is all fail-safe ever promises — instead of being dropped.
   */
  private epoch = 0;

  constructor(
    private readonly settings: NearCacheSettings,
    private readonly channel: InvalidationChannel,
    private readonly counters: CacheCounters,
    private readonly decode: (bytes: Buffer) => T,
    /** Entries of a domain with `grace` are kept through it, as fail-safe fallbacks. */
    private readonly failSafe?: FailSafe,
  ) {
    this.entries = new LRUCache<string, NearEntry>({
      max: settings.maxEntries,
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') counters.l1Evictions++;
      },
    });
    channel.listen((invalidated) => {
      if (invalidated !== EVERY_KEY) return this.delete(invalidated);
      if (!failSafe?.graceMs) return this.clear();
      this.counters.l1Invalidations += this.entries.size;
      this.epoch++;
    });
  }

  /** The kept value of `key`, counted as an L1 hit (a stale one as a miss), or undefined (a miss). */
  get(key: string): NearHit<T> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.deadline <= performance.now()) {
      if (entry !== undefined) this.entries.delete(key);
      this.counters.l1Misses++;
      return undefined;
    }
    const stale = entry.epoch !== this.epoch || (this.failSafe?.isStale(entry.timing) ?? false);
    if (stale) this.counters.l1Misses++;
    else this.counters.l1Hits++;
    // Decoded from a copy: a decoded Buffer is a view of the bytes it came from, and a caller
    // writing into it would change what the next hit decodes.
    return {
      value: entry.bytes ? this.decode(Buffer.from(entry.bytes)) : (entry.frozen as T),
      timing: entry.timing,
      stale,
    };
  }

  /**
   * Keeps a value just read from the store (its entry `bytes`), unless `watch` saw its key change
   * or the channel is down. Returns what the reader gets: the kept (immutable) value, or `value`.
   */
  keep(key: string, value: T, bytes: Buffer, timing: EntryTiming | undefined, watch: KeyWatch | undefined): T {
    if (!watch || watch.changed || !this.channel.isUp) return value;
    let lifeMs = this.settings.ttlMs;
    if (timing) lifeMs = Math.min(lifeMs, timing.expiresAt + (this.failSafe?.graceMs ?? 0) - Date.now());
    if (lifeMs <= 0) return value;
    const frozen = immutable(value);
    // The reader's own value may be a view of `bytes`: the kept bytes must be a copy of their own.
    const kept = frozen === undefined ? Buffer.from(bytes) : undefined;
    this.entries.set(key, { frozen, bytes: kept, timing, deadline: performance.now() + lifeMs, epoch: this.epoch });
    return frozen ?? value;
  }

  /** Drops `keys`: this process is writing them. */
  delete(keys: readonly string[]): void {
    for (const key of keys) if (this.entries.delete(key)) this.counters.l1Invalidations++;
  }

  /** Drops the kept keys that `matcher` matches. */
  deleteMatching(matcher: RegExp): void {
    // Collected first: deleting while iterating an LRU would skip entries.
    const matching = [...this.entries.keys()].filter((key) => matcher.test(key));
    this.delete(matching);
  }

  clear(): void {
    this.counters.l1Invalidations += this.entries.size;
    this.entries.clear();
  }

  /** How many entries are kept. */
  get size(): number {
    return this.entries.size;
  }
}
