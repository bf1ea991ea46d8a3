import type Redis from 'ioredis';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, waitFor } from './cache-test-app';

const namespace = uniqueNamespace('attack-lease');
const LEASE_TTL_S = 0.3;
let app: CacheApp;
let raw: Redis;

beforeAll(async () => {
  app = await startCacheApp({ namespace, leaseTtl: LEASE_TTL_S, redis: { url: testRedisUrl() } });
  raw = rawRedis(testRedisUrl());
});

afterAll(async () => {
  await app.close();
  await closeRaw(raw);
  await deleteNamespace(testRedisUrl(), namespace);
});

describe('an entry without a TTL under a cache key (every write of the module sets one)', () => {
  it('a lease made persistent by another program, whose loader never finishes, does not disable the key for good', async () => {
    const key = app.main.fullKey('persisted-lease');
    void app.main.getOrSet('persisted-lease', () => new Promise<string>(() => undefined));
    await waitFor('the lease', async () => (await raw.exists(key)) === 1);
    await raw.persist(key);
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_S * 1000 * 2));
    let loads = 0;
    for (let i = 0; i < 3; i++) await app.main.getOrSet('persisted-lease', () => (loads++, 'fresh'));
    expect(loads).toBe(1);
    expect(await raw.pttl(key)).toBeGreaterThan(0);
  });
});
