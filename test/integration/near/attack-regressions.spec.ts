import type { CacheService } from '@elile/cache';
import { deferred } from '../../support/deferred';
import { startLocalRedisServer } from '../../support/redis-harness';
import { closeRaw, rawRedis, sleep, waitFor } from '../cache-test-app';
import { channelOf, useInstances } from './instances';
import { readUntilKept } from './near-cache-conformance';

// Regressions of the attack review of the near cache, fleet single flight and refresh-ahead.
type Cache = CacheService<unknown>;

const sourceDown = () => Promise.reject(new Error('source down'));
const instances = useInstances('near-regressions', {
  leaseTtl: 0.5,
  domains: {
    graceful: { ttl: 60, l1: true, grace: 60 },
    refreshed: { ttl: 4, l1: true, refreshAhead: 0.5 },
  },
});
const instance = (url?: string) => instances.start(url);

describe('fail-safe and the near cache', () => {
  it.each([
    ['deleted', (cache: Cache) => cache.delete('k')],
    ['tag-invalidated', (cache: Cache) => cache.invalidateTags(['org:1'])],
  ])(
    'a value %s while B could not hear of it is never served by B as a fallback once Redis answers',
    async (_name, invalidate) => {
      const a = await instance();
      const { app: b, proxy } = await instances.behindProxy();
      const [onA, onB] = [a.registry.get('graceful'), b.registry.get('graceful')];
      await onA.set('k', 'revoked permission', { tags: ['org:1'] });
      await readUntilKept(onB, 'k');
      proxy.cutAll();
      const channel = channelOf(b);
      await waitFor('B to notice', () => !channel.isUp);
      await invalidate(onA);
      await waitFor('the channel to come back', () => channel.isUp, 10_000);
      await waitFor('the data connection to come back', () => b.redis.isReady, 10_000);
      await expect(onB.getOrSet('k', sourceDown)).rejects.toThrow('source down');
      expect(onB.stats().staleServed).toBe(0);
    },
    30_000,
  );
});

describe('refresh-ahead', () => {
  it('a refresh whose loader never settles does not block the next refresh of that key for good', async () => {
    const cache = (await instance()).registry.get('refreshed');
    await cache.getOrSet('k', async () => 'v1');
    await sleep(2100);
    await cache.getOrSet('k', () => new Promise<string>(() => undefined));
    await waitFor('the hung refresh to start', () => cache.stats().loads === 2);
    await waitFor('the hung refresh to be given up', () => cache.stats().refreshErrors === 1, 5_000);
    await sleep(600); // the cooldown (the lease TTL) passes
    const loader = jest.fn(async () => 'v2');
    await cache.getOrSet('k', loader);
    await waitFor('a second refresh', () => loader.mock.calls.length === 1);
  }, 20_000);

  it('a failing refresh is not retried on every hit of the window', async () => {
    const cache = (await instance()).registry.get('refreshed');
    await cache.getOrSet('k', async () => 'v1');
    await sleep(2100);
    const failing = jest.fn(sourceDown);
    for (let i = 0; i < 10; i++) {
      await expect(cache.getOrSet('k', failing)).resolves.toBe('v1');
      await sleep(20);
    }
    expect(failing.mock.calls.length).toBe(1);
  }, 20_000);

  it("another instance's hits inside the window cost no round trip each while A refreshes", async () => {
    // A Redis of its own, so that its command counts are this test's alone.
    const server = await startLocalRedisServer();
    const raw = rawRedis(server.url);
    try {
      const [a, b] = [
        (await instance(server.url)).registry.get('refreshed'),
        (await instance(server.url)).registry.get('refreshed'),
      ];
      await a.getOrSet('k', async () => 'v1');
      await readUntilKept(b, 'k');
      await sleep(2100);
      const gate = deferred<string>();
      await a.getOrSet('k', () => gate.promise); // A holds the refresh lease
      await waitFor('A to refresh', () => a.stats().loads === 2);
      await raw.config('RESETSTAT');
      for (let i = 0; i < 100; i++) await b.getOrSet('k', async () => 'B');
      const stats = await raw.info('commandstats');
      const evalsha = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      expect(evalsha).toBeLessThan(10);
      gate.resolve('v2');
      await waitFor('the refresh to land', () => a.stats().refreshes === 1);
    } finally {
      await closeRaw(raw);
      await instances.close();
      await server.stop();
    }
  }, 30_000);
});

describe('fleet single flight', () => {
  it('loads whose result is never stored are not run one at a time across the fleet', async () => {
    const caches = await Promise.all(
      Array.from({ length: 4 }, async () => (await instance()).registry.get('graceful')),
    );
    let active = 0;
    let mostActive = 0;
    const loader = async () => {
      active++;
      mostActive = Math.max(mostActive, active);
      await sleep(100);
      active--;
      return null;
    };
    await Promise.all(
      caches.map((cache) => cache.getOrSet('never-cached', loader, { unless: (value) => value === null })),
    );
    expect(mostActive).toBeGreaterThan(1);
  }, 20_000);
});
