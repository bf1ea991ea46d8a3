import { LRUCache } from 'lru-cache';
import { globToRegExp } from '../redis/glob.util';
import type { CacheStore, EntryTags, StoreEntry, TagKeys } from './cache-store.interface';

/**
 * Entries in this process, with the Redis store's semantics (TTL, atomic lease operations, tags,
 * glob patterns), for the demo's default and for users' unit tests. Bounded: the least recently
 * used entries (and tag indexes) are evicted past `maxEntries`. Not shared between processes.
 */
export class MemoryStore implements CacheStore {
  private readonly entries: LRUCache<string, Buffer>;
  private readonly tagMembers: LRUCache<string, Set<string>>;
  private readonly tagInvalidatedAt: LRUCache<string, number>;

  constructor(maxEntries: number) {
    this.entries = new LRUCache<string, Buffer>({ max: maxEntries });
    this.tagMembers = new LRUCache<string, Set<string>>({ max: maxEntries });
    this.tagInvalidatedAt = new LRUCache<string, number>({ max: maxEntries });
  }

  // Reads return copies: decoded Buffers are views of the entry, and a caller changing one must
  // not change what the next reader gets (Redis hands out fresh bytes on every read).
  async get(key: string): Promise<Buffer | undefined> {
    return copy(this.entries.get(key));
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | undefined>> {
    return keys.map((key) => copy(this.entries.get(key)));
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: EntryTags): Promise<void> {
    this.entries.set(key, value, { ttl: ttlMs });
    this.indexTags(key, ttlMs, tags);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    for (const { key, value, ttlMs } of entries) this.entries.set(key, value, { ttl: ttlMs });
  }

  async delete(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) if (this.entries.delete(key)) deleted++;
    return deleted;
  }

  async peek(key: string): Promise<number | undefined> {
    return this.entries.get(key, { updateAgeOnGet: false })?.[0];
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    const current = this.entries.get(key);
    if (current !== undefined) return copy(current);
    this.entries.set(key, value, { ttl: ttlMs });
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
      return true;
    }
    if (tags && this.tagInvalidatedSinceLease(key, tags)) {
      this.entries.delete(key);
      return false;
    }
    this.entries.set(key, value, { ttl: ttlMs });
    this.indexTags(key, ttlMs, tags);
    return true;
  }

  async invalidateTags(tags: readonly TagKeys[], leaseTtlMs: number): Promise<number> {
    let deleted = 0;
    for (const { members, invalidatedAt } of tags) {
      deleted += await this.delete([...(this.tagMembers.get(members) ?? [])]);
      this.tagMembers.delete(members);
      this.tagInvalidatedAt.set(invalidatedAt, performance.now(), { ttl: leaseTtlMs + 1000 });
    }
    return deleted;
  }

  async deleteMatching(pattern: string): Promise<number> {
    const matcher = globToRegExp(pattern);
    // Collect first: deleting while iterating an LRU would skip entries.
    const matching = [...this.entries.keys()].filter((key) => matcher.test(key));
    return this.delete(matching);
  }

  private tagInvalidatedSinceLease(key: string, { tags, leaseTtlMs }: EntryTags): boolean {
    const leaseTakenAt = performance.now() - (leaseTtlMs - this.entries.getRemainingTTL(key));
    return tags.some(({ invalidatedAt }) => (this.tagInvalidatedAt.get(invalidatedAt) ?? -Infinity) >= leaseTakenAt);
  }

  private indexTags(key: string, ttlMs: number, tags: EntryTags | undefined): void {
    for (const { members } of tags?.tags ?? []) {
      const set = this.tagMembers.get(members) ?? new Set<string>();
      set.add(key);
      const remaining = this.tagMembers.getRemainingTTL(members);
      this.tagMembers.set(members, set, { ttl: Math.max(ttlMs, Number.isFinite(remaining) ? remaining : 0) });
    }
  }
}

function copy(bytes: Buffer | undefined): Buffer | undefined {
  return bytes && Buffer.from(bytes);
}
