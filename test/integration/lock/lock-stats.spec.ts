import { tracingChannel } from 'node:diagnostics_channel';
import { LockLostError, LockNotAcquiredError, type LockOperationContext, TRACING_CHANNELS } from '@elile/cache';
import { closeLockFixtures, type LockFixture, redisLocks, sleep } from './lock-fixture';

/**
 * `LockService.stats()` on a real Redis: what each path out of an acquisition, an extension and a
 * release counts, and the `elile-cache:lock` events published for them.
 */
describe('lock counters (redis)', () => {
  let fixture: LockFixture;

  beforeEach(async () => {
    fixture = await redisLocks();
  });
  afterEach(closeLockFixtures);

  it('counts an uncontended acquisition, a refused tryAcquire and a wait that ran out, but not a release', async () => {
    const lock = await fixture.service.acquire('a');
    expect(await fixture.service.tryAcquire('a')).toBeNull();
    await expect(fixture.service.acquire('a', { wait: 0.1 })).rejects.toBeInstanceOf(LockNotAcquiredError);
    expect(await lock.release()).toBe(true);
    expect(fixture.service.stats()).toEqual({
      acquired: 1,
      notAcquired: 2,
      contended: 0,
      contendedWaitSeconds: 0,
      lost: 0,
      extended: 0,
    });
  });

  it('counts a contended acquisition and how long it waited for the holder', async () => {
    const holder = await fixture.service.acquire('b');
    const waiter = fixture.service.acquire('b', { wait: 5 });
    await sleep(150);
    await holder.release();
    const second = await waiter;
    await second.release();
    const stats = fixture.service.stats();
    expect(stats).toMatchObject({ acquired: 2, notAcquired: 0, contended: 1, lost: 0 });
    // It was woken by the release, after the 150 ms the holder kept the lock.
    expect(stats.contendedWaitSeconds).toBeGreaterThanOrEqual(0.15);
  });

  it('counts extensions, the caller’s and the watchdog’s, and a lock lost to expiry', async () => {
    await fixture.service.using(
      'c',
      async (lock) => {
        await lock.extend(0.3);
        // The watchdog extends every 100 ms from here.
        await sleep(350);
      },
      { ttl: 3 },
    );
    const extended = fixture.service.stats().extended;
    expect(extended).toBeGreaterThanOrEqual(3);

    const expiring = await fixture.service.acquire('d', { ttl: 0.1 });
    await sleep(200);
    expect(expiring.signal.reason).toBeInstanceOf(LockLostError);
    expect(fixture.service.stats()).toMatchObject({ acquired: 2, lost: 1, extended });
  });

  it('does not count a lock given up at shutdown as lost', async () => {
    const lock = await fixture.service.acquire('e');
    await fixture.service.beforeApplicationShutdown();
    expect(lock.signal.aborted).toBe(true);
    expect(fixture.service.stats()).toMatchObject({ acquired: 1, lost: 0 });
  });

  it('publishes acquire (also using’s), tryAcquire, extend and release on elile-cache:lock', async () => {
    const events: Array<{ event: string; operation: string; key: string }> = [];
    const record =
      (event: string) =>
      ({ operation, key }: LockOperationContext) =>
        events.push({ event, operation, key });
    const handlers = {
      start: record('start'),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: record('asyncEnd'),
      error: record('error'),
    };
    const channel = tracingChannel<unknown, LockOperationContext & object>(TRACING_CHANNELS.lock);
    channel.subscribe(handlers);
    try {
      const lock = await fixture.service.acquire('f');
      await lock.extend();
      expect(await fixture.service.tryAcquire('f')).toBeNull();
      await lock.release();
      await fixture.service.using('g', () => 'work', { autoExtend: false });
      await expect(fixture.service.acquire('h', { wait: 0, ttl: -1 })).rejects.toThrow();
    } finally {
      channel.unsubscribe(handlers);
    }
    const starts = events.filter(({ event }) => event === 'start').map(({ operation, key }) => `${operation} ${key}`);
    expect(starts).toEqual([
      'acquire f',
      'extend f',
      'tryAcquire f',
      'release f',
      'acquire g',
      'release g',
      'acquire h',
    ]);
    expect(events.filter(({ event }) => event === 'asyncEnd')).toHaveLength(7);
    expect(events.filter(({ event }) => event === 'error').map(({ key }) => key)).toEqual(['h']);
  });
});
