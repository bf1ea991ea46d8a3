import type { Redis } from 'ioredis';
import { liveHeapBytes } from '../support/heap';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { type CacheApp, startCacheApp, waitFor } from './cache-test-app';

const OUTAGE_MS = 60_000;
const CALLS_PER_SECOND = 200;

/** What ioredis holds for commands sent but not answered (internal; read to bound it). */
const unansweredCommands = (app: CacheApp): number =>
  (app.redis.connection as Redis & { commandQueue: { length: number } }).commandQueue.length;

describe('a black-holed Redis (process stopped, TCP open) under steady load', () => {
  let server: RedisServerHandle;
  let app: CacheApp;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    app = await startCacheApp({ namespace: 'black-hole:', redis: { url: server.url } });
  });

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it(
    `keeps client memory bounded for ${OUTAGE_MS / 1000} s at ${CALLS_PER_SECOND} calls/s, and every caller gets its value`,
    async () => {
      await app.main.set('warm', 1);
      await server.pause();
      const pending = new Set<Promise<unknown>>();
      let calls = 0;
      let wrong = 0;
      let failed = 0;
      let mostUnanswered = 0;
      const call = () => {
        const n = calls++;
        const work = app.main
          .getOrSet(`k:${n % 500}`, async () => n % 500)
          .then(
            (value) => {
              if (value !== n % 500) wrong++;
            },
            () => failed++,
          );
        pending.add(work);
        void work.finally(() => pending.delete(work));
        mostUnanswered = Math.max(mostUnanswered, unansweredCommands(app));
      };

      const started = performance.now();
      let heapAfterFirstSeconds = 0;
      const load = setInterval(call, 1000 / CALLS_PER_SECOND);
      try {
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        heapAfterFirstSeconds = await liveHeapBytes();
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (performance.now() - started)));
      } finally {
        clearInterval(load);
      }
      await Promise.all([...pending]);
      const heapAtEnd = await liveHeapBytes();
      await server.resume();

      const growthMb = (heapAtEnd - heapAfterFirstSeconds) / 1e6;
      console.log(
        `black hole ${OUTAGE_MS / 1000} s: ${calls} calls, live heap +${growthMb.toFixed(1)} MB from second 10 to the end, ` +
          `at most ${mostUnanswered} unanswered commands held by the client`,
      );
      expect(calls).toBeGreaterThan((OUTAGE_MS / 1000) * CALLS_PER_SECOND * 0.8);
      expect([wrong, failed]).toEqual([0, 0]);
      // Without recycling, every timed-out command stayed queued: about one per call (~12,000 here).
      expect(mostUnanswered).toBeLessThan(1_000);
      expect(heapAtEnd - heapAfterFirstSeconds).toBeLessThan(4 * 1024 * 1024);

      await waitFor(
        'the cache to answer again',
        async () => (await app.main.set('after', 2)) && (await app.main.get('after')) === 2,
        15_000,
      );
    },
    OUTAGE_MS + 60_000,
  );
});
