import type { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import Redis from 'ioredis';
import { isDeepStrictEqual } from 'node:util';
import { CacheConfigurationError, CacheRegistry, type CacheService } from '@elile/cache';
import {
  EmptyEvictService,
  KeylessPutService,
  NegativeTtlService,
  NonNumericTtlService,
  UnknownDomainService,
  ZeroTtlPutService,
} from '../../fixtures/misconfigured.providers';
import { bootFailure, createDecoratedApp, sleep, STORE_KINDS, type StoreKind } from '../../fixtures/decorated-app';
import { FixtureError, OptionsService } from '../../fixtures/options.service';
import { deleteNamespace, escapeGlob, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const namespace = uniqueNamespace('decorator-options');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

/** Every key this file's apps wrote to Redis in a domain, without the namespace and prefix. */
async function redisKeys(domainPrefix: string): Promise<string[]> {
  const client = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${escapeGlob(namespace + domainPrefix)}*`, 'COUNT', 500);
      cursor = next;
      found.push(...keys.map((key) => key.slice(namespace.length + domainPrefix.length)));
    } while (cursor !== '0');
    return found;
  } finally {
    await client.quit();
  }
}

async function pttl(fullKey: string): Promise<number> {
  const client = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    return await client.pttl(fullKey);
  } finally {
    await client.quit();
  }
}

describe.each(STORE_KINDS)('decorator options on the %s store', (store: StoreKind) => {
  let app: INestApplication;
  let service: OptionsService;
  let items: CacheService<unknown>;
  let people: CacheService<unknown>;

  beforeAll(async () => {
    app = await createDecoratedApp({ store, namespace: `${namespace}${store}:`, providers: [OptionsService] });
    service = app.get(OptionsService);
    items = app.get(CacheRegistry).get('items');
    people = app.get(CacheRegistry).get('people');
  });

  afterAll(async () => {
    await app.close();
  });

  // The sketch's test_cache_decorator: the same argument twice runs the body once.
  it('runs a method called twice with the same argument once (test_cache_decorator)', async () => {
    const first = await service.lookup('sketch-1');
    const second = await service.lookup('sketch-1');
    expect(second).toEqual(first);
    expect(first.run).toBe(second.run);
    expect(service.runs.of('lookup')).toBe(first.run);
  });

  describe('@Cacheable', () => {
    it('stores under the key function result', async () => {
      await service.keyed('key-1');
      expect(await items.get('k:key-1')).toBe(service.runs.of('keyed:key-1'));
    });

    it('expires entries after their own ttl, overriding the domain default', async () => {
      expect(await service.shortLived('ttl-1')).toBe(1);
      expect(await service.shortLived('ttl-1')).toBe(1);
      // 0.4 s TTL: well past it the entry is gone and the body runs again.
      await sleep(700);
      expect(await service.shortLived('ttl-1')).toBe(2);
    });

    it('bypasses the cache entirely when condition returns false', async () => {
      expect(await service.conditional('live-1')).toBe(1);
      expect(await service.conditional('live-1')).toBe(2);
      expect(await items.exists('cond:live-1')).toBe(false);
      // The same method with condition true is cached: the bypass is the condition's doing.
      expect(await service.conditional('stored-1')).toBe(1);
      expect(await service.conditional('stored-1')).toBe(1);
      expect(await items.exists('cond:stored-1')).toBe(true);
    });

    it('returns but does not store a result for which unless returns true', async () => {
      expect(await service.document('doc-1', true)).toEqual({ id: 'doc-1', draft: true, run: 1 });
      expect(await items.exists('draft:doc-1')).toBe(false);
      expect((await service.document('doc-1', false)).run).toBe(2);
      expect(await items.exists('draft:doc-1')).toBe(true);
      expect((await service.document('doc-1', true)).run).toBe(2);
    });

    it('tags entries from the arguments and the result, and @CacheEvict({ tags }) evicts only those', async () => {
      await service.person('p1', 'alice', 'g1');
      await service.person('p2', 'alice', 'g2');
      await service.person('p3', 'bob', 'g1');
      await service.person('p4', 'bob', 'g4');

      await service.forgetOwner('alice');
      expect(await people.exists('person:p1')).toBe(false);
      expect(await people.exists('person:p2')).toBe(false);
      expect(await people.exists('person:p3')).toBe(true);
      expect(await people.exists('person:p4')).toBe(true);
      expect((await service.person('p1', 'alice', 'g1')).run).toBe(2);
      expect((await service.person('p3', 'bob', 'g1')).run).toBe(1);

      // Tag from the result (the group), via the eviction's result: p1 and p3 are in g1.
      await service.regroup('moved-from-g1');
      expect(await people.exists('person:p1')).toBe(false);
      expect(await people.exists('person:p3')).toBe(false);
      expect(await people.exists('person:p4')).toBe(true);
    });
  });

  describe('@CacheEvict', () => {
    it('evicts one key, several keys, or every entry of the domain (and only that domain)', async () => {
      for (const id of ['e-a', 'e-b', 'e-c', 'e-d']) await service.keyed(id);
      await service.person('e-person', 'carol', 'g9');

      await service.evictOne('e-a');
      expect(await items.exists('k:e-a')).toBe(false);
      expect(await items.exists('k:e-b')).toBe(true);

      await service.evictSome('e-b', 'e-c');
      expect(await items.exists('k:e-b')).toBe(false);
      expect(await items.exists('k:e-c')).toBe(false);
      expect(await items.exists('k:e-d')).toBe(true);

      await service.evictAll();
      expect(await items.exists('k:e-d')).toBe(false);
      expect(await service.keyed('e-d')).toBe(2);
      expect(await people.exists('person:e-person')).toBe(true);
    });

    it('evicts nothing when the method throws', async () => {
      const before = await service.keyed('fail-1');
      await expect(service.failingUpdate('fail-1')).rejects.toBeInstanceOf(FixtureError);
      expect(await items.exists('k:fail-1')).toBe(true);
      expect(await service.keyed('fail-1')).toBe(before);
    });

    it('with beforeInvocation, evicts before the body runs, even when it throws', async () => {
      await service.keyed('early-1');
      await expect(service.failingUpdateEvictingFirst('early-1')).rejects.toBeInstanceOf(FixtureError);
      expect(await items.exists('k:early-1')).toBe(false);

      await service.keyed('early-2');
      const seenDuringBody = await service.updateEvictingFirst('early-2', () => items.exists('k:early-2'));
      expect(seenDuringBody).toBe(false);
    });
  });

  describe('the default key', () => {
    it('hits for deeply equal arguments whatever their key order', async () => {
      const first = await service.lookup({ a: 1, b: { c: [1, { d: 2, e: 3 }], f: 'x' } }, 'tail');
      const second = await service.lookup({ b: { f: 'x', c: [1, { e: 3, d: 2 }] }, a: 1 }, 'tail');
      expect(second.run).toBe(first.run);
    });

    it.each<[string, unknown, unknown]>([
      ['a number and its string', 1, '1'],
      ['objects with different values', { a: 1 }, { a: 2 }],
      ['a Date and its ISO string', new Date('2026-01-05T09:00:00.000Z'), '2026-01-05T09:00:00.000Z'],
      ['null and undefined', null, undefined],
      ['an array and an object with index keys', ['x'], { 0: 'x' }],
      ['two different Dates', new Date(0), new Date(1)],
    ])('misses for %s', async (_label, left, right) => {
      const a = await service.lookup('distinct', left);
      const b = await service.lookup('distinct', right);
      expect(b.run).not.toBe(a.run);
      // And each is cached under its own key.
      expect((await service.lookup('distinct', left)).run).toBe(a.run);
      expect((await service.lookup('distinct', right)).run).toBe(b.run);
    });

    it('hits exactly when the arguments are deeply equal (property)', async () => {
      // A clone with every object's keys reversed: equal arguments, different insertion order.
      const reordered = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(reordered);
        if (value && typeof value === 'object') {
          return Object.fromEntries(
            Object.entries(value)
              .reverse()
              .map(([k, v]) => [k, reordered(v)]),
          );
        }
        return value;
      };
      // The method returns its arguments, and values with these keys are refused by the codecs
      // (never cached: test/unit/codec), which would read here as two entries.
      const cacheable = fc
        .jsonValue({ maxDepth: 3 })
        .filter((value) => !/"(__proto__|constructor|prototype)":/.test(JSON.stringify(value)));
      await fc.assert(
        fc.asyncProperty(cacheable, cacheable, fc.boolean(), async (a, other, same) => {
          const b = same ? reordered(a) : other;
          // Every body run has a distinct number, so equal runs mean one entry served both.
          const first = await service.lookup('property', a);
          const second = await service.lookup('property', b);
          expect(second.run === first.run).toBe(isDeepStrictEqual(a, b));
        }),
        { numRuns: store === 'memory' ? 150 : 40 },
      );
    });

    it('an argument with no stable identity (a function) bypasses the cache and counts an error', async () => {
      const errorsBefore = items.stats().errors;
      const callback = () => 'not a key';
      const first = await service.lookup('fn-arg', callback);
      const second = await service.lookup('fn-arg', callback);
      expect(second.run).toBe(first.run + 1);
      expect(first.args[1]).toBe(callback);
      expect(items.stats().errors).toBeGreaterThanOrEqual(errorsBefore + 2);
    });

    it('stays bounded for a huge argument and still tells huge arguments apart', async () => {
      const huge = 'x'.repeat(20_000);
      const first = await service.lookup(huge + 'A');
      expect((await service.lookup(huge + 'A')).run).toBe(first.run);
      expect((await service.lookup(huge + 'B')).run).not.toBe(first.run);
    });
  });
});

describe('default keys as stored in Redis', () => {
  let app: INestApplication;
  let service: OptionsService;

  beforeAll(async () => {
    app = await createDecoratedApp({ store: 'redis', namespace, providers: [OptionsService] });
    service = app.get(OptionsService);
    const ttlApp = app.get(CacheRegistry).get('items');
    expect(ttlApp.fullKey('x')).toBe(`${namespace}items:x`);
  });

  afterAll(async () => {
    await app.close();
  });

  it('names class and method, never contains [object Object], and is at most ~200 characters', async () => {
    await service.lookup({ user: { id: 7 } }, [{ nested: true }], new Map([['k', { v: 1 }]]));
    await service.lookup('y'.repeat(50_000));
    const keys = (await redisKeys('items:')).filter((key) => key.startsWith('__elile:gen:OptionsService.lookup:'));
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(key).not.toContain('[object Object]');
      // 200 kept as they are; longer ones hashed to 205 (so a kept key never equals a hashed one).
      expect(key.length).toBeLessThanOrEqual(205);
    }
  });

  it('applies the ttl option in Redis (seconds, overriding the domain default of 60 s)', async () => {
    const items = app.get(CacheRegistry).get('items');
    await service.longLived('pttl-1');
    await service.shortLived('pttl-1');
    const long = await pttl(items.fullKey('long:pttl-1'));
    const short = await pttl(items.fullKey('short:pttl-1'));
    expect(long).toBeGreaterThan(60_000);
    expect(long).toBeLessThanOrEqual(3_600_000);
    expect(short).toBeGreaterThan(0);
    expect(short).toBeLessThanOrEqual(400);
  });
});

describe('misconfigured decorators fail at boot', () => {
  it.each([
    ['an unknown domain', UnknownDomainService, 'UnknownDomainService#load', /no-such-domain/],
    [
      '@CacheEvict with nothing to evict',
      EmptyEvictService,
      'EmptyEvictService#forget',
      /key, keys, tags or allEntries/,
    ],
    ['@CachePut without a key', KeylessPutService, 'KeylessPutService#store', /key/],
    ['a negative ttl', NegativeTtlService, 'NegativeTtlService#load', /ttl/],
    ['a ttl that is not a number', NonNumericTtlService, 'NonNumericTtlService#load', /ttl/],
    ['a zero ttl on @CachePut', ZeroTtlPutService, 'ZeroTtlPutService#store', /ttl/],
  ])('%s → CacheConfigurationError naming the method', async (_label, provider, where, detail) => {
    const error = await bootFailure({ store: 'memory', namespace, providers: [provider] });
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect(error.message).toContain(where);
    expect(error.message).toMatch(detail);
  });
});
