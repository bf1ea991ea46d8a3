import { once } from 'node:events';
import { createDeflateRaw } from 'node:zlib';
import type Redis from 'ioredis';
import { CacheSerializationError, type CacheService, type CacheStats, MsgpackCodec } from '@elile/cache';
import { CacheService as CacheServiceClass } from '../../libs/cache/src/caches/cache.service';
import { AutoCodec } from '../../libs/cache/src/codec/auto.codec';
import { EntryCodec } from '../../libs/cache/src/codec/entry-codec';
import { resolveCacheOptions } from '../../libs/cache/src/options/resolve-options';
import { RedisClient } from '../../libs/cache/src/redis/redis.client';
import { RedisStore } from '../../libs/cache/src/store/redis.store';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, waitFor } from './cache-test-app';

/**
 * Entries the cache did not write — another program's bytes under a domain key, entries cut
 * short, leases of an older version, a zip bomb — on a real Redis, written there with a plain
 * ioredis connection. Each is a counted corrupt miss, deleted only while it still holds those
 * bytes, and the key caches normally again.
 */

const namespace = uniqueNamespace('foreign-entries');
const JSON_ID = 2;

function header(codecId: number, flags: number, length: number): Buffer {
  const bytes = Buffer.from([0xe1, codecId, flags, 0, 0, 0, 0]);
  bytes.writeUInt32BE(length, 3);
  return bytes;
}

/** A deflated JSON string of `inflatedBytes` bytes: a few dozen KB that inflate a thousandfold. */
async function zipBomb(inflatedBytes: number): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const chunks: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => chunks.push(chunk));
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  deflate.write('"');
  for (let written = 2; written < inflatedBytes; written += chunk.length) {
    if (!deflate.write(chunk.subarray(0, Math.min(chunk.length, inflatedBytes - written))))
      await once(deflate, 'drain');
  }
  deflate.end('"');
  await once(deflate, 'end');
  const payload = Buffer.concat(chunks);
  return Buffer.concat([header(JSON_ID, 1, payload.length), payload]);
}

const delta = (after: CacheStats, before: CacheStats) => ({
  hits: after.hits - before.hits,
  misses: after.misses - before.misses,
  corruptEntries: after.corruptEntries - before.corruptEntries,
  loads: after.loads - before.loads,
});

let app: CacheApp;
let cache: CacheService<unknown>;
let raw: Redis;

beforeAll(async () => {
  app = await startCacheApp({ store: 'redis', namespace, redis: { url: testRedisUrl() } });
  cache = app.main;
  raw = rawRedis(testRedisUrl());
});

afterAll(async () => {
  await app?.close();
  await closeRaw(raw);
  await deleteNamespace(testRedisUrl(), namespace);
});

