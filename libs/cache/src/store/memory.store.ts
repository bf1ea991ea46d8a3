import { LRUCache } from 'lru-cache';
import { EntryCodec } from '../codec/entry-codec';
import { globToRegExp } from '../redis/glob.util';
import type { CacheStore, EntryHead, EntryTags, StoreEntry, TagKeys } from './cache-store.interface';

/** At most this many members are pruned from the front of a tag's index per write, as in Redis. */
const PRUNE_LIMIT = 100;
/** The fewest tag writes between two sweeps of every tag index. */
const MIN_SWEEP_INTERVAL = 1000;

/** An invalidation marker: when the tag was invalidated, and until when fills are checked against it. */
interface Invalidation {
  readonly at: number;
  readonly until: number;
}

/**
 * Entries in this process, with the Redis store's semantics (TTL, atomic lease operations, tags,
 * glob patterns), for the demo's default and for users' unit tests. Bounded: the least recently
 * used entries are evicted past `maxEntries`. Not shared between processes.
 *
 * Tag indexes and invalidation markers are not in an LRU: evicting them because other tags are
 * busy would make `invalidateTags` miss live entries, or accept fills it must refuse. They are
 * bounded by the live entries instead: a tag's index maps each member to its expiry and is pruned
 * of expired and deleted members when the tag is written and by a sweep of all tags every
 * `max(maxEntries, 1000)` tag writes; a marker lives as long as the Redis store keeps it.
 * Times are `performance.now()`, the clock the LRU expires entries by.
 *
 * Every change of an entry — written, replaced, deleted, evicted — is announced to `onChange`
 * listeners as it happens, as Redis's client-side tracking announces them (store-changes.channel.ts).
 */
export class MemoryStore implements CacheStore {
  private readonly entries: LRUCache<string, Buffer>;
  private readonly changeListeners = new Set<(keys: readonly string[]) => void>();
  /** Tag index key → (entry key → expiry). Kept in indexing order, so mostly in expiry order. */
  private readonly tagMembers = new Map<string, Map<string, number>>();
  /** Tag marker key → the last invalidation of the tag. */
  private readonly tagInvalidations = new Map<string, Invalidation>();
  private readonly sweepInterval: number;
  private tagWritesSinceSweep = 0;

  constructor(maxEntries: number) {
    // ttlResolution 0: by default the LRU reuses its clock reading until a 1 ms timer fires, which
    // never happens in a run of calls without I/O; a lease would then look just taken, and
    // `replaceIf` would accept a fill whose lease began before an invalidation.
    this.entries = new LRUCache<string, Buffer>({
      max: maxEntries,
      ttlResolution: 0,
      dispose: (_value, key, reason) => {
        if (reason === 'evict') this.changed([key]);
      },
    });
    // Between sweeps at most this many dead members accumulate; sweeping costs the size of all
    // indexes, so this interval keeps it O(1) per write on average.
    this.sweepInterval = Math.max(maxEntries, MIN_SWEEP_INTERVAL);
  }

