import type { Redis } from 'ioredis';
import { CacheInvalidationIncompleteError } from '@elile/cache';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { type CacheApp, closeRaw, failureOf, rawRedis, startCacheApp } from './cache-test-app';

/** Makes Redis refuse writes (OOM under noeviction) until `freed` bytes are deleted. */
async function fillUntilFull(raw: Redis, freed: number): Promise<void> {
  const used = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))![1]);
  await raw.config('SET', 'maxmemory', String(Math.max(1, used - freed)));
  await expect(raw.set('probe', 'x')).rejects.toThrow(/OOM/);
}

describe('tag invalidation when Redis is full (maxmemory + noeviction)', () => {
  let server: RedisServerHandle;
  let app: CacheApp;
  let raw: Redis;

  beforeEach(async () => {
    server = await startLocalRedisServer({ extraArgs: ['--maxmemory-policy', 'noeviction'] });
    app = await startCacheApp({ namespace: 'oom:', redis: { url: server.url } });
    raw = rawRedis(server.url);
  });

  afterEach(async () => {
    await closeRaw(raw);
    await app.close();
    await server.stop();
  });

  it('deletes the tagged entries; when that frees memory, records the invalidation and resolves', async () => {
    await app.main.set('big', 'b'.repeat(1_000_000), { tags: ['org:1'] });
    await fillUntilFull(raw, 500_000);
    await expect(app.main.invalidateTags(['org:1'])).resolves.toBe(1);
    await expect(app.main.get('big')).resolves.toBeUndefined();
    // Recorded: fills whose lease predates the invalidation are refused.
    await expect(raw.exists('oom:__elile:conf:tag-invalidated:org:1')).resolves.toBe(1);
  });

  it('deletes the tagged entries even when Redis stays full, then throws a typed error saying the marker is missing', async () => {
    await app.main.set('small', 's', { tags: ['org:2'] });
    await fillUntilFull(raw, Number.MAX_SAFE_INTEGER);
    const failure = await failureOf(() => app.main.invalidateTags(['org:2']));
    expect(failure).toBeInstanceOf(CacheInvalidationIncompleteError);
    expect(failure).toMatchObject({ code: 'ELILE_CACHE_INVALIDATION_INCOMPLETE', deleted: 1 });
    await expect(app.main.get('small')).resolves.toBeUndefined();
  });
});
