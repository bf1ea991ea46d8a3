import type Redis from 'ioredis';
import type { CacheStats } from '@elile/cache';
import { within } from '../support/settles-within';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { deferred } from '../support/deferred';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, waitFor } from './cache-test-app';

/**
 * A failing or tampered-with Redis, on servers of this file's own: keys written over by another
 * program, scripts lost, huge foreign values. Nothing wrong is served and no caller hangs.
 */
let server: RedisServerHandle;
let app: CacheApp;
let raw: Redis;

const LEASE_TTL_S = 0.5;

beforeAll(async () => {
  server = await startLocalRedisServer();
  // A read deadline the 64 MB foreign value below can arrive within on a loaded CI host: past the
  // default 0.25 s its read times out, and the bytes are never seen (so never dropped).
  app = await startCacheApp({ namespace: 'atk:', leaseTtl: LEASE_TTL_S, redis: { url: server.url, readTimeout: 2 } });
  raw = rawRedis(server.url);
});

afterAll(async () => {
  await app?.close();
  await closeRaw(raw);
  await server?.stop();
});

const delta = (after: CacheStats, before: CacheStats) => ({
  corruptEntries: after.corruptEntries - before.corruptEntries,
  staleFillsDiscarded: after.staleFillsDiscarded - before.staleFillsDiscarded,
  errors: after.errors - before.errors,
});

describe('a lease overwritten by another program while the load runs', () => {
  it('foreign bytes over the lease: the fill is discarded and counted, the bytes are a counted corrupt miss next time', async () => {
    const key = app.main.fullKey('overwritten-lease');
    const loading = deferred<string>();
    const before = app.main.stats();
    const call = app.main.getOrSet('overwritten-lease', () => loading.promise);
    await waitFor('the lease', async () => (await raw.exists(key)) === 1);
    await raw.set(key, 'another program was here');
    loading.resolve('loaded');
    await expect(call).resolves.toBe('loaded');
    await expect(raw.get(key)).resolves.toBe('another program was here');
    await expect(app.main.get('overwritten-lease')).resolves.toBeUndefined();
    expect(delta(app.main.stats(), before)).toMatchObject({ staleFillsDiscarded: 1, corruptEntries: 1 });
    await waitFor('the foreign bytes deleted', async () => (await raw.exists(key)) === 0);
  });
});

describe('script cache lost (restart, failover, SCRIPT FLUSH)', () => {
  it('tagged fills and tag invalidation still work after SCRIPT FLUSH', async () => {
    await raw.script('FLUSH');
    await app.main.getOrSet('flushed', () => 'v1', { tags: ['flush-tag'] });
    await expect(app.main.get('flushed')).resolves.toBe('v1');
    await raw.script('FLUSH');
    await expect(app.main.invalidateTags(['flush-tag'])).resolves.toBe(1);
    await expect(app.main.get('flushed')).resolves.toBeUndefined();
  });
});

describe('a huge foreign value under a cache key', () => {
  it('every call settles within its deadline with the loader’s value, and the key is usable again', async () => {
    const key = app.main.fullKey('huge');
    await raw.set(key, Buffer.alloc(64 * 1024 * 1024, 0x7b));
    for (let i = 0; i < 2; i++) {
      const value = await within(
        app.main.getOrSet('huge', () => 'small'),
        10_000,
      );
      expect(value).toBe('small');
    }
    await waitFor('the huge value replaced', async () => (await raw.strlen(key)) < 1024, 10_000);
    await expect(within(app.main.get('other'), 5_000)).resolves.toBeUndefined();
  });
});

describe('restarted with an empty dataset', () => {
  it('a hit before the restart is a miss after it, never an error at the caller', async () => {
    await app.main.set('before-restart', 'v');
    await server.restart();
    await waitFor('reconnected', () => app.redis.isReady, 10_000);
    await expect(app.main.getOrSet('before-restart', () => 'reloaded')).resolves.toBe('reloaded');
    await expect(app.main.get('before-restart')).resolves.toBe('reloaded');
  });
});

describe('hung (SIGSTOP)', () => {
  it('delete() throws typed within the deadline; getOrSet serves the loader', async () => {
    await app.main.set('hung', 'v');
    await server.pause();
    try {
      const started = performance.now();
      await expect(
        within(
          app.main.getOrSet('hung', () => 'loader'),
          5_000,
        ),
      ).resolves.toBe('loader');
      const failure = await within(
        app.main.delete('hung').then(
          () => undefined,
          (error: unknown) => error,
        ),
        5_000,
      );
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).constructor.name).toMatch(/Cache(Timeout|Unavailable)Error/);
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await server.resume();
    }
  });
});