  /** Calls `listener` with the keys of every change until the returned function is called. */
  onChange(listener: (keys: readonly string[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  // Reads return copies: decoded Buffers are views of the entry, and a caller changing one must
  // not change what the next reader gets (Redis hands out fresh bytes on every read).
  async get(key: string): Promise<Buffer | undefined> {
    return copy(this.entries.get(key));
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | undefined>> {
    return keys.map((key) => copy(this.entries.get(key)));
  }

  // A new TTL is no change of the value: nothing is announced (near caches keep what they hold).
  async getAndExpire(key: string, ttlMs: number): Promise<Buffer | undefined> {
    const entry = this.entries.get(key);
    if (entry !== undefined) this.entries.set(key, entry, { ttl: ttlMs });
    return copy(entry);
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: EntryTags): Promise<void> {
    this.entries.set(key, value, { ttl: ttlMs });
    this.indexTags(key, ttlMs, tags);
    this.changed([key]);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    for (const { key, value, ttlMs } of entries) this.entries.set(key, value, { ttl: ttlMs });
    this.changed(entries.map(({ key }) => key));
  }

  async delete(keys: readonly string[]): Promise<number> {
    const deleted = keys.filter((key) => this.entries.delete(key));
    this.changed(deleted);
    return deleted.length;
  }

  async peek(key: string, headLength: number): Promise<EntryHead | undefined> {
    const entry = this.entries.get(key, { updateAgeOnGet: false });
    if (!entry?.length) return undefined;
    return { head: Buffer.from(entry.subarray(0, headLength)), length: entry.length };
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    const current = this.entries.get(key);
    if (current !== undefined) return copy(current);
    this.entries.set(key, value, { ttl: ttlMs });
    this.changed([key]);
    return undefined;
  }

  async replaceIf(
    key: string,
    expected: Buffer,
    value: Buffer | undefined,
    ttlMs: number,
    tags?: EntryTags,
  ): Promise<boolean> {
    const current = this.entries.get(key);
    if (current === undefined || !current.equals(expected)) return false;
    if (value === undefined) {
      this.entries.delete(key);
      this.changed([key]);
      return true;
    }
    if (tags && this.tagInvalidatedSinceLease(key, tags)) {
      this.entries.delete(key);
      this.changed([key]);
      return false;
    }
    this.entries.set(key, value, { ttl: ttlMs });
    this.indexTags(key, ttlMs, tags);
    this.changed([key]);
    return true;
  }

  async invalidateTags(tags: readonly TagKeys[], leaseTtlMs: number): Promise<number> {
    const now = performance.now();
    // Remembered a little longer than any lease lives, so every fill that began before is refused.
    for (const { invalidatedAt } of tags) {
      this.tagInvalidations.set(invalidatedAt, { at: now, until: now + leaseTtlMs + 1000 });
      this.countTagWrite(now);
    }
    const deleted: string[] = [];
    for (const { members } of tags) {
      const index = this.tagMembers.get(members);
      this.tagMembers.delete(members);
      for (const [key, expiresAt] of index ?? []) {
        // An expired member's entry is gone; a value now under its key was written without this
        // tag (Redis skips these too). Stale LRU entries are not counted: Redis would not count them.
        if (expiresAt <= now || !this.entries.has(key)) continue;
        this.entries.delete(key);
        deleted.push(key);
      }
    }
    this.changed(deleted);
    return deleted.length;
  }

  async expireEntries(keys: readonly string[], expiredAt: Buffer, graceMs: number): Promise<number> {
    let expired = 0;
    for (const key of keys) if (this.expireEntry(key, expiredAt, graceMs)) expired++;
    return expired;
  }

  async expireTagged(
    tags: readonly TagKeys[],
    expiredAt: Buffer,
    graceMs: number,
    leaseTtlMs: number,
  ): Promise<number> {
    const now = performance.now();
    for (const { invalidatedAt } of tags) {
      this.tagInvalidations.set(invalidatedAt, { at: now, until: now + leaseTtlMs + 1000 });
      this.countTagWrite(now);
    }
    let expired = 0;
    for (const { members } of tags) {
      for (const key of [...(this.tagMembers.get(members)?.keys() ?? [])]) {
        if (this.expireEntry(key, expiredAt, graceMs)) expired++;
      }
    }
    return expired;
  }

  async deleteMatching(pattern: string): Promise<number> {
    const matcher = globToRegExp(pattern);
    // Collect first: deleting while iterating an LRU would skip entries.
    const matching = [...this.entries.keys()].filter((key) => matcher.test(key));
    return this.delete(matching);
  }

  /** The Redis store's EXPIRE_ENTRY script, on this store's bytes. */
  private expireEntry(key: string, expiredAt: Buffer, graceMs: number): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    const timed =
      entry[0] === EntryCodec.MARK &&
      entry[1] !== 0 &&
      entry.length >= EntryCodec.TIMED_HEAD_LENGTH &&
      (entry[2] & 0b10) !== 0;
    if (!timed) {
      this.entries.delete(key);
    } else {
      const expired = Buffer.from(entry);
      expiredAt.copy(expired, EntryCodec.HEAD_LENGTH);
      const left = this.entries.getRemainingTTL(key);
      this.entries.set(key, expired, { ttl: Math.min(left, graceMs) });
    }
    this.changed([key]);
    return true;
  }

  private changed(keys: readonly string[]): void {
    if (keys.length === 0) return;
    for (const listener of this.changeListeners) listener(keys);
  }

  private tagInvalidatedSinceLease(key: string, { tags, leaseTtlMs, leaseKey }: EntryTags): boolean {
    const now = performance.now();
    const leaseTakenAt = now - (leaseTtlMs - this.entries.getRemainingTTL(leaseKey ?? key));
    return tags.some(({ invalidatedAt }) => {
      const invalidation = this.tagInvalidations.get(invalidatedAt);
      return invalidation !== undefined && invalidation.until > now && invalidation.at >= leaseTakenAt;
    });
  }

  private indexTags(key: string, ttlMs: number, tags: EntryTags | undefined): void {
    if (!tags?.tags.length) return;
    const now = performance.now();
    for (const { members } of tags.tags) {
      let index = this.tagMembers.get(members);
      if (index === undefined) this.tagMembers.set(members, (index = new Map()));
      else this.pruneFront(index, now);
      // Moved to the end with its new expiry: with one TTL per domain, the order stays the expiry
      // order, which lets pruneFront stop at the first live member.
      index.delete(key);
      index.set(key, now + ttlMs);
      this.countTagWrite(now);
    }
  }

  /**
   * Drops dead members from the front of a tag's index: at most PRUNE_LIMIT, and none past the
   * first live one (those behind it are left to the sweep), so a write does bounded work.
   */
  private pruneFront(index: Map<string, number>, now: number): void {
    let checked = 0;
    // Deleting the entry being visited is safe while iterating a Map.
    for (const [key, expiresAt] of index) {
      if (checked++ === PRUNE_LIMIT || !this.isDeadMember(key, expiresAt, now)) return;
      index.delete(key);
    }
  }

  private countTagWrite(now: number): void {
    if (++this.tagWritesSinceSweep < this.sweepInterval) return;
    this.tagWritesSinceSweep = 0;
    for (const [members, index] of this.tagMembers) {
      for (const [key, expiresAt] of index) if (this.isDeadMember(key, expiresAt, now)) index.delete(key);
      if (index.size === 0) this.tagMembers.delete(members);
    }
    for (const [marker, { until }] of this.tagInvalidations) if (until <= now) this.tagInvalidations.delete(marker);
  }

  /** Expired, or its entry deleted or evicted: invalidating the tag would delete nothing for it. */
  private isDeadMember(key: string, expiresAt: number, now: number): boolean {
    return expiresAt <= now || !this.entries.has(key);
  }
}

function copy(bytes: Buffer | undefined): Buffer | undefined {
  return bytes && Buffer.from(bytes);
}