describe('foreign bytes under a domain key', () => {
  const lease = () => new EntryCodec(new MsgpackCodec(), 0).newLease();
  const value = () => new EntryCodec(new MsgpackCodec(), 0).encode({ id: 1, name: 'cached' });

  const foreign: Array<[string, () => Buffer | string]> = [
    // UTF-8 E2 82 AC: what the old lease check (first byte 0xE2) took for a fill in progress.
    ['a string starting with "€"', () => '€uro'],
    ['an empty string', () => ''],
    ['a lone 0xE1 byte (the mark)', () => Buffer.from([0xe1])],
    ['the mark followed by text', () => Buffer.concat([Buffer.from([0xe1]), Buffer.from('hello')])],
    ['a value header whose length is one too many', () => Buffer.concat([header(JSON_ID, 0, 4), Buffer.from('123')])],
    ['a value entry cut short', () => value().subarray(0, value().length - 2)],
    ['a lease one byte short', () => lease().subarray(0, 22)],
    ['a lease one byte too long', () => Buffer.concat([lease(), Buffer.from([0])])],
    ['a lease whose length field says 17, with 17 bytes', () => Buffer.concat([header(0, 0, 17), Buffer.alloc(17)])],
    ['a lease of the old format', () => Buffer.concat([Buffer.from([0xe2]), Buffer.alloc(16, 9)])],
  ];

  it.each(foreign)('%s: getOrSet loads once, stores, and the second call is a hit', async (label, bytes) => {
    const key = `foreign:${label}`;
    await raw.set(cache.fullKey(key), bytes());
    const loader = jest.fn(async () => ({ fresh: label }));
    const before = cache.stats();

    await expect(cache.getOrSet(key, loader)).resolves.toEqual({ fresh: label });
    await expect(cache.getOrSet(key, loader)).resolves.toEqual({ fresh: label });

    expect(loader).toHaveBeenCalledTimes(1);
    expect(delta(cache.stats(), before)).toEqual({ hits: 1, misses: 1, corruptEntries: 1, loads: 1 });
    await expect(cache.get(key)).resolves.toEqual({ fresh: label });
  });

  it.each(foreign)('%s: exists() is false, get() a counted miss that deletes it', async (label, bytes) => {
    const key = `exists:${label}`;
    await raw.set(cache.fullKey(key), bytes());
    await expect(cache.exists(key)).resolves.toBe(false);
    const before = cache.stats();
    await expect(cache.get(key)).resolves.toBeUndefined();
    expect(delta(cache.stats(), before)).toEqual({ hits: 0, misses: 1, corruptEntries: 1, loads: 0 });
    await waitFor(`"${label}" to be deleted`, async () => (await raw.exists(cache.fullKey(key))) === 0, 2_000);
  });

  it('exists() is true for a value and false for a lease, in one round trip each', async () => {
    await cache.set('present', { id: 1 });
    await raw.set(cache.fullKey('leased'), lease());
    await expect(cache.exists('present')).resolves.toBe(true);
    await expect(cache.exists('leased')).resolves.toBe(false);
    await expect(cache.exists('absent')).resolves.toBe(false);
  });
});

describe('foreign bytes that arrive between the miss and the lease', () => {
  /** Writes `bytes` under the key right after the store's read returned, as a racing writer would. */
  class RacingStore extends RedisStore {
    race?: { key: string; bytes: Buffer | string };

    override async get(key: string): Promise<Buffer | null> {
      const found = await super.get(key);
      if (this.race?.key === key) {
        // On the store's own connection: it reaches Redis before the lease this read leads to.
        await this.redis.connection.set(key, this.race.bytes);
        this.race = undefined;
      }
      return found;
    }

    constructor(private readonly redis: RedisClient) {
      super(redis);
    }
  }

  let client: RedisClient;
  let store: RacingStore;
  let racing: CacheServiceClass<unknown>;

  beforeAll(async () => {
    const options = resolveCacheOptions({
      store: 'redis',
      namespace: `${namespace}race:`,
      redis: { url: testRedisUrl() },
    });
    client = new RedisClient(options.redis);
    await client.onModuleInit();
    store = new RacingStore(client);
    racing = new CacheServiceClass(
      options.domains.get('screening')!,
      options.namespace,
      store,
      new EntryCodec(new AutoCodec(), 0),
      options.leaseTtlMs,
    );
  });

  afterAll(async () => {
    await client?.onApplicationShutdown();
  });

  it('foreign bytes replaced by a value right after the read are not deleted: only those exact bytes are', async () => {
    const key = racing.fullKey('replaced');
    await raw.set(key, '€uro');
    store.race = { key, bytes: new EntryCodec(new AutoCodec(), 0).encode('written meanwhile') };
    await expect(racing.get('replaced')).resolves.toBeUndefined();
    await expect(racing.get('replaced')).resolves.toBe('written meanwhile');
  });

  it('the call serves its loader, counts and deletes them; the next call caches, the one after is a hit', async () => {
    store.race = { key: racing.fullKey('raced'), bytes: '€uro' };
    const loader = jest.fn(async () => 'fresh');
    const before = racing.stats();

    await expect(racing.getOrSet('raced', loader)).resolves.toBe('fresh');
    expect(store.race).toBeUndefined();
    expect(racing.stats().corruptEntries - before.corruptEntries).toBe(1);
    await waitFor(
      'the foreign bytes to be deleted',
      async () => (await raw.exists(racing.fullKey('raced'))) === 0,
      2_000,
    );

    await expect(racing.getOrSet('raced', loader)).resolves.toBe('fresh');
    await expect(racing.getOrSet('raced', loader)).resolves.toBe('fresh');
    expect(loader).toHaveBeenCalledTimes(2);
    expect(racing.stats().hits - before.hits).toBe(1);
  });
});

