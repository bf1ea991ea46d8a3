import type { Redis } from 'ioredis';
import type { RedisClient } from '../redis/redis.client';
import type { CacheStore, EntryTags, StoreEntry, TagKeys } from './cache-store.interface';

// Untagged entries touch a single key, so these scripts run unchanged on a Redis Cluster. Tagged
// writes also touch the tags' keys (KEYS[2..], in pairs: members, invalidatedAt).
const NOW_MS = `local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

const INDEX_TAGS = `local function indexTags(ttlMs)
  for i = 2, #KEYS, 2 do
    redis.call('SADD', KEYS[i], KEYS[1])
    if redis.call('PTTL', KEYS[i]) < ttlMs then redis.call('PEXPIRE', KEYS[i], ttlMs) end
  end
end`;

const SET_IF_ABSENT = `
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

// ARGV: expected, ttlMs or 'delete', value, leaseTtlMs
const REPLACE_IF = `${NOW_MS}
${INDEX_TAGS}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'delete' then redis.call('DEL', KEYS[1]) return 1 end
if #KEYS > 1 then
  local leaseTakenAt = nowMs() - (tonumber(ARGV[4]) - redis.call('PTTL', KEYS[1]))
  for i = 3, #KEYS, 2 do
    local invalidatedAt = redis.call('GET', KEYS[i])
    if invalidatedAt and tonumber(invalidatedAt) >= leaseTakenAt then
      redis.call('DEL', KEYS[1])
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
indexTags(tonumber(ARGV[2]))
return 1`;

// ARGV: value, ttlMs
const SET_TAGGED = `${INDEX_TAGS}
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
indexTags(tonumber(ARGV[2]))
return 1`;

// KEYS: members, invalidatedAt; ARGV: how long to remember the invalidation (ms)
const INVALIDATE_TAG = `${NOW_MS}
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 500 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], string.format('%.0f', nowMs()), 'PX', ARGV[1])
return #members`;

interface ScriptCommands {
  elileSetIfAbsentBuffer(key: string, value: Buffer, ttlMs: number): Promise<Buffer | null>;
  elileReplaceIf(numberOfKeys: number, ...args: Array<string | Buffer | number>): Promise<number>;
  elileSetTagged(numberOfKeys: number, ...args: Array<string | Buffer | number>): Promise<number>;
  elileInvalidateTag(members: string, invalidatedAt: string, rememberMs: number): Promise<number>;
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
      connection.defineCommand('elileSetIfAbsent', { numberOfKeys: 1, lua: SET_IF_ABSENT });
      connection.defineCommand('elileReplaceIf', { lua: REPLACE_IF });
      connection.defineCommand('elileSetTagged', { lua: SET_TAGGED });
      connection.defineCommand('elileInvalidateTag', { numberOfKeys: 2, lua: INVALIDATE_TAG });
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

  async peek(key: string): Promise<number | undefined> {
    const head = await this.client.run('getrange', () => this.client.connection.getrangeBuffer(key, 0, 0));
    return head.length === 0 ? undefined : head[0];
  }

  async setIfAbsent(key: string, value: Buffer, ttlMs: number): Promise<Buffer | undefined> {
    return (await this.client.run('evalsha', () => this.scripts.elileSetIfAbsentBuffer(key, value, ttlMs))) ?? undefined;
  }

  async replaceIf(
    key: string,
    expected: Buffer,
    value: Buffer | undefined,
    ttlMs: number,
    tags?: EntryTags,
  ): Promise<boolean> {
    const keys = [key, ...tagKeys(tags)];
    const args =
      value === undefined ? [expected, 'delete'] : [expected, ttlMs, value, tags?.leaseTtlMs ?? 0];
    const replaced = await this.client.run('evalsha', () => this.scripts.elileReplaceIf(keys.length, ...keys, ...args));
    return replaced === 1;
  }

  async invalidateTags(tags: readonly TagKeys[], leaseTtlMs: number): Promise<number> {
    let deleted = 0;
    for (const { members, invalidatedAt } of tags) {
      // Remembered a little longer than any lease lives, so every fill that began before is refused.
      deleted += await this.client.run('evalsha', () =>
        this.scripts.elileInvalidateTag(members, invalidatedAt, leaseTtlMs + 1000),
      );
    }
    return deleted;
  }

  deleteMatching(pattern: string): Promise<number> {
    return this.client.deletePattern(pattern);
  }
}
