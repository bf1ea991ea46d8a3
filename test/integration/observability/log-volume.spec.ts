import { LockService, LockUnavailableError } from '@elile/cache';
import { RecordingLogger } from '../../support/recording-logger';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { type CacheApp, startCacheApp, waitFor } from '../cache-test-app';

/**
 * Logs say when state changes (connection lost, breaker opened), never once per cache call: a
 * burst of 1,000 calls of every kind against a Redis that is gone writes a bounded handful of
 * lines, each degradation kind at most once per rate-limit interval, and the numbers go to
 * `stats()`. (redis-failures.spec.ts checks the same for a burst of `set`s alone.)
 */
describe('log lines while Redis is down', () => {
  let server: RedisServerHandle;
  let app: CacheApp;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    server = await startLocalRedisServer();
    app = await startCacheApp({ namespace: 'log-volume:', redis: { url: server.url } }, logger);
  });

  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('1,000 failing calls write a few state-change lines and one line per kind of failure', async () => {
    await app.main.set('k', 'cached');
    await server.stop();
    await waitFor('the connection to notice', () => !app.redis.isReady);
    const before = logger.lines.length;
    const statsBefore = app.main.stats();

    const calls: Array<() => Promise<unknown>> = [
      () => app.main.get('k'),
      () => app.main.getOrSet('k', () => 'from the source'),
      () => app.main.set('k', 'new'),
      () => app.main.getMany(['k', 'other']),
      () => app.main.exists('k'),
    ];
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => calls[i % calls.length]()));
    }
    // Locks are not fail-open: these throw, and are not logged either.
    const lockCalls = await Promise.allSettled(
      Array.from({ length: 100 }, () => app.moduleRef.get(LockService).tryAcquire('job')),
    );

    const lines = logger.lines.slice(before);
    // Every call failed and is counted; the lock calls were refused with the typed error.
    expect(app.main.stats().errors - statsBefore.errors).toBe(1_000);
    expect(
      lockCalls.every((result) => result.status === 'rejected' && result.reason instanceof LockUnavailableError),
    ).toBe(true);
    // One line per operation that degraded, whatever the number of its calls (rate-limited per
    // kind, with the count of the suppressed ones in the next line of its kind)...
    const degraded = lines.flatMap((line) => /Cache "conf" (\w+) failed/.exec(line)?.[1] ?? []);
    expect(degraded.sort()).toEqual(['exists', 'get', 'getMany', 'getOrSet', 'set']);
    // ...and the state changes: the breaker opened (a probe after its first second would add
    // its half-open line). Nothing for the 100 refused lock calls.
    const others = lines.filter((line) => !/Cache "conf" \w+ failed/.test(line));
    expect(others.filter((line) => line.includes('circuit breaker opened'))).toHaveLength(1);
    expect(others.every((line) => /circuit breaker (opened|half-open)/.test(line))).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(7);
  });
});
