import { LRUCache } from 'lru-cache';
import type { CacheCounters } from '../caches/cache-stats';
import type { EntryTiming } from '../codec/entry-codec';
import { freezeIfPlain } from './frozen-value';
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
 * A kept entry. Plain data is kept decoded and deep-frozen, so a hit costs neither a decode nor a
 * copy; a value holding a Date, Map, Set or Buffer (which freezing cannot protect) is kept as its
 * entry's bytes and decoded on each hit, so each caller gets its own copy.
 */
interface NearEntry {
  readonly frozen: unknown;
  readonly bytes: Buffer | undefined;
  readonly timing: EntryTiming | undefined;
  /** `performance.now()` after which the entry is dropped. */
  readonly deadline: number;
}

/** What a near hit gives: the value, and the timing its entry was written with. */
export interface NearHit<T> {
  readonly value: T;
  readonly timing: EntryTiming | undefined;
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

  constructor(
    private readonly settings: NearCacheSettings,
    private readonly channel: InvalidationChannel,
    private readonly counters: CacheCounters,
    private readonly decode: (bytes: Buffer) => T,
  ) {
    this.entries = new LRUCache<string, NearEntry>({
      max: settings.maxEntries,
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') counters.l1Evictions++;
      },
    });
    channel.listen((invalidated) => (invalidated === EVERY_KEY ? this.clear() : this.delete(invalidated)));
  }

  /** The kept value of `key`, counted as an L1 hit, or undefined (an L1 miss). */
  get(key: string): NearHit<T> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.deadline <= performance.now()) {
      if (entry !== undefined) this.entries.delete(key);
      this.counters.l1Misses++;
      return undefined;
    }
    this.counters.l1Hits++;
    return { value: entry.bytes ? this.decode(entry.bytes) : (entry.frozen as T), timing: entry.timing };
  }

  /**
   * Keeps a value just read from the store (its entry `bytes`), unless `watch` saw its key change
   * or the channel is down. Returns what the reader gets: the kept (frozen) value, or `value`.
   */
  keep(key: string, value: T, bytes: Buffer, timing: EntryTiming | undefined, watch: KeyWatch | undefined): T {
    if (!watch || watch.changed || !this.channel.isUp) return value;
    let lifeMs = this.settings.ttlMs;
    if (timing) lifeMs = Math.min(lifeMs, timing.expiresAt - Date.now());
    if (lifeMs <= 0) return value;
    const frozen = freezeIfPlain(value);
    this.entries.set(key, {
      frozen: frozen ? value : undefined,
      bytes: frozen ? undefined : bytes,
      timing,
      deadline: performance.now() + lifeMs,
    });
    return value;
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
