import type { CacheStoreKind } from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { type CacheApp, startCacheApp, timed } from './cache-test-app';

const namespace = uniqueNamespace('hung-loader');
const LEASE_TTL_S = 0.3;

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each<CacheStoreKind>(['redis', 'memory'])('a loader that never settles (%s store)', (store) => {
  let app: CacheApp;

  beforeEach(async () => {
    app = await startCacheApp({
      store,
      namespace: `${namespace}${store}:`,
      leaseTtl: LEASE_TTL_S,
      redis: { url: testRedisUrl() },
    });
  });

  afterEach(async () => {
    await app.close();
  });

  it('does not wedge its key: callers that joined it are released at the lease TTL and load once for themselves', async () => {
    const never = new Promise<string>(() => undefined);
    void app.main.getOrSet('wedged', () => never);
    const loader = jest.fn(async () => 'fresh');
    const joined = await timed(() => Promise.all([1, 2, 3].map(() => app.main.getOrSet('wedged', loader))), 5_000);
    expect(joined.result).toEqual({ status: 'fulfilled', value: ['fresh', 'fresh', 'fresh'] });
    expect(loader).toHaveBeenCalledTimes(1);
    // Their load took the key over once the hung load's lease had expired, so it was stored.
    await expect(app.main.get('wedged')).resolves.toBe('fresh');
  });

  it('a call made after the lease TTL does not wait for the hung load at all', async () => {
    void app.main.getOrSet('late', () => new Promise<string>(() => undefined));
    await new Promise((resolve) => setTimeout(resolve, LEASE_TTL_S * 1000 + 150));
    const late = await timed(() => app.main.getOrSet('late', async () => 'late value'), 5_000);
    expect(late.result).toEqual({ status: 'fulfilled', value: 'late value' });
    expect(late.ms).toBeLessThan(LEASE_TTL_S * 1000);
  });
});
