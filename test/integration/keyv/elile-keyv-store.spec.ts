import Keyv from 'keyv';
import { Keyv as Keyv6 } from 'keyv6';
import {
  CacheArgumentError,
  CacheSerializationError,
  CacheTimeoutError,
  CacheUnavailableError,
  ElileKeyvStore,
} from '@elile/cache';
import type Redis from 'ioredis';
import { type CacheApp, closeRaw, rawRedis, startCacheApp } from '../cache-test-app';
import { findFreePort } from '../../support/redis-harness';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const namespace = uniqueNamespace('keyv-store');
const DOMAIN = 'kv';
const PREFIX = `${namespace}kv:`;
const ENTRY_MARK = 0xe1;

let app: CacheApp;
let raw: Redis;

beforeAll(async () => {
  app = await startCacheApp({
    store: 'redis',
    redis: { url: testRedisUrl() },
    namespace,
    domains: { [DOMAIN]: { ttl: 60 } },
  });
  raw = rawRedis(testRedisUrl());
});

afterAll(async () => {
  await closeRaw(raw);
  await app?.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

beforeEach(() => deleteNamespace(testRedisUrl(), namespace));

const cache = () => app.registry.get(DOMAIN);
const keyv = (ns?: string) => new Keyv({ store: new ElileKeyvStore(cache()), namespace: ns });
const rawKeyv = (ns?: string) =>
  new Keyv({ store: new ElileKeyvStore(cache()), namespace: ns, serialize: undefined, deserialize: undefined });

async function keysUnder(prefix = PREFIX): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await raw.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys.sort();
}

describe('ElileKeyvStore on a real Redis', () => {
  describe('keys and TTLs', () => {
    it("stores under the domain's prefix, in the namespace's length-prefixed space, for Keyv's TTL in ms", async () => {
      await keyv('users').set('u1', { name: 'Ada' }, 5_000);
      const key = `${PREFIX}keyv:5:users:users:u1`;
      expect(await keysUnder()).toEqual([key]);
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000);
    });

    it("gives an entry without a Keyv TTL the domain's TTL, and keys without a namespace their own space", async () => {
      await keyv().set('plain', 1);
      const key = `${PREFIX}keyv:-:plain`;
      expect(await keysUnder()).toEqual([key]);
      expect(await raw.pttl(key)).toBeGreaterThan(5_000);
      expect(await raw.pttl(key)).toBeLessThanOrEqual(60_000);
    });

    it('keeps sub-second TTLs exact in milliseconds', async () => {
      await keyv().set('brief', 1, 1_500);
      const pttl = await raw.pttl(`${PREFIX}keyv:-:brief`);
      expect(pttl).toBeGreaterThan(1_000);
      expect(pttl).toBeLessThanOrEqual(1_500);
    });

    it('accepts keys that start with the reserved __elile: prefix, inside the Keyv space', async () => {
      const store = keyv('ns');
      expect(await store.set('__elile:scope:4:acme:k', 'v')).toBe(true);
      expect(await store.get('__elile:scope:4:acme:k')).toBe('v');
      expect(await keyv().set('__elile:tag:x', 'w')).toBe(true);
      expect(await keysUnder()).toEqual([
        `${PREFIX}keyv:-:__elile:tag:x`,
        `${PREFIX}keyv:2:ns:ns:__elile:scope:4:acme:k`,
      ]);
      // The domain's own reserved keys are untouched by, and invisible to, the Keyv space.
      await cache().set('k', 'scoped', { scope: 'acme' });
      expect(await store.get('k')).toBeUndefined();
      await store.clear();
      expect(await cache().get('k', { scope: 'acme' })).toBe('scoped');
    });

    it('refuses a key that is not a string, and a TTL that is not positive, with CacheArgumentError', async () => {
      const store = new ElileKeyvStore(cache());
      await expect(store.get(42 as unknown as string)).rejects.toBeInstanceOf(CacheArgumentError);
      await expect(store.set('k', 'v', -1)).rejects.toBeInstanceOf(CacheArgumentError);
      await expect(store.set('k', 'v', Number.NaN)).rejects.toBeInstanceOf(CacheArgumentError);
      await expect(store.set('k', 'v', '5000' as unknown as number)).rejects.toBeInstanceOf(CacheArgumentError);
      expect(await keysUnder()).toEqual([]);
    });
  });

  describe('namespaces: clear() removes the current one only', () => {
    const tricky = ['*', '[ab]', 'a?', 'a\\', 'a', 'a:b', 'a:b:c', '1:a', 'keyv', '-'];

    it.each(tricky)(
      'clearing namespace %j leaves every other namespace, the default one and the domain alone',
      async (ns) => {
        await cache().set('direct', 'domain entry');
        await keyv().set('k', 'no namespace');
        for (const other of tricky) await keyv(other).set('k', `in ${other}`);

        await keyv(ns).clear();

        expect(await keyv(ns).get('k')).toBeUndefined();
        for (const other of tricky.filter((o) => o !== ns)) expect(await keyv(other).get('k')).toBe(`in ${other}`);
        expect(await keyv().get('k')).toBe('no namespace');
        expect(await cache().get('direct')).toBe('domain entry');
      },
    );

    it('clearing without a namespace removes only the entries written without one', async () => {
      await keyv().set('k', 'none');
      await keyv('a').set('k', 'a');
      await keyv().clear();
      expect(await keyv().get('k')).toBeUndefined();
      expect(await keyv('a').get('k')).toBe('a');
    });

    it("keeps a's key 'b:c' apart from namespace 'a:b' key 'c' when Keyv does not prefix keys", async () => {
      const a = new Keyv({ store: new ElileKeyvStore(cache()), namespace: 'a', useKeyPrefix: false });
      const ab = new Keyv({ store: new ElileKeyvStore(cache()), namespace: 'a:b', useKeyPrefix: false });
      await a.set('b:c', 'of a');
      await ab.set('c', 'of a:b');
      expect(await a.get('b:c')).toBe('of a');
      await ab.clear();
      expect(await a.get('b:c')).toBe('of a');
    });
  });

  describe('values', () => {
    const rich = {
      at: new Date('2024-01-02T03:04:05.678Z'),
      blob: Buffer.from([0, 1, 254, 255]),
      n: 12345678901234567890n,
    };

    it('with serialization off, the domain codec stores the { value, expires } object (Dates, Buffers, BigInts)', async () => {
      const store = rawKeyv('raw');
      await store.set('rich', rich, 10_000);
      const got = (await store.get('rich')) as typeof rich;
      expect(got.at).toEqual(rich.at);
      expect(Buffer.isBuffer(got.blob) ? got.blob : Buffer.from(got.blob)).toEqual(rich.blob);
      expect(got.n).toBe(rich.n);
      const entry = await raw.getBuffer(`${PREFIX}keyv:3:raw:raw:rich`);
      expect(entry?.[0]).toBe(ENTRY_MARK);
      const wrapped = (await cache().get('keyv:3:raw:raw:rich')) as { value: typeof rich; expires: number };
      expect(wrapped.value.at).toEqual(rich.at);
      expect(typeof wrapped.expires).toBe('number');
    });

    it("with Keyv's serializer, the codec stores Keyv's JSON string, and Keyv revives Buffers itself", async () => {
      const store = keyv('json');
      await store.set('buf', { blob: Buffer.from('hi') });
      expect(typeof (await cache().get('keyv:4:json:json:buf'))).toBe('string');
      expect(await store.get('buf')).toEqual({ blob: Buffer.from('hi') });
    });

    it('with serialization off, a wrapped undefined value is stored as Keyv gives it and reads back undefined', async () => {
      const store = rawKeyv();
      expect(await store.set('u', undefined)).toBe(true);
      expect(await store.get('u')).toBeUndefined();
    });

    it('refuses a value the codec cannot hold: Keyv 5 reports the CacheSerializationError as an error event and false', async () => {
      const store = rawKeyv();
      const errors: unknown[] = [];
      store.on('error', (error: unknown) => errors.push(error));
      expect(await store.set('fn', { call: () => 1 })).toBe(false);
      expect(errors).toEqual([expect.any(CacheSerializationError)]);
      store.throwOnErrors = true;
      await expect(store.set('fn', { call: () => 1 })).rejects.toBeInstanceOf(CacheSerializationError);
    });
  });

  describe('many-key operations and counters', () => {
    it("sets, reads, checks and deletes many keys, counted in the domain's stats", async () => {
      const store = keyv('many');
      const before = cache().stats();
      expect(
        await store.setMany([
          { key: 'a', value: 1 },
          { key: 'b', value: 2, ttl: 5_000 },
        ]),
      ).toEqual([true, true]);
      expect(await store.get(['a', 'b', 'c'])).toEqual([1, 2, undefined]);
      expect(await store.has('a')).toBe(true);
      expect(await store.hasMany(['a', 'c'])).toEqual([true, false]);
      const after = cache().stats();
      expect(after.hits - before.hits).toBe(2);
      expect(after.misses - before.misses).toBe(1);
      expect(await store.delete(['a', 'b'])).toBe(true);
      expect(await store.delete(['a', 'b'])).toBe(false);
    });
  });

  describe('the connection', () => {
    it('is shared, not owned: a thousand stores open no connection, and disconnect() closes nothing', async () => {
      const clients = async () =>
        String(await raw.client('LIST'))
          .trim()
          .split('\n').length;
      const before = await clients();
      const stores = Array.from({ length: 1_000 }, () => new Keyv({ store: new ElileKeyvStore(cache()) }));
      await Promise.all(stores.map((store, i) => store.set(`k${i}`, i)));
      expect(await clients()).toBe(before);
      await Promise.all(stores.slice(0, 10).map((store) => store.disconnect()));
      expect(await stores[0].get('k0')).toBe(0);
      expect(await cache().set('still', 'up')).toBe(true);
    });
  });

  describe('Keyv 6.1 (absolute expires, bridged)', () => {
    it("stores under the same layout, with the remaining TTL derived from Keyv 6's absolute expires", async () => {
      const store = new Keyv6({ store: new ElileKeyvStore(cache()), namespace: 'v6' });
      await store.set('k', 'six', 5_000);
      const key = `${PREFIX}keyv:2:v6:k`;
      expect(await keysUnder()).toEqual([key]);
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000);
      expect(await store.get('k')).toBe('six');
    });

    it('clears its own namespace only (the store handles namespaces, so the bridge hands them over)', async () => {
      const a = new Keyv6({ store: new ElileKeyvStore(cache()), namespace: 'a' });
      const ab = new Keyv6({ store: new ElileKeyvStore(cache()), namespace: 'a:b' });
      await a.set('b:k', 'of a');
      await ab.set('k', 'of a:b');
      await ab.clear();
      expect(await a.get('b:k')).toBe('of a');
      expect(await ab.get('k')).toBeUndefined();
    });

    it('with serialization: false, the codec stores what Keyv 6 hands over and Dates come back as Dates', async () => {
      const store = new Keyv6({ store: new ElileKeyvStore(cache()), namespace: 'v6raw', serialization: false });
      const at = new Date('2024-05-06T07:08:09.000Z');
      await store.set('d', { at });
      expect(await store.get('d')).toEqual({ at });
    });
  });
});

