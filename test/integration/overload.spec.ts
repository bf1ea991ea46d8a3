import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { liveHeapBytes } from '../support/heap';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { type CacheApp, startCacheApp, waitFor } from './cache-test-app';

const namespace = uniqueNamespace('overload');
const MAX_IN_FLIGHT = 1000;

describe('a burst far beyond redis.maxInFlight', () => {
  let app: CacheApp;

  beforeAll(async () => {
    // A deadline with room for this process's own work: jest runs other suites beside this one, and
    // the 49,000 loaders of a burst run before the replies of the 1,000 reads can be read.
    // The breaker off: this is about the bulkhead, and under a loaded CI host the first burst's
    // timeouts could open the breaker, which would then refuse the second burst before the bulkhead.
    app = await startCacheApp({
      namespace,
      redis: { url: testRedisUrl(), maxInFlight: MAX_IN_FLIGHT, commandTimeout: 3, breaker: { enabled: false } },
    });
  });

  afterAll(async () => {
    await app.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('100,000 cold reads of distinct keys: every caller gets its value, the excess skips Redis, the heap comes back', async () => {
    const calls = 100_000;
    const value = { id: 'screening', checks: Array.from({ length: 10 }, (_, i) => ({ i, status: 'clear' })) };
    // The results are checked inside, so that they are garbage by the time the heap is measured.
    const burst = async (label: string): Promise<boolean> => {
      const results = await Promise.all(
        Array.from({ length: calls }, (_, i) => app.main.getOrSet(`${label}:${i}`, async () => ({ ...value, n: i }))),
      );
      return results.every(
        (result, i) => (result as { n: number }).n === i && (result as { id: string }).id === 'screening',
      );
    };
    const heapBefore = await liveHeapBytes();
    const before = app.main.stats();

    await expect(burst('burst')).resolves.toBe(true);

    const after = app.main.stats();
    expect(after.loads - before.loads).toBe(calls);
    // Everything beyond the cap went straight to its loader, counted.
    expect(after.overloaded - before.overloaded).toBeGreaterThanOrEqual(calls - 3 * MAX_IN_FLIGHT);
    const heapAfter = await liveHeapBytes();
    console.log(
      `100,000-call burst: live heap ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB above its baseline afterwards`,
    );
    expect(heapAfter - heapBefore).toBeLessThan(8 * 1024 * 1024);
  });

  it('a burst over the cap: the calls within it are answered and cached, the rest go straight to their loader', async () => {
    // Small enough that this process's own work on the burst stays far inside the deadline on a
    // loaded CI machine (a 50,000-call burst took 8 s there): the point is the split, not the cliff.
    const calls = 5 * MAX_IN_FLIGHT;
    const before = app.main.stats();
    await Promise.all(Array.from({ length: calls }, (_, i) => app.main.getOrSet(`split:${i}`, async () => i)));
    const after = app.main.stats();
    const cached = await app.main.getMany(Array.from({ length: MAX_IN_FLIGHT }, (_, i) => `split:${i}`));
    const stored = cached.filter((entry) => entry !== undefined).length;
    expect(after.overloaded - before.overloaded).toBeGreaterThanOrEqual(calls - 3 * MAX_IN_FLIGHT);
    expect(after.loads - before.loads).toBe(calls);
    expect(stored).toBeGreaterThan(MAX_IN_FLIGHT / 2);
  });
});

describe('the bulkhead after a hung Redis (flooded, then paused, then back)', () => {
  let server: RedisServerHandle;
  let app: CacheApp;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    app = await startCacheApp({
      namespace: 'bulkhead-hung:',
      redis: { url: server.url, maxInFlight: 20, commandTimeout: 0.2 },
    });
  });

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('frees every slot of the commands that timed out: once Redis answers, nothing is refused as overloaded', async () => {
    await server.pause();
    try {
      const burst = await Promise.all(
        Array.from({ length: 100 }, (_, i) => app.main.getOrSet(`hung:${i}`, async () => i)),
      );
      expect(burst).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(app.main.stats().overloaded).toBeGreaterThanOrEqual(80);
    } finally {
      await server.resume();
    }
    await waitFor(
      'Redis to answer again',
      async () => (await app.main.set('probe', 1)) && (await app.main.get('probe')) === 1,
      10_000,
    );
    const overloadedBefore = app.main.stats().overloaded;
    await Promise.all(Array.from({ length: 20 }, (_, i) => app.main.getOrSet(`after:${i}`, async () => i)));
    expect(app.main.stats().overloaded).toBe(overloadedBefore);
    await expect(app.main.get('after:19')).resolves.toBe(19);
  });
});
