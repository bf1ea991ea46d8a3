import type { CacheService, CacheStoreKind } from '@elile/cache';
import { deferred } from '../../support/deferred';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, sleep, startCacheApp, waitFor } from '../cache-test-app';

/** A domain with a short TTL and a long grace, and one whose slow loads are cut short. */
export const GRACEFUL = 'graceful';
export const SOFT = 'soft';
/** Grace shorter than the tests wait: nothing may be served past it. */
export const SHORT_GRACE = 'shortgrace';
export const TTL_S = 0.3;

type Cache = CacheService<unknown>;

const sourceDown = () => Promise.reject(new Error('source down'));

/** Fail-safe on one store, through the real module wiring. */
export function failSafeConformanceSuite(store: CacheStoreKind): void {
  const fileNamespace = uniqueNamespace(`fail-safe-${store}`);
  let testNumber = 0;
  let app: CacheApp;
  let graceful: Cache;

  beforeEach(async () => {
    testNumber += 1;
    app = await startCacheApp({
      store,
      namespace: `${fileNamespace}${testNumber}:`,
      redis: { url: testRedisUrl() },
      domains: {
        [GRACEFUL]: { ttl: TTL_S, grace: 30 },
        [SOFT]: { ttl: TTL_S, grace: 30, softTimeout: 0.1 },
        [SHORT_GRACE]: { ttl: 0.2, grace: 0.3 },
      },
    });
    graceful = app.registry.get(GRACEFUL);
  });

  afterEach(async () => {
    await app.close();
  });

  afterAll(async () => {
    await deleteNamespace(testRedisUrl(), fileNamespace);
  });

  it('never serves an entry past its TTL as a hit, but serves it when the reload fails', async () => {
    await graceful.set('k', 'v1');
    await sleep(TTL_S * 1000 + 100);
    await expect(graceful.get('k')).resolves.toBeUndefined();
    await expect(graceful.getOrSet('k', sourceDown)).resolves.toBe('v1');
    expect(graceful.stats().staleServed).toBe(1);
    // Given back: the next failing reload is served it too.
    await expect(graceful.getOrSet('k', sourceDown)).resolves.toBe('v1');
    await expect(graceful.getOrSet('k', async () => 'v2')).resolves.toBe('v2');
    await expect(graceful.get('k')).resolves.toBe('v2');
    expect(graceful.stats().staleServed).toBe(2);
  });

  it('throws the loader error when there is no stale value (first load), as without fail-safe', async () => {
    await expect(graceful.getOrSet('never-cached', sourceDown)).rejects.toThrow('source down');
    expect(graceful.stats().staleServed).toBe(0);
  });

  it('never serves past the grace', async () => {
    const short = app.registry.get(SHORT_GRACE);
    await short.set('k', 'old');
    await sleep(700);
    await expect(short.getOrSet('k', sourceDown)).rejects.toThrow('source down');
    expect(short.stats().staleServed).toBe(0);
  });

  it('past the soft timeout serves the stale value at once, and the load fills the key in the background', async () => {
    const soft = app.registry.get(SOFT);
    await soft.set('k', 'old');
    await sleep(TTL_S * 1000 + 100);
    const gate = deferred<string>();
    await expect(soft.getOrSet('k', () => gate.promise)).resolves.toBe('old');
    expect(soft.stats().staleServed).toBe(1);
    gate.resolve('new');
    await waitFor('the background load to fill the key', async () => (await soft.get('k')) === 'new');
  });

  it('a per-call softTimeout overrides the domain, and is refused when not a number of seconds', async () => {
    await graceful.set('k', 'old');
    await sleep(TTL_S * 1000 + 100);
    const gate = deferred<string>();
    await expect(graceful.getOrSet('k', () => gate.promise, { softTimeout: 0.05 })).resolves.toBe('old');
    gate.resolve('new');
    await waitFor('the fill', async () => (await graceful.get('k')) === 'new');
    for (const softTimeout of [-1, NaN, '1']) {
      await expect(graceful.getOrSet('k', async () => 1, { softTimeout: softTimeout as number })).rejects.toThrow(
        /softTimeout/,
      );
    }
  });

  it('expire(key) makes a fresh entry stale: no hit any more, still the fallback of a failing reload', async () => {
    await graceful.set('k', 'v1', 60);
    await expect(graceful.expire('k')).resolves.toBe(true);
    await expect(graceful.get('k')).resolves.toBeUndefined();
    await expect(graceful.getOrSet('k', sourceDown)).resolves.toBe('v1');
    await expect(graceful.getOrSet('k', async () => 'v2')).resolves.toBe('v2');
    await expect(graceful.expire('absent')).resolves.toBe(false);
  });

  it('expireTags makes every tagged entry stale and leaves the others fresh', async () => {
    await graceful.set('a', 'A', { ttl: 60, tags: ['org:1'] });
    await graceful.set('b', 'B', { ttl: 60, tags: ['org:2'] });
    await expect(graceful.expireTags(['org:1'])).resolves.toBe(1);
    await expect(graceful.get('a')).resolves.toBeUndefined();
    await expect(graceful.get('b')).resolves.toBe('B');
    await expect(graceful.getOrSet('a', sourceDown)).resolves.toBe('A');
  });

  it('expire refuses a read-through that was loading the key, as delete does', async () => {
    await graceful.set('k', 'v1', 60);
    await graceful.expire('k');
    const gate = deferred<string>();
    const loading = graceful.getOrSet('k', () => gate.promise);
    await waitFor('the reload to start', () => graceful.stats().loads === 1);
    await graceful.expire('k');
    gate.resolve('loaded before the expire');
    await expect(loading).resolves.toBe('loaded before the expire');
    await expect(graceful.get('k')).resolves.toBeUndefined();
  });

  it('without grace, expire deletes and expireTags invalidates', async () => {
    const plain = app.main;
    await plain.set('k', 'v', { tags: ['t'] });
    await expect(plain.expire('k')).resolves.toBe(true);
    await expect(plain.getOrSet('k', sourceDown)).rejects.toThrow('source down');
    await plain.set('k', 'v', { tags: ['t'] });
    await expect(plain.expireTags(['t'])).resolves.toBe(1);
    await expect(plain.get('k')).resolves.toBeUndefined();
  });

  it('refuses softTimeout without grace, at boot', async () => {
    await expect(
      startCacheApp({
        store,
        namespace: `${fileNamespace}x:`,
        redis: { url: testRedisUrl() },
        domains: { bad: { ttl: 1, softTimeout: 1 } },
      }),
    ).rejects.toThrow(/softTimeout.*needs.*grace/);
  });
}
