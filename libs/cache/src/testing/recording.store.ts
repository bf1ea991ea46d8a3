import { MemoryStore } from '../store/memory.store';
import type { EntryTags, StoreEntry } from '../store/cache-store.interface';

/** A key a value was written under, and the TTL it was written with. */
export interface RecordedWrite {
  readonly key: string;
  readonly ttlMs: number;
}

/**
 * The store of `CacheTestingModule`: the memory store itself (so everything that knows the memory
 * store — the near cache's change channel among them — treats it as one), plus a record of which
 * keys were written and with what TTL, so that tests can list a domain's entries (no store offers
 * a key listing). The record only grows on writes; whether a key still holds a value is asked of
 * the store on each read, so deletes, invalidations, evictions and expiry need no bookkeeping.
 */
export class RecordingStore extends MemoryStore {
  private readonly writes = new Map<string, number>();

  /** Keys written so far (some may hold nothing any more), with the TTL of their last write. */
  written(): RecordedWrite[] {
    return [...this.writes].map(([key, ttlMs]) => ({ key, ttlMs }));
  }

  /** The TTL `key` was last written (or had its expiry moved) with, if it was written. */
  ttlOf(key: string): number | undefined {
    return this.writes.get(key);
  }

  override async getAndExpire(key: string, ttlMs: number): Promise<Buffer | undefined> {
    const found = await super.getAndExpire(key, ttlMs);
    if (found !== undefined) this.writes.set(key, ttlMs);
    return found;
  }

  override async set(key: string, value: Buffer, ttlMs: number, tags?: EntryTags): Promise<void> {
    await super.set(key, value, ttlMs, tags);
    this.writes.set(key, ttlMs);
  }

  override async setMany(entries: readonly StoreEntry[]): Promise<void> {
    await super.setMany(entries);
    for (const { key, ttlMs } of entries) this.writes.set(key, ttlMs);
  }

  override async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    const holder = await super.setIfAbsent(key, value, ttlMs);
    if (holder === undefined) this.writes.set(key, ttlMs);
    return holder;
  }

  override async replaceIf(
    key: string,
    expected: Buffer,
    value: Buffer | undefined,
    ttlMs: number,
    tags?: EntryTags,
  ): Promise<boolean> {
    const replaced = await super.replaceIf(key, expected, value, ttlMs, tags);
    if (replaced && value !== undefined) this.writes.set(key, ttlMs);
    return replaced;
  }
}
