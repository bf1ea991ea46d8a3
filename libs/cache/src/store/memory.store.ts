import { LRUCache } from 'lru-cache';
import { globToRegExp } from '../redis/glob.util';
import type { CacheStore, StoreEntry } from './cache-store.interface';

/**
 * Entries in this process, with the Redis store's semantics (TTL, atomic lease operations, glob
 * patterns), for the demo's default and for users' unit tests. Bounded: the least recently used
 * entries are evicted past `maxEntries`. Not shared between processes.
 */
export class MemoryStore implements CacheStore {
  private readonly entries: LRUCache<string, Buffer>;

  constructor(maxEntries: number) {
    this.entries = new LRUCache<string, Buffer>({ max: maxEntries });
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.entries.get(key);
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | undefined>> {
    return keys.map((key) => this.entries.get(key));
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    this.entries.set(key, value, { ttl: ttlMs });
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
    if (current !== undefined) return current;
    this.entries.set(key, value, { ttl: ttlMs });
    return undefined;
  }

  async replaceIf(key: string, expected: Buffer, value: Buffer | undefined, ttlMs: number): Promise<boolean> {
    const current = this.entries.get(key);
    if (current === undefined || !current.equals(expected)) return false;
    if (value === undefined) this.entries.delete(key);
    else this.entries.set(key, value, { ttl: ttlMs });
    return true;
  }

  async deleteMatching(pattern: string): Promise<number> {
    const matcher = globToRegExp(pattern);
    // Collect first: deleting while iterating an LRU would skip entries.
    const matching = [...this.entries.keys()].filter((key) => matcher.test(key));
    return this.delete(matching);
  }
}
