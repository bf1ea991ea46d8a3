import type Redis from 'ioredis';
import type { CacheStats } from '@elile/cache';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { type CacheApp, closeRaw, rawRedis, startCacheApp } from '../cache-test-app';

/**
 * `stats().errorsByKind` from real failures of a real Redis: each kind counted once per failed
 * operation, and the kinds adding up to `errors`.
 */
describe('stats().errorsByKind', () => {
  let server: RedisServerHandle;
  const proxies: TcpProxy[] = [];
  const apps: CacheApp[] = [];
  let raw: Redis;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    raw = rawRedis(server.url);
  });

  afterAll(async () => {
    for (const proxy of proxies) proxy.release();
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await closeRaw(raw);
    await server?.stop();
  });

  async function boot(breaker: { enabled?: boolean; threshold?: number }): Promise<{ app: CacheApp; proxy: TcpProxy }> {
    const proxy = await startTcpProxy(server.port);
    proxies.push(proxy);
    const app = await startCacheApp({
      namespace: `kinds:${proxies.length}:`,
      redis: { url: `redis://127.0.0.1:${proxy.port}`, readTimeout: 0.1, writeTimeout: 0.1, breaker },
    });
    apps.push(app);
    return { app, proxy };
  }

  const kinds = (stats: CacheStats) => Object.entries(stats.errorsByKind).filter(([, count]) => count > 0);
  const sum = (stats: CacheStats) => Object.values(stats.errorsByKind).reduce((total, count) => total + count, 0);

  it('an entry that does not decode, an error reply, and a value that does not encode', async () => {
    const { app } = await boot({ threshold: 100 });
    await raw.set(app.main.fullKey('garbage'), 'not a cache entry');
    await raw.lpush(app.main.fullKey('list'), 'x');

    await expect(app.main.get('garbage')).resolves.toBeUndefined();
    await expect(app.main.get('list')).resolves.toBeUndefined();
    // `set` throws for it; a fill of a loaded value degrades.
    await expect(app.main.getOrSet('function', () => () => 1)).resolves.toEqual(expect.any(Function));

    const stats = app.main.stats();
    expect(kinds(stats)).toEqual([
      ['command', 1],
      ['serialization', 1],
      ['corruptEntry', 1],
    ]);
    expect(sum(stats)).toBe(stats.errors);
  });

  it('timeouts until the breaker opens, then refusals; and a connection that is gone', async () => {
    const { app, proxy } = await boot({ threshold: 2 });
    proxy.stall();
    // One at a time: each waits out the 0.1 s read deadline; the second opens the breaker.
    await app.main.get('a');
    await app.main.get('b');
    expect(app.redis.breakerStatus().state).toBe('open');
    await app.main.get('c');
    await app.main.getOrSet('d', () => 'loaded');
    proxy.release();

    const stats = app.main.stats();
    expect(kinds(stats)).toEqual([
      ['timeout', 2],
      ['circuitOpen', 2],
    ]);
    expect(sum(stats)).toBe(stats.errors);

    const { app: unbroken, proxy: closing } = await boot({ enabled: false });
    proxies.splice(proxies.indexOf(closing), 1);
    await closing.close();
    await expect(unbroken.main.get('e')).resolves.toBeUndefined();
    expect(kinds(unbroken.main.stats())).toEqual([['unavailable', 1]]);
  });
});