describe('a zip bomb under a domain key', () => {
  it('is a counted corrupt miss (maxDecompressedSize, 16 MiB by default) and is deleted', async () => {
    const bomb = await zipBomb(64 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(128 * 1024);
    await raw.set(cache.fullKey('bomb'), bomb);
    const before = cache.stats();

    await expect(cache.get('bomb')).resolves.toBeUndefined();

    expect(delta(cache.stats(), before)).toEqual({ hits: 0, misses: 1, corruptEntries: 1, loads: 0 });
    await waitFor('the bomb to be deleted', async () => (await raw.exists(cache.fullKey('bomb'))) === 0, 2_000);
    await expect(cache.getOrSet('bomb', async () => 'defused')).resolves.toBe('defused');
    await expect(cache.get('bomb')).resolves.toBe('defused');
  });

  it('follows the maxDecompressedSize option', async () => {
    const small = await startCacheApp({
      store: 'redis',
      namespace: `${namespace}small:`,
      redis: { url: testRedisUrl() },
      compressionThreshold: 1,
      maxDecompressedSize: 1024,
    });
    try {
      await small.main.set('fits', 'x'.repeat(1000));
      await small.main.set('too-large', 'x'.repeat(2000));
      await expect(small.main.get('fits')).resolves.toBe('x'.repeat(1000));
      await expect(small.main.get('too-large')).resolves.toBeUndefined();
      expect(small.main.stats().corruptEntries).toBe(1);
    } finally {
      await small.close();
    }
  });
});

describe('undefined', () => {
  it('set(key, undefined) is refused with CacheSerializationError and stores nothing', async () => {
    await cache.set('undefined', 'before');
    await expect(cache.set('undefined', undefined)).rejects.toBeInstanceOf(CacheSerializationError);
    await expect(cache.get('undefined')).resolves.toBe('before');
    await expect(cache.setMany([{ key: 'undefined-many', value: undefined }])).rejects.toBeInstanceOf(
      CacheSerializationError,
    );
    expect(await raw.exists(cache.fullKey('undefined-many'))).toBe(0);
  });

  it('a loader returning undefined: getOrSet returns it, stores nothing, counts no error, and loads again next time', async () => {
    const loader = jest.fn(async () => undefined);
    const before = cache.stats();
    await expect(cache.getOrSet('loads-undefined', loader)).resolves.toBeUndefined();
    await expect(cache.getOrSet('loads-undefined', loader)).resolves.toBeUndefined();
    expect(loader).toHaveBeenCalledTimes(2);
    expect(cache.stats().errors - before.errors).toBe(0);
    expect(await raw.exists(cache.fullKey('loads-undefined'))).toBe(0);
    // get agrees: nothing is cached under the key.
    await expect(cache.get('loads-undefined')).resolves.toBeUndefined();
    await expect(cache.exists('loads-undefined')).resolves.toBe(false);
  });

  it('an entry holding undefined at the top level (an older version wrote it) is a corrupt miss for get and getOrSet alike', async () => {
    const payload = new MsgpackCodec().encode(undefined);
    const entry = Buffer.concat([header(MsgpackCodec.ID, 0, payload.length), payload]);
    await raw.set(cache.fullKey('old-undefined-get'), entry);
    await raw.set(cache.fullKey('old-undefined-getOrSet'), entry);
    const before = cache.stats();

    await expect(cache.get('old-undefined-get')).resolves.toBeUndefined();
    await expect(cache.getOrSet('old-undefined-getOrSet', async () => 'loaded')).resolves.toBe('loaded');

    expect(cache.stats().corruptEntries - before.corruptEntries).toBe(2);
    await expect(cache.get('old-undefined-getOrSet')).resolves.toBe('loaded');
  });
});
