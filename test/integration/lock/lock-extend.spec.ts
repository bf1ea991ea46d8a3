import { lockNames } from '../../../libs/cache/src/lock/lock-names.util';
import { closeLockFixtures, type LockFixtureFactory, memoryLocks, redisLocks, sleep } from './lock-fixture';

/**
 * `extend(ttl)` changes the TTL the autoExtend watchdog keeps: it extends by the new TTL, a third
 * of it apart. Before, the watchdog kept the acquisition's TTL and schedule, so a shortened lock
 * ran out before the next tick and a lengthened one was shrunk back at it.
 */
describe.each([
  ['memory', memoryLocks],
  ['redis', redisLocks],
] as Array<[string, LockFixtureFactory]>)('extend under autoExtend (%s)', (_label, make) => {
  afterEach(closeLockFixtures);

  it('after extend(0.3) inside using({ ttl: 3 }), the watchdog keeps the lock at 0.3 s', async () => {
    const fixture = await make();
    const extend = jest.spyOn(fixture.backend, 'extend');
    const result = await fixture.service.using(
      'short',
      async (lock) => {
        await lock.extend(0.3);
        // Three times the new TTL, and short of the first tick of the old schedule (1 s).
        await sleep(900);
        expect(lock.isHeld).toBe(true);
        expect(lock.signal.aborted).toBe(false);
        return 'done';
      },
      { ttl: 3 },
    );
    expect(result).toBe('done');
    const ttls = extend.mock.calls.map(([, , ttlMs]) => ttlMs);
    // Ours, then the watchdog's every ~100 ms, all by the new TTL.
    expect(ttls.length).toBeGreaterThanOrEqual(4);
    expect(new Set(ttls)).toEqual(new Set([300]));
  });

  it('after extend(60) on a 0.3 s lock, the watchdog neither shrinks it back nor ticks at the old pace', async () => {
    const fixture = await make();
    const lock = await fixture.service.acquire('long', { ttl: 0.3, autoExtend: true });
    const extend = jest.spyOn(fixture.backend, 'extend');
    await lock.extend(60);
    // Several ticks of the old schedule (every 100 ms), none of the new one (every 20 s).
    await sleep(500);
    expect(lock.isHeld).toBe(true);
    expect(extend.mock.calls.map(([, , ttlMs]) => ttlMs)).toEqual([60_000]);
    if (fixture.client) {
      const { lock: lockKey } = lockNames(fixture.options.namespace, fixture.options.locks.prefix, 'long');
      expect(await fixture.client.connection.pttl(lockKey)).toBeGreaterThan(55_000);
    }
    await expect(lock.release()).resolves.toBe(true);
  });

  it('extend() without a TTL keeps the last one given', async () => {
    const fixture = await make();
    const lock = await fixture.service.acquire('default', { ttl: 30 });
    const extend = jest.spyOn(fixture.backend, 'extend');
    await lock.extend(0.5);
    await lock.extend();
    expect(extend.mock.calls.map(([, , ttlMs]) => ttlMs)).toEqual([500, 500]);
    await expect(lock.release()).resolves.toBe(true);
  });
});
