import type { Redis } from 'ioredis';
import { CacheCommandError, CacheInvalidationIncompleteError } from '../cache.errors';
import { messages } from '../cache.messages';
import { EntryCodec } from '../codec/entry-codec';
import type { RedisClient } from '../redis/redis.client';
import type { CacheStore, EntryHead, EntryTags, StoreEntry, TagKeys } from './cache-store.interface';

// Untagged entries touch a single key, so these scripts run unchanged on a Redis Cluster. Tagged
// writes also touch the tags' keys (KEYS[2..], in pairs: members, invalidatedAt), which need not
// share the entry's slot, and invalidation deletes the members, keys it does not declare in KEYS:
// tags are for a standalone Redis (or one primary) until the scale-out work gives them per-slot
// indexes.
//
// A tag's index is a sorted set of the full keys of its entries, scored by each entry's expiry
// (server time, ms). Expired members are pruned as the tag is written, so the index holds about
// the tag's live entries rather than every key it ever had; the index key itself lives as long as
// its longest-lived member.
const NOW_MS = `local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(n) return string.format('%.0f', n) end`;

/** The most members one script call removes from tag indexes, so that no call blocks Redis long. */
const TAG_BATCH = 500;
/**
 * The most tags one script call marks or reads, so that invalidating thousands of tags at once
 * still runs as short calls (and no call carries an unbounded argument list).
 */
const TAGS_PER_CALL = 500;
/**
 * The most expired members one write prunes from a tag's index. Each write adds at most one, so
 * pruning outpaces growth, and a write after a burst of expiries still does bounded work.
 */
const PRUNE_LIMIT = 100;

// Removes up to `limit` members whose score is below `now` (the lowest ranks); returns how many.
const PRUNE_EXPIRED = `local function pruneExpired(key, now, limit)
  local expired = math.min(redis.call('ZCOUNT', key, '-inf', '(' .. ms(now)), limit)
  if expired > 0 then redis.call('ZREMRANGEBYRANK', key, 0, expired - 1) end
  return expired
end`;

const INDEX_TAGS = `${PRUNE_EXPIRED}
local function indexTags(ttlMs, lastTagKey)
  local now = nowMs()
  for i = 2, lastTagKey, 2 do
    pruneExpired(KEYS[i], now, ${PRUNE_LIMIT})
    redis.call('ZADD', KEYS[i], ms(now + ttlMs), KEYS[1])
    if redis.call('PTTL', KEYS[i]) < ttlMs then redis.call('PEXPIRE', KEYS[i], ttlMs) end
  end
end`;

