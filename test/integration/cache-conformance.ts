import {
  CacheArgumentError,
  CacheSerializationError,
  type CacheService,
  type CacheStoreKind,
  escapeGlob,
} from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { deferred } from '../support/deferred';
import { type CacheApp, failureOf, MAIN, PEER, sleep, startCacheApp } from './cache-test-app';

export interface ConformanceTarget {
  readonly store: CacheStoreKind;
  /**
   * Whether two application instances see the same entries. Only then can a read-through meet a
   * lease taken by another process: the memory store lives and dies inside one app.
   */
  readonly sharedAcrossApps: boolean;
}

type Cache = CacheService<unknown>;

const INVALID_TTLS: unknown[] = [0, -1, NaN, Infinity, -Infinity, '5', null, 1e300];
const INVALID_KEYS: unknown[] = ['', 5, undefined, null, {}, '__elile:scope:4:acme:k', '__elile:'];
const INVALID_SCOPES: unknown[] = ['', 5, null, {}, ['acme']];

/**
 * The behaviour every store must give a `CacheService`, run through the real module wiring
 * (`CacheModule.forRoot`, `@InjectCache`, `CacheRegistry`). Call it inside a spec file.
 */
export function cacheConformanceSuite(target: ConformanceTarget): void {
  const fileNamespace = uniqueNamespace(`conformance-${target.store}`);
  const apps: CacheApp[] = [];
  let testNumber = 0;
  let namespace = '';
  let app: CacheApp;
  let cache: Cache;

  async function boot(): Promise<CacheApp> {
    const booted = await startCacheApp({ store: target.store, namespace, redis: { url: testRedisUrl() } });
    apps.push(booted);
    return booted;
  }

  beforeEach(async () => {
    testNumber += 1;
    // Fresh counters per test, and a keyspace of its own below the file's namespace.
    namespace = `${fileNamespace}${testNumber}:`;
    app = await boot();
    cache = app.main;
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((booted) => booted.close()));
  });

  afterAll(async () => {
    await deleteNamespace(testRedisUrl(), fileNamespace);
  });

  describe('module wiring', () => {
    it('injects the registry instance of each domain, keyed under namespace + domain prefix', () => {
      expect(app.registry.get(MAIN)).toBe(cache);
      expect(app.registry.get(PEER)).toBe(app.peer);
      expect(app.registry.names()).toEqual(
        expect.arrayContaining(['screening', 'subject', 'org', 'compliance', 'session', MAIN, PEER]),
      );
      expect(cache.name).toBe(MAIN);
      expect(cache.defaultTtl).toBe(60);
      expect(cache.fullKey('k')).toBe(`${namespace}${MAIN}:k`);
    });
  });

  describe("the sketch's tests", () => {
    it('get returns what set stored (test_cache_get_set)', async () => {
      await expect(cache.set('key1', { data: 'value' })).resolves.toBe(true);
      await expect(cache.get('key1')).resolves.toEqual({ data: 'value' });
    });

    it('an entry is gone after its TTL (test_cache_ttl)', async () => {
      await cache.set('key2', 'value', 1);
      await expect(cache.get('key2')).resolves.toBe('value');
      await sleep(1_600);
      await expect(cache.get('key2')).resolves.toBeUndefined();
    });
  });

  describe('reads and writes', () => {
    it('get returns undefined on a miss and counts a miss', async () => {
      await expect(cache.get('absent')).resolves.toBeUndefined();
      expect(cache.stats()).toMatchObject({ hits: 0, misses: 1 });
    });

    it('a cached null is a hit: get returns null and getOrSet does not reload it', async () => {
      await cache.set('nothing', null);
      await expect(cache.get('nothing')).resolves.toBeNull();
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 0 });

      const loader = jest.fn(() => 'reloaded');
      await expect(cache.getOrSet('nothing', loader)).resolves.toBeNull();
      expect(loader).not.toHaveBeenCalled();
      await expect(cache.exists('nothing')).resolves.toBe(true);
    });

    it('rich types round-trip: Date, Map, Set, BigInt, Buffer, nested structures', async () => {
      const value = {
        date: new Date('2024-02-29T12:34:56.789Z'),
        map: new Map<unknown, unknown>([
          ['a', 1],
          [2, { nested: true }],
        ]),
        set: new Set(['x', 'y']),
        bigints: [5n, -(2n ** 63n), 2n ** 70n],
        buffer: Buffer.from([0, 1, 2, 255]),
        nested: { deep: [{ list: [1, 'two', null, undefined] }] },
        text: 'ünïcödé ✓ 日本',
        numbers: [0, -1.5, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity],
        empty: { object: {}, array: [] as unknown[] },
      };
      await cache.set('rich', value);

      const read = (await cache.get('rich')) as typeof value;
      expect(read).toEqual(value);
      expect(read.date).toBeInstanceOf(Date);
      expect(read.map).toBeInstanceOf(Map);
      expect(read.map.get(2)).toEqual({ nested: true });
      expect(read.set).toBeInstanceOf(Set);
      expect(read.bigints.map((n) => typeof n)).toEqual(['bigint', 'bigint', 'bigint']);
      expect(Buffer.isBuffer(read.buffer)).toBe(true);
      expect(read.nested.deep[0].list).toHaveLength(4);
    });

    it('set, exists, get and delete', async () => {
      await expect(cache.exists('k')).resolves.toBe(false);
      await expect(cache.set('k', 'v1')).resolves.toBe(true);
      await expect(cache.exists('k')).resolves.toBe(true);
      await cache.set('k', 'v2');
      await expect(cache.get('k')).resolves.toBe('v2');

      await expect(cache.delete('k')).resolves.toBe(true);
      await expect(cache.exists('k')).resolves.toBe(false);
      await expect(cache.get('k')).resolves.toBeUndefined();
      await expect(cache.delete('k')).resolves.toBe(false);
    });

    it('a fractional TTL is honoured by set, setMany and getOrSet', async () => {
      await cache.set('short', 'v', 0.5);
      await cache.setMany([{ key: 'short-many', value: 'v', ttl: 0.5 }]);
      await cache.getOrSet('short-loaded', () => 'v', { ttl: 0.5 });
      await cache.set('long', 'v', 30.5);
      await expect(cache.getMany(['short', 'short-many', 'short-loaded'])).resolves.toEqual(['v', 'v', 'v']);

      await sleep(1_100);
      await expect(cache.getMany(['short', 'short-many', 'short-loaded', 'long'])).resolves.toStrictEqual([
        undefined,
        undefined,
        undefined,
        'v',
      ]);
    });

    it("a Buffer returned by get is the caller's own: changing it does not change the cache", async () => {
      await cache.set('bytes', { payload: Buffer.from('abc') });
      const first = (await cache.get('bytes')) as { payload: Buffer };
      first.payload[0] = 'z'.charCodeAt(0);

      const second = (await cache.get('bytes')) as { payload: Buffer };
      expect(second.payload.toString()).toBe('abc');
    });
  });

  describe('getAndExpire (sliding expiration)', () => {
    it('returns the value and gives it a new TTL in the same call', async () => {
      await cache.set('slide', { n: 1 }, 0.3);
      await expect(cache.getAndExpire('slide', { ttl: 30 })).resolves.toEqual({ n: 1 });
      await sleep(600);
      await expect(cache.get('slide')).resolves.toEqual({ n: 1 });
    });

    it("without a ttl, the domain's default TTL starts again", async () => {
      await cache.set('slide-default', 'v', 0.3);
      await expect(cache.getAndExpire('slide-default')).resolves.toBe('v');
      await sleep(600);
      await expect(cache.get('slide-default')).resolves.toBe('v');
    });

    it('a shorter ttl shortens the entry: it is the new TTL, not an extension', async () => {
      await cache.set('shorten', 'v', 30);
      await expect(cache.getAndExpire('shorten', { ttl: 0.3 })).resolves.toBe('v');
      await sleep(600);
      await expect(cache.get('shorten')).resolves.toBeUndefined();
    });

    it('a miss creates nothing and counts as a miss; a cached null is a hit', async () => {
      await expect(cache.getAndExpire('absent', { ttl: 30 })).resolves.toBeUndefined();
      await expect(cache.exists('absent')).resolves.toBe(false);
      await cache.set('nothing', null);
      await expect(cache.getAndExpire('nothing')).resolves.toBeNull();
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
    });

    it('scoped entries slide within their scope only', async () => {
      await cache.set('k', 'acme', { scope: 'acme', ttl: 30 });
      await expect(cache.getAndExpire('k', { scope: 'acme' })).resolves.toBe('acme');
      await expect(cache.getAndExpire('k', { scope: 'globex' })).resolves.toBeUndefined();
      await expect(cache.getAndExpire('k')).resolves.toBeUndefined();
    });

    it("meeting a read-through's lease is a miss, and the read-through still fills the key", async () => {
      const gate = deferred<string>();
      const loading = cache.getOrSet('leased', () => gate.promise);
      await sleep(20);
      await expect(cache.getAndExpire('leased', { ttl: 60 })).resolves.toBeUndefined();
      gate.resolve('loaded');
      await expect(loading).resolves.toBe('loaded');
      await expect(cache.get('leased')).resolves.toBe('loaded');
    });

    it.each(INVALID_TTLS)('TTL %p is refused with CacheArgumentError and the entry keeps its own', async (ttl) => {
      await cache.set('k', 'v', 30);
      expect(await failureOf(() => cache.getAndExpire('k', { ttl: ttl as number }))).toBeInstanceOf(CacheArgumentError);
      await expect(cache.get('k')).resolves.toBe('v');
    });

    it.each(INVALID_KEYS)('key %p is refused with CacheArgumentError', async (key) => {
      expect(await failureOf(() => cache.getAndExpire(key as string))).toBeInstanceOf(CacheArgumentError);
    });
  });

  describe('arguments', () => {
    it.each(INVALID_TTLS)('TTL %p is refused with CacheArgumentError and nothing is stored', async (ttl) => {
      const loader = jest.fn(() => 'loaded');
      expect(await failureOf(() => cache.set('k', 'v', ttl as number))).toBeInstanceOf(CacheArgumentError);
      expect(await failureOf(() => cache.set('k', 'v', { ttl: ttl as number }))).toBeInstanceOf(CacheArgumentError);
      expect(await failureOf(() => cache.setMany([{ key: 'k', value: 'v', ttl: ttl as number }]))).toBeInstanceOf(
        CacheArgumentError,
      );
      expect(await failureOf(() => cache.getOrSet('k', loader, { ttl: ttl as number }))).toBeInstanceOf(
        CacheArgumentError,
      );
      expect(loader).not.toHaveBeenCalled();
      await expect(cache.exists('k')).resolves.toBe(false);
    });

    it.each(INVALID_KEYS)('key %p is refused with CacheArgumentError by every operation', async (key) => {
      const bad = key as string;
      const loader = jest.fn(() => 'loaded');
      const attempts: Array<() => unknown> = [
        () => cache.get(bad),
        () => cache.set(bad, 'v'),
        () => cache.delete(bad),
        () => cache.exists(bad),
        () => cache.getOrSet(bad, loader),
        () => cache.getMany(['fine', bad]),
        () =>
          cache.setMany([
            { key: 'fine', value: 'v' },
            { key: bad, value: 'v' },
          ]),
      ];
      for (const attempt of attempts) {
        expect(await failureOf(attempt)).toBeInstanceOf(CacheArgumentError);
      }
      expect(loader).not.toHaveBeenCalled();
      // setMany validates every entry before writing any.
      await expect(cache.exists('fine')).resolves.toBe(false);
    });

    it('an empty or non-string pattern is refused with CacheArgumentError', async () => {
      await cache.set('k', 'v');
      expect(await failureOf(() => cache.invalidatePattern(''))).toBeInstanceOf(CacheArgumentError);
      expect(await failureOf(() => cache.invalidatePattern(undefined as unknown as string))).toBeInstanceOf(
        CacheArgumentError,
      );
      await expect(cache.get('k')).resolves.toBe('v');
    });
  });

  describe('scopes', () => {
    it('a scoped entry is invisible to other scopes and to unscoped keys, and vice versa', async () => {
      await cache.set('k', 'acme value', { scope: 'acme' });
      await cache.set('k', 'public value');
      await expect(cache.get('k', { scope: 'acme' })).resolves.toBe('acme value');
      await expect(cache.get('k', { scope: 'globex' })).resolves.toBeUndefined();
      await expect(cache.get('k')).resolves.toBe('public value');
      await expect(cache.getOrSet('k', () => 'globex value', { scope: 'globex' })).resolves.toBe('globex value');
      await expect(cache.get('k', { scope: 'acme' })).resolves.toBe('acme value');

      await expect(cache.delete('k', { scope: 'acme' })).resolves.toBe(true);
      await expect(cache.exists('k', { scope: 'acme' })).resolves.toBe(false);
      await expect(cache.get('k')).resolves.toBe('public value');
      await expect(cache.get('k', { scope: 'globex' })).resolves.toBe('globex value');
    });

    it('(scope, key) pairs that concatenate alike stay apart', async () => {
      await cache.set('b:c', 'first', { scope: 'a' });
      await cache.set('c', 'second', { scope: 'a:b' });
      await expect(cache.get('b:c', { scope: 'a' })).resolves.toBe('first');
      await expect(cache.get('c', { scope: 'a:b' })).resolves.toBe('second');
    });

    it('no unscoped key reaches a scoped entry, whatever it spells', async () => {
      await cache.set('k', 'acme value', { scope: 'acme' });
      const scopedFullKey = cache.fullKey('k', 'acme');
      const unscopedPart = scopedFullKey.slice(cache.fullKey('x').length - 1);
      expect(await failureOf(() => cache.get(unscopedPart))).toBeInstanceOf(CacheArgumentError);
    });

    it.each(INVALID_SCOPES)('scope %p is refused with CacheArgumentError', async (scope) => {
      const loader = jest.fn(() => 'loaded');
      const options = { scope: scope as string };
      for (const attempt of [
        () => cache.get('k', options),
        () => cache.set('k', 'v', options),
        () => cache.delete('k', options),
        () => cache.getOrSet('k', loader, options),
      ]) {
        expect(await failureOf(attempt)).toBeInstanceOf(CacheArgumentError);
      }
      expect(loader).not.toHaveBeenCalled();
    });

    it('clear() removes scoped entries too', async () => {
      await cache.set('k', 'acme value', { scope: 'acme' });
      await cache.clear();
      await expect(cache.get('k', { scope: 'acme' })).resolves.toBeUndefined();
    });
  });

  describe('unserializable values', () => {
    const cases: Array<[string, unknown]> = [
      ['a function', () => 'not data'],
      ['a function inside an object', { ok: 1, handler: () => 'not data' }],
      ['a circular structure', circular()],
    ];

    it.each(cases)('set of %s throws CacheSerializationError and keeps the previous entry', async (_, value) => {
      await cache.set('k', 'previous');
      expect(await failureOf(() => cache.set('k', value))).toBeInstanceOf(CacheSerializationError);
      expect(await failureOf(() => cache.set('fresh', value))).toBeInstanceOf(CacheSerializationError);
      await expect(cache.get('k')).resolves.toBe('previous');
      await expect(cache.exists('fresh')).resolves.toBe(false);
    });

    it('setMany with one unserializable entry writes none of them', async () => {
      const failure = await failureOf(() =>
        cache.setMany([
          { key: 'a', value: 1 },
          { key: 'b', value: circular() },
          { key: 'c', value: 3 },
        ]),
      );
      expect(failure).toBeInstanceOf(CacheSerializationError);
      await expect(cache.getMany(['a', 'b', 'c'])).resolves.toStrictEqual([undefined, undefined, undefined]);
    });
  });

  describe('getOrSet', () => {
    it('runs the loader on a miss, then serves the cached value without running it', async () => {
      const loader = jest.fn(async () => ({ id: 7 }));
      await expect(cache.getOrSet('k', loader)).resolves.toEqual({ id: 7 });
      await expect(cache.getOrSet('k', loader)).resolves.toEqual({ id: 7 });
      expect(loader).toHaveBeenCalledTimes(1);
      await expect(cache.get('k')).resolves.toEqual({ id: 7 });
      expect(cache.stats()).toMatchObject({ loads: 1, staleFillsDiscarded: 0, errors: 0 });
    });

    it('50 concurrent calls on one key run the loader once and all get its value', async () => {
      let calls = 0;
      const loader = async () => {
        calls += 1;
        await sleep(30);
        return { computed: 'once', calls };
      };
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('hot', loader)));

      expect(calls).toBe(1);
      for (const result of results) expect(result).toEqual({ computed: 'once', calls: 1 });
      await expect(cache.get('hot')).resolves.toEqual({ computed: 'once', calls: 1 });
      expect(cache.stats().loads).toBe(1);
    });

    it("a failing loader's error reaches every concurrent caller; nothing is cached and the next call reloads", async () => {
      const boom = new Error('source unavailable');
      let calls = 0;
      const failing = async () => {
        calls += 1;
        await sleep(20);
        throw boom;
      };
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrSet('k', failing)));

      expect(calls).toBe(1);
      for (const outcome of outcomes) expect(outcome).toEqual({ status: 'rejected', reason: boom });
      await expect(cache.exists('k')).resolves.toBe(false);
      await expect(cache.get('k')).resolves.toBeUndefined();

      // Also proves the lease was released: a lease left behind would make this fill be skipped.
      await expect(cache.getOrSet('k', () => 'recovered')).resolves.toBe('recovered');
      await expect(cache.get('k')).resolves.toBe('recovered');
    });

    it.each([
      ['a function', () => 'not data'],
      ['a circular structure', circular()],
    ])('an unserializable loader result (%s) is served, not cached, and counted as an error', async (_, result) => {
      await expect(cache.getOrSet('k', () => result)).resolves.toBe(result);
      expect(cache.stats()).toMatchObject({ errors: 1, loads: 1 });
      await expect(cache.exists('k')).resolves.toBe(false);

      // The lease is gone too: the next read-through fills normally.
      await expect(cache.getOrSet('k', () => 'data')).resolves.toBe('data');
      await expect(cache.get('k')).resolves.toBe('data');
    });
  });

  describe('getMany / setMany', () => {
    it('returns results aligned with the keys, undefined for misses, with per-entry TTLs', async () => {
      await expect(
        cache.setMany([
          { key: 'a', value: 1 },
          { key: 'b', value: { two: 2 }, ttl: 0.5 },
          { key: 'c', value: null },
        ]),
      ).resolves.toBe(true);

      const values = await cache.getMany(['a', 'missing', 'b', 'c', 'a']);
      expect(values).toHaveLength(5);
      expect(values[0]).toBe(1);
      expect(values[1]).toBeUndefined();
      expect(values[2]).toEqual({ two: 2 });
      expect(values[3]).toBeNull();
      expect(values[4]).toBe(1);
      expect(cache.stats()).toMatchObject({ hits: 4, misses: 1 });
      await expect(cache.getMany([])).resolves.toEqual([]);

      await sleep(1_100);
      await expect(cache.getMany(['a', 'b', 'c'])).resolves.toStrictEqual([1, undefined, null]);
    });
  });

  describe('pattern invalidation', () => {
    const keys = ['user:1:profile', 'user:1:orders', 'user:2:profile'];

    it("deletes only this domain's matching entries: another domain's same keys survive", async () => {
      await cache.setMany(keys.map((key) => ({ key, value: key })));
      await app.peer.setMany(keys.map((key) => ({ key, value: key })));

      await expect(cache.invalidatePattern('user:1:*')).resolves.toBe(2);
      await expect(cache.getMany(keys)).resolves.toStrictEqual([undefined, undefined, 'user:2:profile']);
      await expect(app.peer.getMany(keys)).resolves.toStrictEqual(keys);
    });

    it('ids with glob characters, escaped with escapeGlob, delete only themselves (M9)', async () => {
      const ids = ['*', 'a*', '[ag]*', 'ac?e', 'acme', 'ace', 'acxe', 'globex', 'a.c', 'abc', 'back\\slash', 'back'];
      const keyOf = (id: string) => `${id}:user:1`;
      const seed = () => cache.setMany(ids.map((id) => ({ key: keyOf(id), value: id })));

      // Control: the same id unescaped reaches other tenants, so this data tells the two apart.
      await seed();
      await expect(cache.invalidatePattern(`[ag]*:*`)).resolves.toBeGreaterThan(1);

      for (const id of ['*', 'a*', '[ag]*', 'ac?e', 'a.c', 'back\\slash']) {
        await seed();
        await expect(cache.invalidatePattern(`${escapeGlob(id)}:*`)).resolves.toBe(1);
        await expect(cache.getMany(ids.map(keyOf))).resolves.toStrictEqual(
          ids.map((other) => (other === id ? undefined : other)),
        );
      }
    });

    it('clear() empties this domain only and returns how many entries it deleted', async () => {
      await cache.setMany(keys.map((key) => ({ key, value: key })));
      await app.peer.setMany([
        { key: 'k1', value: 1 },
        { key: 'k2', value: 2 },
      ]);

      await expect(cache.clear()).resolves.toBe(3);
      await expect(cache.getMany(keys)).resolves.toStrictEqual([undefined, undefined, undefined]);
      await expect(app.peer.getMany(['k1', 'k2'])).resolves.toStrictEqual([1, 2]);
      await expect(cache.clear()).resolves.toBe(0);
    });

    it("clear() of a domain whose prefix holds glob characters ('a*:') leaves the 'ab:' domain alone", async () => {
      await app.star.set('k', 'star');
      await app.ab.set('k', 'ab');

      await expect(app.star.clear()).resolves.toBe(1);
      await expect(app.star.get('k')).resolves.toBeUndefined();
      await expect(app.ab.get('k')).resolves.toBe('ab');
    });
  });

  describe('stats', () => {
    it('counts hits, misses, hit ratio, loads and errors per domain', async () => {
      expect(cache.stats()).toEqual({
        hits: 0,
        misses: 0,
        hitRatio: 0,
        errors: 0,
        errorsByKind: {
          timeout: 0,
          unavailable: 0,
          circuitOpen: 0,
          overloaded: 0,
          command: 0,
          serialization: 0,
          corruptEntry: 0,
          other: 0,
        },
        loads: 0,
        corruptEntries: 0,
        staleFillsDiscarded: 0,
        overloaded: 0,
        circuitOpen: 0,
        warmingErrors: 0,
        l1Hits: 0,
        l1Misses: 0,
        l1Evictions: 0,
        l1Invalidations: 0,
        fleetWaits: 0,
        fleetWaitTimeouts: 0,
        refreshes: 0,
        refreshErrors: 0,
        staleServed: 0,
        sets: 0,
        deletes: 0,
        invalidations: 0,
      });

      await cache.get('a'); // miss
      await cache.set('a', 1);
      await cache.get('a'); // hit
      await cache.get('a'); // hit
      await cache.getOrSet('b', () => 2); // miss + load
      await cache.getOrSet('b', () => 3); // hit
      await cache.getOrSet('c', () => () => 'unserializable'); // miss + load + error

      expect(cache.stats()).toMatchObject({ hits: 3, misses: 3, hitRatio: 0.5, loads: 2, errors: 1 });
      expect(cache.stats().errorsByKind).toMatchObject({ serialization: 1, other: 0 });
      expect(app.peer.stats()).toMatchObject({ hits: 0, misses: 0, loads: 0, errors: 0 });
    });
  });

  describe('stale-fill protection', () => {
    const cases: Array<[string, (c: Cache) => Promise<unknown>, unknown]> = [
      ['delete(key)', (c) => c.delete('stale:1'), undefined],
      ['set(key, newer)', (c) => c.set('stale:1', 'newer'), 'newer'],
      ['invalidatePattern', (c) => c.invalidatePattern('stale:*'), undefined],
      ['clear()', (c) => c.clear(), undefined],
      ['deleteMany([key, other])', (c) => c.deleteMany(['other', 'stale:1']), undefined],
    ];

    it.each(cases)(
      'a read-through still loading when %s happens does not store its result',
      async (_, invalidate, expected) => {
        const started = deferred();
        const gate = deferred<string>();
        const pending = cache.getOrSet('stale:1', async () => {
          started.resolve();
          return gate.promise;
        });
        await started.promise;
        // The fill in progress is a miss to readers, never the lease itself.
        await expect(cache.get('stale:1')).resolves.toBeUndefined();
        await expect(cache.exists('stale:1')).resolves.toBe(false);

        await invalidate(cache);
        gate.resolve('loaded before the change');

        await expect(pending).resolves.toBe('loaded before the change');
        await expect(cache.get('stale:1')).resolves.toBe(expected);
        expect(cache.stats().staleFillsDiscarded).toBe(1);
      },
    );
  });

  describe('deleteMany', () => {
    it('removes every given key in one call and counts those that existed', async () => {
      await cache.setMany([
        { key: 'd1', value: 1 },
        { key: 'd2', value: 2 },
        { key: 'keep', value: 3 },
      ]);
      await expect(cache.deleteMany(['d1', 'd2', 'never', 'd1'])).resolves.toBe(2);
      await expect(cache.getMany(['d1', 'd2', 'keep'])).resolves.toEqual([undefined, undefined, 3]);
      await expect(cache.deleteMany([])).resolves.toBe(0);
    });

    it('refuses a bad key before deleting any', async () => {
      await cache.set('d1', 1);
      expect(await failureOf(() => cache.deleteMany(['d1', '__elile:x']))).toBeInstanceOf(CacheArgumentError);
      await expect(cache.get('d1')).resolves.toBe(1);
    });
  });

  describe('fillAbsent (warming)', () => {
    it('loads and stores only the absent keys, in one load call, and leaves present ones alone', async () => {
      await cache.set('w:present', 'cached before');
      const load = jest.fn((keys: readonly string[]) => keys.map((key) => `loaded ${key}`));
      await expect(cache.fillAbsent(['w:1', 'w:present', 'w:2', 'w:1'], load)).resolves.toEqual({
        filled: 2,
        present: 1,
        refused: 0,
        skipped: 0,
        failed: 0,
      });
      expect(load).toHaveBeenCalledTimes(1);
      expect([...load.mock.calls[0][0]].sort()).toEqual(['w:1', 'w:2']);
      await expect(cache.getMany(['w:1', 'w:2', 'w:present'])).resolves.toEqual([
        'loaded w:1',
        'loaded w:2',
        'cached before',
      ]);
    });

    it('does not call the loader when every key is present', async () => {
      await cache.set('w:1', 'cached');
      const load = jest.fn((keys: readonly string[]) => keys.map(() => 'loaded'));
      await expect(cache.fillAbsent(['w:1'], load)).resolves.toMatchObject({ filled: 0, present: 1 });
      expect(load).not.toHaveBeenCalled();
    });

    it('leaves a key alone while a read-through holds its lease', async () => {
      const started = deferred();
      const gate = deferred<string>();
      const reading = cache.getOrSet('w:1', async () => {
        started.resolve();
        return gate.promise;
      });
      await started.promise;
      const load = jest.fn((keys: readonly string[]) => keys.map(() => 'warmed'));
      await expect(cache.fillAbsent(['w:1'], load)).resolves.toMatchObject({ filled: 0, present: 1 });
      expect(load).not.toHaveBeenCalled();
      gate.resolve('read through');
      await reading;
      await expect(cache.get('w:1')).resolves.toBe('read through');
    });

    const changes: Array<[string, (c: Cache) => Promise<unknown>, unknown]> = [
      ['set(key, newer)', (c) => c.set('w:1', 'newer'), 'newer'],
      ['delete(key)', (c) => c.delete('w:1'), undefined],
      ['invalidateTags([its tag])', (c) => c.invalidateTags(['t']), undefined],
      ['clear()', (c) => c.clear(), undefined],
    ];

    it.each(changes)(
      'a key changed by %s while its warmer loads keeps the newer state',
      async (_, change, expected) => {
        const started = deferred();
        const gate = deferred<string[]>();
        const warming = cache.fillAbsent(
          ['w:1', 'w:2'],
          async () => {
            started.resolve();
            return gate.promise;
          },
          { tags: () => ['t'] },
        );
        await started.promise;
        await change(cache);
        gate.resolve(['stale 1', 'stale 2']);
        const result = await warming;

        await expect(cache.get('w:1')).resolves.toBe(expected);
        expect(result.refused).toBeGreaterThanOrEqual(1);
        expect(result.filled + result.refused).toBe(2);
        expect(cache.stats().staleFillsDiscarded).toBe(result.refused);
      },
    );

    it('gives the leases back when the loader fails, and counts the keys in warmingErrors', async () => {
      await cache.set('w:present', 'cached');
      const failure = new Error('source down');
      await expect(
        cache.fillAbsent(['w:1', 'w:2', 'w:present'], () => {
          throw failure;
        }),
      ).resolves.toEqual({ filled: 0, present: 1, refused: 0, skipped: 0, failed: 2, loadError: failure });
      expect(cache.stats().warmingErrors).toBe(2);
      // No lease left behind: a read-through right away loads and stores.
      await expect(cache.getOrSet('w:1', () => 'after')).resolves.toBe('after');
      await expect(cache.get('w:1')).resolves.toBe('after');
    });

    it('refuses a loader that returns a value count other than its keys, storing nothing', async () => {
      const { failed, loadError } = await cache.fillAbsent(['w:1', 'w:2'], () => ['only one']);
      expect(failed).toBe(2);
      expect(loadError).toBeInstanceOf(CacheArgumentError);
      expect((loadError as Error).message).toContain('given 2 keys and returned 1 values');
      await expect(cache.getOrSet('w:1', () => 'after')).resolves.toBe('after');
    });

    it('skips keys whose value is undefined (nothing to cache)', async () => {
      await expect(
        cache.fillAbsent(['w:1', 'w:2'], (keys) => keys.map((key) => (key === 'w:1' ? undefined : 2))),
      ).resolves.toEqual({
        filled: 1,
        present: 0,
        refused: 0,
        skipped: 1,
        failed: 0,
      });
      await expect(cache.getOrSet('w:1', () => 'loaded later')).resolves.toBe('loaded later');
    });

    it.each([[-0.1], [1], [NaN], ['0.1']])('refuses jitter %p before writing anything', async (jitter) => {
      const load = jest.fn((keys: readonly string[]) => keys);
      expect(await failureOf(() => cache.fillAbsent(['w:1'], load, { jitter: jitter as number }))).toBeInstanceOf(
        CacheArgumentError,
      );
      expect(load).not.toHaveBeenCalled();
      await expect(cache.getOrSet('w:1', () => 'free')).resolves.toBe('free');
    });
  });

  if (target.sharedAcrossApps) {
    describe('across application instances', () => {
      it('an entry written by one instance is read by another', async () => {
        const other = await boot();
        await cache.set('shared', { from: 'first' });
        await expect(other.main.get('shared')).resolves.toEqual({ from: 'first' });
        await expect(other.main.delete('shared')).resolves.toBe(true);
        await expect(cache.get('shared')).resolves.toBeUndefined();
      });

      it("a read-through meeting another instance's lease, told not to wait, serves its own loader result without storing it", async () => {
        const other = await boot();
        const started = deferred();
        const gate = deferred<string>();
        const first = cache.getOrSet('shared', async () => {
          started.resolve();
          return gate.promise;
        });
        await started.promise;

        const secondLoader = jest.fn(() => 'from the second instance');
        await expect(other.main.getOrSet('shared', secondLoader, { wait: 0 })).resolves.toBe(
          'from the second instance',
        );
        expect(secondLoader).toHaveBeenCalledTimes(1);
        await expect(other.main.get('shared')).resolves.toBeUndefined();

        // The lease holder's fill still lands, since nothing invalidated the key.
        gate.resolve('from the lease holder');
        await expect(first).resolves.toBe('from the lease holder');
        await expect(other.main.get('shared')).resolves.toBe('from the lease holder');
        expect(other.main.stats().staleFillsDiscarded).toBe(0);
        expect(cache.stats().staleFillsDiscarded).toBe(0);
      });
    });
  }
}

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
}
