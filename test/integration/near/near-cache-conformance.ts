import type { CacheService, CacheStoreKind } from '@elile/cache';
import { deferred } from '../../support/deferred';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, sleep, startCacheApp, waitFor } from '../cache-test-app';

/** A domain with a near cache. */
export const NEAR = 'near';
/** A domain with a near cache and refresh-ahead in the last half of a short TTL. */
export const REFRESHED = 'refreshed';

type Cache = CacheService<unknown>;

/**
 * Reads `key` until a read is answered from the near cache. On Redis, a read that overlaps the
 * invalidation of this process's own write may not keep what it got (the rule under test in
 * "does not keep a read that a write overtook"); the invalidation lands within milliseconds.
 */
export async function readUntilKept(cache: Cache, key: string, options?: { scope?: string }): Promise<unknown> {
  const before = cache.stats().l1Hits;
  let value: unknown;
  await waitFor(`"${key}" to be kept in the near cache`, async () => {
    value = await cache.get(key, options);
    return cache.stats().l1Hits > before;
  });
  return value;
}

/**
 * What the near cache must do in front of every store, through the real module wiring. Rules about
 * other instances (coherence across apps, channel loss) live in the Redis-only specs beside this.
 */
export function nearCacheConformanceSuite(store: CacheStoreKind): void {
  const fileNamespace = uniqueNamespace(`near-${store}`);
  const apps: CacheApp[] = [];
  let testNumber = 0;
  let app: CacheApp;
  let near: Cache;

  async function boot(namespace: string): Promise<CacheApp> {
    const booted = await startCacheApp({
      store,
      namespace,
      redis: { url: testRedisUrl() },
      domains: {
        [NEAR]: { ttl: 60, l1: { maxEntries: 3, ttl: 30 } },
        [REFRESHED]: { ttl: 1, l1: true, refreshAhead: 0.5 },
      },
    });
    apps.push(booted);
    return booted;
  }

  beforeEach(async () => {
    testNumber += 1;
    app = await boot(`${fileNamespace}${testNumber}:`);
    near = app.registry.get(NEAR);
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((booted) => booted.close()));
  });

  afterAll(async () => {
    await deleteNamespace(testRedisUrl(), fileNamespace);
  });

  describe('hits', () => {
    it('answers a second read from process memory, counted as an L1 hit and a hit', async () => {
      await near.set('k', { id: 1 });
      await expect(readUntilKept(near, 'k')).resolves.toEqual({ id: 1 });
      const before = near.stats();
      await expect(near.get('k')).resolves.toEqual({ id: 1 });
      const after = near.stats();
      expect(after.l1Hits - before.l1Hits).toBe(1);
      expect(after.hits - before.hits).toBe(1);
      expect(after.l1Misses).toBe(before.l1Misses);
      expect(after.hits).toBe(after.l1Hits + after.l1Misses);
    });

    it('serves getOrSet hits from it without calling the loader', async () => {
      const loader = jest.fn(async () => 'loaded');
      await expect(near.getOrSet('k', loader)).resolves.toBe('loaded');
      await expect(near.getOrSet('k', loader)).resolves.toBe('loaded');
      await expect(near.getOrSet('k', loader)).resolves.toBe('loaded');
      expect(loader).toHaveBeenCalledTimes(1);
      expect(near.stats().l1Hits).toBe(1);
    });

    it('keeps scoped entries apart, like the store does', async () => {
      await near.set('k', 'acme', { scope: 'acme' });
      await near.set('k', 'globex', { scope: 'globex' });
      await expect(readUntilKept(near, 'k', { scope: 'acme' })).resolves.toBe('acme');
      await expect(readUntilKept(near, 'k', { scope: 'globex' })).resolves.toBe('globex');
      await expect(near.get('k', { scope: 'acme' })).resolves.toBe('acme');
      await expect(near.get('k')).resolves.toBeUndefined();
    });

    it('answers getMany from it for the keys it holds, and the store for the rest', async () => {
      await near.setMany([
        { key: 'a', value: 'A' },
        { key: 'b', value: 'B' },
      ]);
      await readUntilKept(near, 'a');
      const before = near.stats();
      await expect(near.getMany(['a', 'b', 'absent'])).resolves.toEqual(['A', 'B', undefined]);
      const after = near.stats();
      expect(after.l1Hits - before.l1Hits).toBe(1);
      expect(after.hits - before.hits).toBe(2);
      expect(after.misses - before.misses).toBe(1);
      await expect(readUntilKept(near, 'b')).resolves.toBe('B');
    });

    it('evicts the least recently used entry past maxEntries, counted', async () => {
      for (const key of ['a', 'b', 'c', 'd']) {
        await near.set(key, key);
        await readUntilKept(near, key);
      }
      expect(near.stats().l1Evictions).toBe(1);
      const before = near.stats().l1Hits;
      await expect(near.get('a')).resolves.toBe('a'); // from the store again
      expect(near.stats().l1Hits).toBe(before);
    });

    it('never keeps an entry longer than its own TTL', async () => {
      await near.set('short', 'v', 0.2);
      await near.get('short');
      await sleep(300);
      await expect(near.get('short')).resolves.toBeUndefined();
    });
  });

  describe('what callers may do with a value', () => {
    it('deep-freezes plain data, so a caller changing it cannot change what the next caller gets', async () => {
      await near.set('report', { subject: { name: 'Ada' }, checks: [{ kind: 'id', passed: true }] });
      const first = structuredClone(await readUntilKept(near, 'report')) as {
        subject: { name: string };
        checks: Array<{ passed: boolean }>;
      };
      const kept = (await near.get('report')) as typeof first;
      expect(Object.isFrozen(kept)).toBe(true);
      expect(() => {
        kept.subject.name = 'Eve';
      }).toThrow(TypeError);
      expect(() => {
        kept.checks[0].passed = false;
      }).toThrow(TypeError);
      expect(() => kept.checks.push({ passed: true })).toThrow(TypeError);
      expect(await near.get('report')).toEqual(first);
    });

    it('makes Dates, Maps and Sets immutable too, so a hit of a rich value costs no decode either', async () => {
      const at = new Date('2026-01-02T03:04:05.000Z');
      await near.set('rich', { at, seen: new Map([['a', { n: 1 }]]), tags: new Set(['x']) });
      const hit = (await readUntilKept(near, 'rich')) as {
        at: Date;
        seen: Map<string, { n: number }>;
        tags: Set<string>;
      };
      expect(hit.at).toBeInstanceOf(Date);
      expect(hit.at.toISOString()).toBe(at.toISOString());
      expect(() => hit.at.setFullYear(1999)).toThrow(TypeError);
      expect(() => hit.seen.set('b', { n: 2 })).toThrow(TypeError);
      expect(() => hit.seen.delete('a')).toThrow(TypeError);
      expect(() => {
        hit.seen.get('a')!.n = 5;
      }).toThrow(TypeError);
      expect(() => hit.tags.add('y')).toThrow(TypeError);
      expect(() => hit.tags.clear()).toThrow(TypeError);
      const next = (await near.get('rich')) as typeof hit;
      expect(next.at.getTime()).toBe(at.getTime());
      expect([...next.seen]).toEqual([['a', { n: 1 }]]);
      expect([...next.tags]).toEqual(['x']);
    });

    it('gives each caller its own copy of bytes, which cannot be made immutable', async () => {
      await near.set('bytes', { raw: Buffer.from('abc') });
      // The read that fills the near cache, then a hit: changing either must change nothing kept.
      const filled = (await near.get('bytes')) as { raw: Buffer };
      filled.raw[1] = 0x7a;
      const hit = (await readUntilKept(near, 'bytes')) as { raw: Buffer };
      hit.raw[0] = 0x7a;
      const hits = near.stats().l1Hits;
      const next = (await near.get('bytes')) as typeof hit;
      expect(near.stats().l1Hits).toBe(hits + 1);
      expect(next.raw.toString()).toBe('abc');
    });
  });

  describe('this process writing', () => {
    it('drops the kept copy on set, delete, deleteMany and setMany', async () => {
      await near.set('k', 'v1');
      await near.get('k');
      await near.set('k', 'v2');
      await expect(near.get('k')).resolves.toBe('v2');
      await near.get('k');
      await near.delete('k');
      await expect(near.get('k')).resolves.toBeUndefined();

      await near.setMany([
        { key: 'a', value: 1 },
        { key: 'b', value: 1 },
      ]);
      await near.get('a');
      await near.get('b');
      await near.setMany([{ key: 'a', value: 2 }]);
      await expect(near.get('a')).resolves.toBe(2);
      await near.deleteMany(['a', 'b']);
      await expect(near.getMany(['a', 'b'])).resolves.toEqual([undefined, undefined]);
    });

    it('drops it on tag, pattern and clear invalidation, before the call returns', async () => {
      await near.set('tagged', 'v', { tags: ['org:1'] });
      await near.set('plain:1', 'v');
      await near.set('other', 'v');
      for (const key of ['tagged', 'plain:1', 'other']) await readUntilKept(near, key);

      await near.invalidateTags(['org:1']);
      await expect(near.get('tagged')).resolves.toBeUndefined();
      await near.invalidatePattern('plain:*');
      await expect(near.get('plain:1')).resolves.toBeUndefined();
      await expect(near.get('other')).resolves.toBe('v');
      await near.clear();
      await expect(near.get('other')).resolves.toBeUndefined();
      expect(near.stats().l1Invalidations).toBeGreaterThanOrEqual(3);
    });

    it('does not keep a read that a write of the same key overtook', async () => {
      await near.set('k', 'old');
      // The read is sent first; the write is issued before the read's answer is handled.
      const read = near.get('k');
      await near.set('k', 'new');
      await read;
      await expect(near.get('k')).resolves.toBe('new');
      await expect(near.get('k')).resolves.toBe('new');
    });
  });

  describe('read-through', () => {
    it('keeps no result of a loader that an invalidation overtook (the lease refuses it, and L1 never saw it)', async () => {
      const gate = deferred<string>();
      const loading = near.getOrSet('k', () => gate.promise);
      await waitFor('the loader to start', () => near.stats().loads === 1);
      await near.set('k', 'newer');
      gate.resolve('older');
      await expect(loading).resolves.toBe('older');
      await expect(near.get('k')).resolves.toBe('newer');
      await expect(near.get('k')).resolves.toBe('newer');
    });
  });

  describe('refresh-ahead', () => {
    it('serves the cached value at once in the last part of the TTL and refreshes it once in the background', async () => {
      const refreshed = app.registry.get(REFRESHED);
      let version = 0;
      const loader = jest.fn(async () => `v${++version}`);
      await expect(refreshed.getOrSet('k', loader)).resolves.toBe('v1');
      await sleep(600); // past half of the 1 s TTL
      const hits = await Promise.all(Array.from({ length: 20 }, () => refreshed.getOrSet('k', loader)));
      expect(new Set(hits)).toEqual(new Set(['v1']));
      await waitFor('the refresh', () => refreshed.stats().refreshes === 1);
      expect(loader).toHaveBeenCalledTimes(2);
      await sleep(500); // past the first entry's TTL: the refreshed one lives on
      await expect(refreshed.get('k')).resolves.toBe('v2');
    });

    it('keeps the current value when the refresh fails, and counts it', async () => {
      const refreshed = app.registry.get(REFRESHED);
      await refreshed.getOrSet('k', async () => 'kept');
      await sleep(600);
      await expect(refreshed.getOrSet('k', async () => Promise.reject(new Error('source down')))).resolves.toBe('kept');
      await waitFor('the failed refresh to be counted', () => refreshed.stats().refreshErrors === 1);
      await expect(refreshed.get('k')).resolves.toBe('kept');
    });

    it('does not overwrite a value written while the refresh loaded', async () => {
      const refreshed = app.registry.get(REFRESHED);
      await refreshed.getOrSet('k', async () => 'first');
      await sleep(600);
      const gate = deferred<string>();
      await refreshed.getOrSet('k', () => gate.promise);
      await waitFor('the refresh to start loading', () => refreshed.stats().loads === 2);
      await refreshed.set('k', 'written meanwhile', 60);
      gate.resolve('refreshed from before the write');
      await waitFor('the refresh to be refused', () => refreshed.stats().staleFillsDiscarded === 1);
      await expect(refreshed.get('k')).resolves.toBe('written meanwhile');
      expect(refreshed.stats().refreshes).toBe(0);
    });

    it('can be asked for per call, and turned off per call', async () => {
      const plain = app.registry.get(NEAR);
      await plain.set('k', 'v', 1);
      await sleep(600);
      const loader = jest.fn(async () => 'reloaded');
      await plain.getOrSet('k', loader, { refreshAhead: false });
      await sleep(50);
      expect(loader).not.toHaveBeenCalled();
      await plain.getOrSet('k', loader, { refreshAhead: 0.5 });
      await waitFor('the per-call refresh', () => plain.stats().refreshes === 1);
      expect(loader).toHaveBeenCalledTimes(1);
    });

    it('refuses a refresh-ahead ratio outside (0, 1)', async () => {
      for (const ratio of [0, 1, -0.5, 2, NaN, '0.8']) {
        await expect(near.getOrSet('k', async () => 1, { refreshAhead: ratio as number })).rejects.toThrow(
          /above 0 and below 1/,
        );
      }
    });
  });
}
