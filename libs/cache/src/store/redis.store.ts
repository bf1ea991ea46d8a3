import type { Redis } from 'ioredis';
import type { RedisClient } from '../redis/redis.client';
import type { CacheStore, StoreEntry } from './cache-store.interface';

// Both scripts touch a single key, so they run unchanged on a Redis Cluster.
const SET_IF_ABSENT = `
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

const REPLACE_IF = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'delete' then redis.call('DEL', KEYS[1])
else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) end
return 1`;

interface ScriptCommands {
  elileSetIfAbsentBuffer(key: string, value: Buffer, ttlMs: number): Promise<Buffer | null>;
  elileReplaceIf(key: string, expected: Buffer, ttlOrDelete: number | 'delete', value?: Buffer): Promise<number>;
}

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
      connection.defineCommand('elileReplaceIf', { numberOfKeys: 1, lua: REPLACE_IF });
    }
    this.scripts = connection as unknown as ScriptCommands;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.client.run('get', () => this.client.connection.getBuffer(key))) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | undefined>> {
    if (keys.length === 0) return [];
    const values = await this.client.run('mget', () => this.client.connection.mgetBuffer(...keys));
    return values.map((value) => value ?? undefined);
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
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

  async replaceIf(key: string, expected: Buffer, value: Buffer | undefined, ttlMs: number): Promise<boolean> {
    const replaced = await this.client.run('evalsha', () =>
      value === undefined
        ? this.scripts.elileReplaceIf(key, expected, 'delete')
        : this.scripts.elileReplaceIf(key, expected, ttlMs, value),
    );
    return replaced === 1;
  }

  deleteMatching(pattern: string): Promise<number> {
    return this.client.deletePattern(pattern);
  }
}
