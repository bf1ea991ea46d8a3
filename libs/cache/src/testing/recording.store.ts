import type { CacheStore, EntryHead, EntryTags, StoreEntry, TagKeys } from '../store/cache-store.interface';

/** A key a value was written under, and the TTL it was written with. */
export interface RecordedWrite {
  readonly key: string;
  readonly ttlMs: number;
}

/**
 * The store of `CacheTestingModule`: the memory store, plus a record of which keys were written
 * and with what TTL, so that tests can list a domain's entries (no store offers a key listing).
 * The record only grows on writes; whether a key still holds a value is asked of the store on
 * each read, so deletes, invalidations, evictions and expiry need no bookkeeping here.
 */
export class RecordingStore implements CacheStore {
  private readonly writes = new Map<string, number>();

  constructor(private readonly inner: CacheStore) {}

  /** Keys written so far (some may hold nothing any more), with the TTL of their last write. */
  written(): RecordedWrite[] {
    return [...this.writes].map(([key, ttlMs]) => ({ key, ttlMs }));
  }

  /** The TTL `key` was last written with, if it was written. */
  ttlOf(key: string): number | undefined {
    return this.writes.get(key);
  }

  get(key: string): Promise<Buffer | null | undefined> {
    return this.inner.get(key);
  }

  getMany(keys: readonly string[]): Promise<Array<Buffer | null | undefined>> {
    return this.inner.getMany(keys);
  }

  async getAndExpire(key: string, ttlMs: number): Promise<Buffer | null | undefined> {
    const entry = await this.inner.getAndExpire(key, ttlMs);
    // The entry found now lives ttlMs, as if written with it.
    if (entry != null) this.writes.set(key, ttlMs);
    return entry;
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: EntryTags): Promise<void> {
    await this.inner.set(key, value, ttlMs, tags);
    this.writes.set(key, ttlMs);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    await this.inner.setMany(entries);
    for (const { key, ttlMs } of entries) this.writes.set(key, ttlMs);
  }

  delete(keys: readonly string[]): Promise<number> {
    return this.inner.delete(keys);
  }

  peek(key: string, headLength: number): Promise<EntryHead | undefined> {
    return this.inner.peek(key, headLength);
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    const holder = await this.inner.setIfAbsent(key, value, ttlMs);
    if (holder === undefined) this.writes.set(key, ttlMs);
    return holder;
  }

  async replaceIf(
    key: string,
    expected: Buffer,
    value: Buffer | undefined,
    ttlMs: number,
    tags?: EntryTags,
  ): Promise<boolean> {
    const replaced = await this.inner.replaceIf(key, expected, value, ttlMs, tags);
    if (replaced && value !== undefined) this.writes.set(key, ttlMs);
    return replaced;
  }

  invalidateTags(tags: readonly TagKeys[], leaseTtlMs: number): Promise<number> {
    return this.inner.invalidateTags(tags, leaseTtlMs);
  }

  deleteMatching(pattern: string): Promise<number> {
    return this.inner.deleteMatching(pattern);
  }
}
