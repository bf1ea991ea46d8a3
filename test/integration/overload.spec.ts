import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { liveHeapBytes } from '../support/heap';
import { type CacheApp, startCacheApp } from './cache-test-app';

const namespace = uniqueNamespace('overload');
const MAX_IN_FLIGHT = 1000;

describe('a burst far beyond redis.maxInFlight', () => {
  let app: CacheApp;

  beforeAll(async () => {
    // A deadline with room for this process's own work: jest runs other suites beside this one, and
    // the 49,000 loaders of a burst run before the replies of the 1,000 reads can be read.
    app = await startCacheApp({ namespace, redis: { url: testRedisUrl(), maxInFlight: MAX_IN_FLIGHT, commandTimeout: 3 } });
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
      return results.every((result, i) => (result as { n: number }).n === i && (result as { id: string }).id === 'screening');
    };
    const heapBefore = await liveHeapBytes();
    const before = app.main.stats();

    await expect(burst('burst')).resolves.toBe(true);

    const after = app.main.stats();
    expect(after.loads - before.loads).toBe(calls);
    // Everything beyond the cap went straight to its loader, counted.
    expect(after.overloaded - before.overloaded).toBeGreaterThanOrEqual(calls - 3 * MAX_IN_FLIGHT);
    const heapAfter = await liveHeapBytes();
    console.log(`100,000-call burst: live heap ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB above its baseline afterwards`);
    expect(heapAfter - heapBefore).toBeLessThan(8 * 1024 * 1024);
  });

  it('50,000 cold reads: what Redis was given is answered in time and cached (without a cap, all timed out)', async () => {
    const calls = 50_000;
    const before = app.main.stats();
    const started = performance.now();
    await Promise.all(Array.from({ length: calls }, (_, i) => app.main.getOrSet(`cliff:${i}`, async () => i)));
    const after = app.main.stats();
    const cached = await app.main.getMany(Array.from({ length: MAX_IN_FLIGHT }, (_, i) => `cliff:${i}`));
    const stored = cached.filter((entry) => entry !== undefined).length;
    console.log(
      `50,000-call burst: ${Math.round(performance.now() - started)} ms, ${after.overloaded - before.overloaded} over the cap, ` +
        `${after.errors - before.errors} errors, ${stored} of the first ${MAX_IN_FLIGHT} cached`,
    );
    expect(stored).toBeGreaterThan(0);
  });
});