describe('ElileKeyvStore with Redis unreachable', () => {
  let down: CacheApp;

  beforeAll(async () => {
    down = await startCacheApp({
      store: 'redis',
      redis: { url: `redis://127.0.0.1:${await findFreePort()}`, commandTimeout: 0.2 },
      namespace,
      domains: { [DOMAIN]: { ttl: 60 } },
    });
  });

  afterAll(() => down?.close());

  it('reads miss and writes answer false, counted by the domain, with no error event', async () => {
    const store = new Keyv({ store: new ElileKeyvStore(down.registry.get(DOMAIN)) });
    const errors: unknown[] = [];
    store.on('error', (error: unknown) => errors.push(error));
    const before = down.registry.get(DOMAIN).stats().errors;
    expect(await store.get('k')).toBeUndefined();
    expect(await store.set('k', 1)).toBe(false);
    expect(await store.has('k')).toBe(false);
    expect(errors).toEqual([]);
    expect(down.registry.get(DOMAIN).stats().errors - before).toBe(3);
  });

  it('an invalidation that may not have happened is an error event and false, or a rejection with throwOnErrors', async () => {
    const store = new Keyv({ store: new ElileKeyvStore(down.registry.get(DOMAIN)) });
    const errors: unknown[] = [];
    store.on('error', (error: unknown) => errors.push(error));
    expect(await store.delete('k')).toBe(false);
    await store.clear();
    expect(errors).toHaveLength(2);
    for (const error of errors) expect(isUnavailable(error)).toBe(true);

    const strict = new Keyv({ store: new ElileKeyvStore(down.registry.get(DOMAIN)), throwOnErrors: true });
    expect(isUnavailable(await strict.delete('k').catch((error: unknown) => error))).toBe(true);
  });
});

function isUnavailable(error: unknown): boolean {
  return error instanceof CacheUnavailableError || error instanceof CacheTimeoutError;
}
