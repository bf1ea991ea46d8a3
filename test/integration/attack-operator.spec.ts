import type Redis from 'ioredis';
import { CacheConfigurationError, type CacheModuleOptions } from '@elile/cache';
import { type CacheApp, closeRaw, failureOf, rawRedis, startCacheApp } from './cache-test-app';
import { RecordingLogger } from '../support/recording-logger';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

/**
 * A careless operator: settings the module accepts must take effect, and settings it cannot honour
 * must be refused at boot — never silently replaced by something else.
 */
const namespace = uniqueNamespace('attack-operator');
const apps: CacheApp[] = [];
let admin: Redis;

async function boot(
  redis: NonNullable<CacheModuleOptions['redis']>,
  extra: CacheModuleOptions = {},
  logger = new RecordingLogger(),
) {
  const app = await startCacheApp({ namespace, ...extra, redis: { url: testRedisUrl(), ...redis } }, logger);
  apps.push(app);
  return app;
}

beforeAll(() => {
  admin = rawRedis(testRedisUrl());
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await closeRaw(admin);
  await deleteNamespace(testRedisUrl(), namespace);
  await deleteNamespace(testRedisUrl(), `kp:${namespace}`);
});

describe('ioredis options that the module cannot honour', () => {
  it('redis.ioredis.keyPrefix: refused at boot, or clear() and tag invalidation still reach the entries', async () => {
    let app: CacheApp;
    try {
      app = await boot({ ioredis: { keyPrefix: 'kp:' } });
    } catch (error) {
      expect(error).toBeInstanceOf(CacheConfigurationError);
      expect((error as Error).message).toContain('keyPrefix');
      return;
    }
    await app.main.set('cleared', 'v');
    await app.main.clear();
    await expect(app.main.get('cleared')).resolves.toBeUndefined();
    await app.main.set('tagged', 'v', { tags: ['t'] });
    await app.main.invalidateTags(['t']);
    await expect(app.main.get('tagged')).resolves.toBeUndefined();
  });

  it.each([
    ['commandTimeout', 5000],
    ['enableOfflineQueue', true],
    ['maxRetriesPerRequest', null],
    ['autoResendUnfulfilledCommands', true],
    ['connectTimeout', 60_000],
    ['retryStrategy', () => 10],
    ['lazyConnect', false],
  ])(
    'redis.ioredis.%s, which the module always overrides, is refused at boot (not silently replaced)',
    async (name, value) => {
      const logger = new RecordingLogger();
      let booted = true;
      try {
        await boot({ ioredis: { [name]: value } }, {}, logger);
      } catch (error) {
        booted = false;
        expect(error).toBeInstanceOf(CacheConfigurationError);
        expect((error as Error).message).toContain(`redis.ioredis.${name}`);
      }
      expect(booted).toBe(false);
    },
  );

  it.each([
    ['db', 5],
    ['host', 'elsewhere.invalid'],
    ['port', 1],
  ])(
    'redis.ioredis.%s, which the URL always overrides, is refused at boot (the target is the URL’s)',
    async (name, value) => {
      const failure = await failureOf(() => boot({ ioredis: { [name]: value } }));
      expect(failure).toBeInstanceOf(CacheConfigurationError);
      expect((failure as Error).message).toContain(`redis.ioredis.${name}`);
    },
  );

  it('a database in both the path and the query of the URL, differing, is refused at boot', async () => {
    const failure = await failureOf(() => boot({ url: `${testRedisUrl().replace(/\/\d*$/, '')}/0?db=5` }));
    expect(failure).toBeInstanceOf(CacheConfigurationError);
  });
});

describe('durations beyond what a Node timer can hold (setTimeout turns them into 1 ms)', () => {
  const TOO_LONG = 3_000_000; // seconds: 3e9 ms > 2^31 - 1

  it('redis.commandTimeout: refused at boot, or commands still succeed', async () => {
    let app: CacheApp;
    try {
      app = await boot({ commandTimeout: TOO_LONG });
    } catch (error) {
      expect(error).toBeInstanceOf(CacheConfigurationError);
      expect((error as Error).message).toContain('redis.commandTimeout');
      return;
    }
    await expect(app.main.set('long-timeout', 'v')).resolves.toBe(true);
    await expect(app.main.get('long-timeout')).resolves.toBe('v');
  });

  it.each([
    ['redis.connectTimeout', { redis: { connectTimeout: TOO_LONG } }],
    ['redis.maxReconnectDelay', { redis: { maxReconnectDelay: TOO_LONG } }],
    ['leaseTtl', { leaseTtl: TOO_LONG }],
    ['locks.pollInterval', { locks: { pollInterval: TOO_LONG } }],
  ] as Array<[string, CacheModuleOptions]>)('%s above the timer bound is refused at boot', async (path, options) => {
    const failure = await failureOf(() => boot(options.redis ?? {}, { ...options, redis: undefined }));
    expect(failure).toBeInstanceOf(CacheConfigurationError);
    expect((failure as Error).message).toContain(path);
  });
});