// Every lease this module writes has a TTL. One without (another program made it persistent)
// would hold the key for good — every reader loading without storing, nothing counted — so it
// counts as absent. A lease is recognised as the new one is built: same length, same header.
// Other bytes are returned, for the cache to count and drop them.
const SET_IF_ABSENT = `
local current = redis.call('GET', KEYS[1])
if current then
  local lease = ARGV[1]
  local persistedLease = #current == #lease
    and string.sub(current, 1, ${EntryCodec.HEAD_LENGTH}) == string.sub(lease, 1, ${EntryCodec.HEAD_LENGTH})
    and redis.call('PTTL', KEYS[1]) < 0
  if not persistedLease then return current end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

// ARGV: expected, ttlMs or 'delete', value, leaseTtlMs, '1' when the last key is the lease that
// dates the load (a refresh-ahead's; otherwise the lease is KEYS[1] itself)
const REPLACE_IF = `${NOW_MS}
${INDEX_TAGS}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'delete' then redis.call('DEL', KEYS[1]) return 1 end
local lastTagKey = #KEYS
local leaseKey = KEYS[1]
if ARGV[5] == '1' then
  leaseKey = KEYS[#KEYS]
  lastTagKey = #KEYS - 1
end
if lastTagKey > 1 then
  local leaseTakenAt = nowMs() - (tonumber(ARGV[4]) - redis.call('PTTL', leaseKey))
  for i = 3, lastTagKey, 2 do
    local invalidatedAt = redis.call('GET', KEYS[i])
    if invalidatedAt and tonumber(invalidatedAt) >= leaseTakenAt then
      redis.call('DEL', KEYS[1])
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
indexTags(tonumber(ARGV[2]), lastTagKey)
return 1`;

// ARGV: value, ttlMs
const SET_TAGGED = `${NOW_MS}
${INDEX_TAGS}
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
indexTags(tonumber(ARGV[2]), #KEYS)
return 1`;

// The first step of an invalidation, before any entry is deleted: fills whose lease began before
// this moment are refused from now on (REPLACE_IF compares the marker with the lease start).
// KEYS: the tags' invalidatedAt keys; ARGV: how long to remember the invalidation (ms)
const MARK_TAGS_INVALIDATED = `${NOW_MS}
local now = ms(nowMs())
for i = 1, #KEYS do redis.call('SET', KEYS[i], now, 'PX', ARGV[1]) end
return 1`;

// Then, called until every index is empty: deletes up to ARGV[1] members, taken from the tags'
// indexes (KEYS) in order, and their entries, so that one call serves many small tags and a large
// tag takes several short calls. Expired members are only dropped from the index: their entry is
// gone, and a value now under such a key was written later without this tag.
// Returns { entries deleted, how many leading indexes are now empty }.
const DELETE_TAGGED_BATCH = `${NOW_MS}
${PRUNE_EXPIRED}
local budget = tonumber(ARGV[1])
local now = nowMs()
local deleted = 0
local drained = 0
for i = 1, #KEYS do
  if budget <= 0 then break end
  budget = budget - pruneExpired(KEYS[i], now, budget)
  if budget > 0 then
    local members = redis.call('ZRANGE', KEYS[i], 0, budget - 1)
    if #members > 0 then
      redis.call('ZREMRANGEBYRANK', KEYS[i], 0, #members - 1)
      deleted = deleted + redis.call('UNLINK', unpack(members))
      budget = budget - #members
    end
  end
  if redis.call('ZCARD', KEYS[i]) > 0 then break end
  drained = i
end
return { deleted, drained }`;

// Soft expiry of the entry at `key` (see CacheStore.expireEntries); the header layout is
// EntryCodec's: mark, codec id, flags (0b10: timed), length, then the expiry from byte 8 (1-based).
const EXPIRE_ENTRY_FUNCTION = `local function expireEntry(key, expiredAt, graceMs)
  local entry = redis.call('GET', key)
  if not entry then return 0 end
  local mark, codec, flags = string.byte(entry, 1, 3)
  if mark == ${EntryCodec.MARK} and codec ~= 0 and #entry >= ${EntryCodec.TIMED_HEAD_LENGTH} and flags % 4 >= 2 then
    redis.call('SETRANGE', key, ${EntryCodec.HEAD_LENGTH}, expiredAt)
    local left = redis.call('PTTL', key)
    if left < 0 or left > graceMs then redis.call('PEXPIRE', key, graceMs) end
    return 1
  end
  redis.call('DEL', key)
  return 1
end`;

// KEYS: entries; ARGV: expiredAt, graceMs
const EXPIRE_ENTRIES = `${EXPIRE_ENTRY_FUNCTION}
local expired = 0
for i = 1, #KEYS do expired = expired + expireEntry(KEYS[i], ARGV[1], tonumber(ARGV[2])) end
return expired`;

// KEYS: one tag index; ARGV: first rank, how many, expiredAt, graceMs. Returns { expired, next
// rank or -1 when the index is done }.
const EXPIRE_TAGGED_BATCH = `${EXPIRE_ENTRY_FUNCTION}
local first = tonumber(ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[2]) - 1)
local expired = 0
for i = 1, #members do expired = expired + expireEntry(members[i], ARGV[3], tonumber(ARGV[4])) end
if #members < tonumber(ARGV[2]) then return { expired, -1 } end
return { expired, first + #members }`;

// ARGV: how many leading bytes. One script, so that the head and the length describe one entry.
const PEEK = `
local length = redis.call('STRLEN', KEYS[1])
if length == 0 then return false end
return { redis.call('GETRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1), length }`;

interface ScriptCommands {
  elilePeekBuffer(key: string, headLength: number): Promise<[head: Buffer, length: number] | null>;
  elileSetIfAbsentBuffer(key: string, value: Buffer, ttlMs: number): Promise<Buffer | null>;
  elileReplaceIf(numberOfKeys: number, ...args: Array<string | Buffer | number>): Promise<number>;
  elileSetTagged(numberOfKeys: number, ...args: Array<string | Buffer | number>): Promise<number>;
  elileMarkTagsInvalidated(numberOfKeys: number, ...args: Array<string | number>): Promise<number>;
  elileDeleteTaggedBatch(
    numberOfKeys: number,
    ...args: Array<string | number>
  ): Promise<[deleted: number, drained: number]>;
  elileExpireEntries(numberOfKeys: number, ...args: Array<string | number | Buffer>): Promise<number>;
  elileExpireTaggedBatch(
    key: string,
    first: number,
    count: number,
    expiredAt: Buffer,
    graceMs: number,
  ): Promise<[expired: number, next: number]>;
}

const tagKeys = (tags: EntryTags | undefined): string[] =>
  tags ? tags.tags.flatMap(({ members, invalidatedAt }) => [members, invalidatedAt]) : [];

/**
 * The Redis store. Scripts are registered with ioredis's `defineCommand`, which runs them by SHA
 * and falls back to EVAL when Redis has lost its script cache (restart, failover, SCRIPT FLUSH).
 * They are never sent inside MULTI, where ioredis cannot recover from NOSCRIPT.
 */
export class RedisStore implements CacheStore {
  private readonly scripts: ScriptCommands;

  constructor(private readonly client: RedisClient) {
    const connection = client.connection as Redis;
    if (!('elileReplaceIf' in connection)) {
      connection.defineCommand('elilePeek', { numberOfKeys: 1, lua: PEEK });
      connection.defineCommand('elileSetIfAbsent', { numberOfKeys: 1, lua: SET_IF_ABSENT });
      connection.defineCommand('elileReplaceIf', { lua: REPLACE_IF });
      connection.defineCommand('elileSetTagged', { lua: SET_TAGGED });
      connection.defineCommand('elileMarkTagsInvalidated', { lua: MARK_TAGS_INVALIDATED });
      connection.defineCommand('elileDeleteTaggedBatch', { lua: DELETE_TAGGED_BATCH });
      connection.defineCommand('elileExpireEntries', { lua: EXPIRE_ENTRIES });
      connection.defineCommand('elileExpireTaggedBatch', { numberOfKeys: 1, lua: EXPIRE_TAGGED_BATCH });
    }
    this.scripts = connection as unknown as ScriptCommands;
  }

  get(key: string): Promise<Buffer | null> {
    return this.client.run('get', () => this.client.connection.getBuffer(key));
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | null>> {
    if (keys.length === 0) return [];
    return this.client.run('mget', () => this.client.connection.mgetBuffer(...keys));
  }

  getAndExpire(key: string, ttlMs: number): Promise<Buffer | null> {
    return this.client.run('getex', () => this.client.connection.getexBuffer(key, 'PX', ttlMs));
  }

  async set(key: string, value: Buffer, ttlMs: number, tags?: EntryTags): Promise<void> {
    if (tags?.tags.length) {
      const keys = [key, ...tagKeys(tags)];
      await this.client.run('evalsha', () => this.scripts.elileSetTagged(keys.length, ...keys, value, ttlMs));
      return;
    }
    await this.client.run('set', () => this.client.connection.set(key, value, 'PX', ttlMs));
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.client.connection.pipeline();
    for (const { key, value, ttlMs } of entries) pipeline.set(key, value, 'PX', ttlMs);
    await this.client.run('set', async () => {
      const replies = await pipeline.exec();
      const failure = replies?.find(([error]) => error)?.[0];
      if (failure) throw failure;
    });
  }

  async delete(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.client.run('unlink', () => this.client.connection.unlink(...keys));
  }

  async peek(key: string, headLength: number): Promise<EntryHead | undefined> {
    const found = await this.client.run('evalsha', () => this.scripts.elilePeekBuffer(key, headLength), 'read');
    return found ? { head: found[0], length: found[1] } : undefined;
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    return (
      (await this.client.run('evalsha', () => this.scripts.elileSetIfAbsentBuffer(key, value, ttlMs))) ?? undefined
    );
  }

  async replaceIf(
    key: string,
    expected: Buffer,
    value: Buffer | undefined,
    ttlMs: number,
    tags?: EntryTags,
  ): Promise<boolean> {
    const keys = [key, ...tagKeys(tags)];
    const datedByOtherLease = tags?.leaseKey !== undefined && tags.tags.length > 0;
    if (datedByOtherLease) keys.push(tags.leaseKey!);
    const args =
      value === undefined
        ? [expected, 'delete']
        : [expected, ttlMs, value, tags?.leaseTtlMs ?? 0, datedByOtherLease ? '1' : '0'];
    const replaced = await this.client.run('evalsha', () => this.scripts.elileReplaceIf(keys.length, ...keys, ...args));
    return replaced === 1;
  }

  /**
   * Marks every tag invalidated first, then deletes the tags' entries in batches of TAG_BATCH
   * members, one short script call each, so that a large tag does not block Redis for the length
   * of it. Many small tags share a call (up to TAGS_PER_CALL tags each): invalidating 100 tags of
   * a few entries is two round trips, not one per tag. Writes to a tag after the marker are fresh;
   * a batch may delete some of them too (a miss, never a stale read). The loop ends: a batch
   * removes more members than tagged writes can add between two calls. A failure part-way leaves
   * the rest indexed, so calling again finishes the job.
   */
  async invalidateTags(tags: readonly TagKeys[], leaseTtlMs: number): Promise<number> {
    if (tags.length === 0) return 0;
    if (await this.markTagsInvalidated(tags, leaseTtlMs)) return this.deleteTagged(tags);
    // Redis is full, and the marker is a write it refuses; deletions free memory and still run.
    let deleted = await this.deleteTagged(tags);
    if (!(await this.markTagsInvalidated(tags, leaseTtlMs))) {
      throw new CacheInvalidationIncompleteError(messages.tagMarkerNotRecorded(deleted), deleted);
    }
    // Recorded late: a fill that began before the invalidation may have landed between the
    // deletion and the marker. The marker refuses every later one; this removes those.
    deleted += await this.deleteTagged(tags);
    return deleted;
  }

  /**
   * Records the invalidation time of each tag; false when Redis refused the write because it is
   * out of memory (`maxmemory` with `noeviction`).
   */
  private async markTagsInvalidated(tags: readonly TagKeys[], leaseTtlMs: number): Promise<boolean> {
    const markers = tags.map(({ invalidatedAt }) => invalidatedAt);
    const calls: Array<Promise<number>> = [];
    for (let start = 0; start < markers.length; start += TAGS_PER_CALL) {
      const chunk = markers.slice(start, start + TAGS_PER_CALL);
      // Remembered a little longer than any lease lives, so every fill that began before is refused.
      calls.push(
        this.client.run('evalsha', () =>
          this.scripts.elileMarkTagsInvalidated(chunk.length, ...chunk, leaseTtlMs + 1000),
        ),
      );
    }
    const failures = (await Promise.allSettled(calls)).flatMap((outcome) =>
      outcome.status === 'rejected' ? [outcome.reason as unknown] : [],
    );
    const isOutOfMemory = (error: unknown) => error instanceof CacheCommandError && error.isOutOfMemory;
    const other = failures.find((error) => !isOutOfMemory(error));
    if (other !== undefined) throw other;
    return failures.length === 0;
  }

  private async deleteTagged(tags: readonly TagKeys[]): Promise<number> {
    let deleted = 0;
    let left = tags.map(({ members }) => members);
    while (left.length > 0) {
      const keys = left.slice(0, TAGS_PER_CALL);
      const [batchDeleted, drained] = await this.client.run('evalsha', () =>
        this.scripts.elileDeleteTaggedBatch(keys.length, ...keys, TAG_BATCH),
      );
      deleted += batchDeleted;
      left = left.slice(drained);
    }
    return deleted;
  }

  async expireEntries(keys: readonly string[], expiredAt: Buffer, graceMs: number): Promise<number> {
    // One key per call, so that it runs unchanged on a Redis Cluster; the calls are pipelined.
    const counts = await Promise.all(
      keys.map((key) => this.client.run('evalsha', () => this.scripts.elileExpireEntries(1, key, expiredAt, graceMs))),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async expireTagged(
    tags: readonly TagKeys[],
    expiredAt: Buffer,
    graceMs: number,
    leaseTtlMs: number,
  ): Promise<number> {
    if (tags.length === 0) return 0;
    if (!(await this.markTagsInvalidated(tags, leaseTtlMs))) {
      throw new CacheInvalidationIncompleteError(messages.tagMarkerNotRecorded(0), 0);
    }
    let expired = 0;
    for (const { members } of tags) {
      for (let first = 0; first >= 0;) {
        const [batch, next] = await this.client.run('evalsha', () =>
          this.scripts.elileExpireTaggedBatch(members, first, TAG_BATCH, expiredAt, graceMs),
        );
        expired += batch;
        first = next;
      }
    }
    return expired;
  }

  deleteMatching(pattern: string): Promise<number> {
    return this.client.deletePattern(pattern);
  }
}
