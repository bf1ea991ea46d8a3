import Redis from 'ioredis';
import { CacheArgumentError, CacheCommandError, type CacheService, escapeGlob, RedisClient } from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { type CacheApp, closeRaw, failureOf, rawRedis, sleep, startCacheApp, waitFor } from './cache-test-app';

const namespace = uniqueNamespace('redis-client');
let app: CacheApp;
let client: RedisClient;
let raw: Redis;

beforeAll(async () => {
  app = await startCacheApp({ store: 'redis', namespace, redis: { url: testRedisUrl() } });
  client = app.redis;
  raw = rawRedis(testRedisUrl());
});

afterAll(async () => {
  await app?.close();
  await closeRaw(raw);
  await deleteNamespace(testRedisUrl(), namespace);
});

/** RedisClient has no namespace of its own; these tests put theirs in front of every key. */
const key = (name: string) => `${namespace}${name}`;

async function countMatching(pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

describe('RedisClient: the sketch operations', () => {
  it('is injected as the module connection and exposes the ioredis instance', async () => {
    expect(app.moduleRef.get(RedisClient)).toBe(client);
    expect(client.connection).toBeInstanceOf(Redis);
    expect(client.isReady).toBe(true);
    await client.connection.set(key('via-connection'), 'raw');
    await expect(client.get(key('via-connection'))).resolves.toBe('raw');
  });

  it('set without a TTL stores a string that does not expire', async () => {
    await client.set(key('plain'), 'value');
    await expect(client.get(key('plain'))).resolves.toBe('value');
    await expect(raw.pttl(key('plain'))).resolves.toBe(-1);
  });

  it('set with a TTL in seconds (fractions too) expires the key', async () => {
    await client.set(key('ttl'), 'value', 90);
    const pttl = await raw.pttl(key('ttl'));
    expect(pttl).toBeGreaterThan(85_000);
    expect(pttl).toBeLessThanOrEqual(90_000);

    await client.set(key('short'), 'value', 0.5);
    await expect(client.get(key('short'))).resolves.toBe('value');
    await sleep(1_000);
    await expect(client.get(key('short'))).resolves.toBeNull();
  });

  it('set stores bytes unchanged, and get of a missing key is null', async () => {
    const bytes = Buffer.from([0, 0xe1, 0xff, 10, 13]);
    await client.set(key('bytes'), bytes);
    await expect(client.getBuffer(key('bytes'))).resolves.toEqual(bytes);
    await expect(client.get(key('never-written'))).resolves.toBeNull();
    await expect(client.getBuffer(key('never-written'))).resolves.toBeNull();
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an object', { a: 1 }],
    ['a number', 42],
  ])('set with %s is refused with CacheArgumentError and stores nothing (M17)', async (_, value) => {
    const target = key(`refused-${String(value)}`);
    expect(await failureOf(() => client.set(target, value as unknown as string))).toBeInstanceOf(CacheArgumentError);
    await expect(raw.exists(target)).resolves.toBe(0);
  });

  it.each([0, -1, NaN, Infinity, '5', null, 1e300])('set with TTL %p is refused and stores nothing', async (ttl) => {
    const target = key(`bad-ttl-${String(ttl)}`);
    expect(await failureOf(() => client.set(target, 'v', ttl as number))).toBeInstanceOf(CacheArgumentError);
    await expect(raw.exists(target)).resolves.toBe(0);
  });

  it('delete removes several keys and returns how many existed', async () => {
    await raw.mset(key('d1'), '1', key('d2'), '2', key('d3'), '3');
    await expect(client.delete(key('d1'), key('d2'), key('d-missing'))).resolves.toBe(2);
    await expect(raw.exists(key('d1'), key('d2'))).resolves.toBe(0);
    await expect(raw.get(key('d3'))).resolves.toBe('3');
    await expect(client.delete()).resolves.toBe(0);
  });

  it('exists tells present from absent keys', async () => {
    await raw.set(key('present'), '');
    await expect(client.exists(key('present'))).resolves.toBe(true);
    await expect(client.exists(key('absent'))).resolves.toBe(false);
  });

  it('increment adds 1 by default, or the given whole amount, and returns the new value', async () => {
    await expect(client.increment(key('counter'))).resolves.toBe(1);
    await expect(client.increment(key('counter'), 5)).resolves.toBe(6);
    await expect(client.increment(key('counter'), -2)).resolves.toBe(4);
    await expect(raw.get(key('counter'))).resolves.toBe('4');

    expect(await failureOf(() => client.increment(key('counter'), 1.5))).toBeInstanceOf(CacheArgumentError);
    await expect(raw.get(key('counter'))).resolves.toBe('4');
  });

  it("increment of a value that is not a number fails with CacheCommandError naming Redis's reply", async () => {
    await raw.set(key('text'), 'not a number');
    const failure = await failureOf(() => client.increment(key('text')));
    expect(failure).toBeInstanceOf(CacheCommandError);
    expect((failure as Error).message).toMatch(/not an integer/i);
  });

  it('expire sets a TTL in seconds on an existing key and reports whether the key existed', async () => {
    await raw.set(key('expiring'), 'v');
    await expect(client.expire(key('expiring'), 0.5)).resolves.toBe(true);
    await expect(client.expire(key('no-such-key'), 10)).resolves.toBe(false);
    expect(await failureOf(() => client.expire(key('expiring'), 0))).toBeInstanceOf(CacheArgumentError);
    await sleep(1_000);
    await expect(client.exists(key('expiring'))).resolves.toBe(false);
  });
});

describe('RedisClient.deletePattern', () => {
  it('deletes every match across many SCAN batches (2600 keys) and nothing else', async () => {
    const matching = Array.from({ length: 2_600 }, (_, i) => key(`bulk:${i}`));
    const bystanders = Array.from({ length: 50 }, (_, i) => key(`bulkier:${i}`));
    await raw.mset(Object.fromEntries([...matching, ...bystanders].map((k) => [k, '1'])));

    await expect(client.deletePattern(`${escapeGlob(key('bulk:'))}*`)).resolves.toBe(2_600);

    await expect(countMatching(`${escapeGlob(key('bulk:'))}*`)).resolves.toBe(0);
    await expect(countMatching(`${escapeGlob(key('bulkier:'))}*`)).resolves.toBe(50);
  });

  it('with ids escaped by escapeGlob, deletes only that id (M9)', async () => {
    const ids = ['*', 'a*', '[ag]*', 'ac?e', 'acme', 'ace', 'globex', 'back\\slash'];
    const tenantKey = (id: string) => key(`t:${id}:user:1`);
    const seed = () => raw.mset(Object.fromEntries(ids.map((id) => [tenantKey(id), id])));

    for (const id of ['*', 'a*', '[ag]*', 'ac?e', 'back\\slash']) {
      await seed();
      await expect(client.deletePattern(`${escapeGlob(key(`t:${id}:`))}*`)).resolves.toBe(1);
      const left = await raw.mget(...ids.map(tenantKey));
      expect(left).toEqual(ids.map((other) => (other === id ? null : other)));
    }
  });

  it('returns 0 when nothing matches', async () => {
    await expect(client.deletePattern(`${escapeGlob(key('nothing-here:'))}*`)).resolves.toBe(0);
  });
});

describe('corrupt entries under a cache key', () => {
  let cache: CacheService<unknown>;

  beforeAll(() => {
    cache = app.main;
  });

  it('are read as a miss, deleted and counted, without throwing', async () => {
    await cache.set('real', { data: 'value', list: [1, 2, 3], when: new Date(0) });
    const realEntry = (await raw.getBuffer(cache.fullKey('real')))!;
    expect(realEntry.length).toBeGreaterThan(8);

    const corrupt: Array<[string, Buffer | string]> = [
      ['garbage', Buffer.from('this was written by another program')],
      ['binary', Buffer.from([0x00, 0xff, 0x13, 0x37])],
      ['empty', ''],
      ['truncated', realEntry.subarray(0, realEntry.length - 4)],
      ['header only', realEntry.subarray(0, 3)],
      ['unknown codec', Buffer.concat([Buffer.from([realEntry[0], 0x63, 0]), realEntry.subarray(3)])],
    ];
    const before = cache.stats();
    for (const [name, bytes] of corrupt) await raw.set(cache.fullKey(name), bytes);

    for (const [name] of corrupt) {
      await expect(cache.get(name)).resolves.toBeUndefined();
    }
    for (const [name] of corrupt) {
      await waitFor(
        `corrupt entry "${name}" to be deleted`,
        async () => (await raw.exists(cache.fullKey(name))) === 0,
        2_000,
      );
    }
    const after = cache.stats();
    expect(after.corruptEntries - before.corruptEntries).toBe(corrupt.length);
    expect(after.errors - before.errors).toBe(corrupt.length);
    expect(after.misses - before.misses).toBe(corrupt.length);
    await expect(cache.get('real')).resolves.toEqual({ data: 'value', list: [1, 2, 3], when: new Date(0) });
  });

  it('do not break getMany, exists or getOrSet, which refill the key', async () => {
    await raw.set(cache.fullKey('bad-1'), 'garbage');
    await raw.set(cache.fullKey('bad-2'), 'garbage');
    await cache.set('good', 'fine');

    await expect(cache.getMany(['bad-1', 'good'])).resolves.toStrictEqual([undefined, 'fine']);
    await expect(cache.exists('bad-2')).resolves.toBe(false);
    await expect(cache.getOrSet('bad-2', () => 'refilled')).resolves.toBe('refilled');
    await expect(cache.get('bad-2')).resolves.toBe('refilled');
  });
});
