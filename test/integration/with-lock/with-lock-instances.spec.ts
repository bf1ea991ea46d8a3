import type { INestApplication } from '@nestjs/common';
import { LockNotAcquiredError, LockService } from '@elile/cache';
import { createDecoratedApp, sleep } from '../../fixtures/decorated-app';
import { Deferred, LockLedger, lockedServiceProviders, ScreeningLocks } from '../../fixtures/with-lock.fixtures';
import { within } from '../../support/settles-within';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

// Two application instances on one Redis and one namespace: what two pods of the service are.
// Memory store locks are per process by design, so this file is Redis only.
const namespace = uniqueNamespace('with-lock-instances');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe('@WithLock across two application instances (Redis)', () => {
  let ledger: LockLedger;
  let first: INestApplication;
  let second: INestApplication;
  let a: ScreeningLocks;
  let b: ScreeningLocks;

  const boot = (label: string) =>
    createDecoratedApp({ store: 'redis', namespace, providers: lockedServiceProviders(ledger, label) });

  beforeAll(async () => {
    ledger = new LockLedger();
    [first, second] = await Promise.all([boot('A'), boot('B')]);
    a = first.get(ScreeningLocks);
    b = second.get(ScreeningLocks);
  });

  afterAll(async () => {
    await Promise.all([first.close(), second.close()]);
  });

  it('calls for the same key on both instances never overlap', async () => {
    const calls = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).complete('x-1', () => sleep(25)));
    await Promise.all(calls);

    const runs = ledger.of('screening:x-1');
    expect(runs).toHaveLength(8);
    expect(new Set(runs.map((run) => run.instance))).toEqual(new Set(['A', 'B']));
    expect(ledger.overlaps('screening:x-1')).toEqual([]);
  });

  it('calls for different keys on the two instances run concurrently', async () => {
    const bothInside = new Deferred();
    let inside = 0;
    const meet = () => {
      inside += 1;
      if (inside === 2) bothInside.resolve();
      return within(bothInside.promise, 2_000);
    };
    expect(await Promise.all([a.complete('x-2', meet), b.complete('x-3', meet)])).toEqual([undefined, undefined]);
  });

  it('a method outliving its ttl keeps the lock: the other instance cannot take it meanwhile', async () => {
    const rivalLocks = second.get(LockService);
    const rivals: boolean[] = [];
    const rivalCalls: unknown[] = [];
    const result = await a.shortTtl('x-4', async (lock) => {
      for (let i = 0; i < 4; i += 1) {
        await sleep(150);
        const rival = await rivalLocks.tryAcquire('screening:x-4', { ttl: 1 });
        rivals.push(rival !== null);
        await rival?.release();
        // The same, through the other instance's decorated method (wait 0.3 s).
        rivalCalls.push(await b.completeSoon('x-4').catch((e: unknown) => e));
      }
      return { aborted: lock.signal.aborted, held: lock.isHeld };
    });
    expect(rivals).toEqual([false, false, false, false]);
    for (const outcome of rivalCalls) expect(outcome).toBeInstanceOf(LockNotAcquiredError);
    expect(b.runs.of('completeSoon:x-4')).toBe(0);
    expect(result).toEqual({ aborted: false, held: true });
  });

  it("onLocked: 'skip' on one instance while the other runs the method", async () => {
    const inside = new Deferred();
    const leave = new Deferred();
    const running = a.complete('x-5', async () => {
      inside.resolve();
      await leave.promise;
    });
    await inside.promise;
    expect(await b.completeUnlessBusy('x-5')).toBeUndefined();
    expect(b.runs.of('completeUnlessBusy:x-5')).toBe(0);
    leave.resolve();
    await running;
  });

  it('each instance is wired to its own LockService: closing a third app leaves these two working', async () => {
    // Were the advice (or its LockService) kept at module level, the last app booted would own
    // it, and its shutdown would break the others.
    const third = await boot('C');
    expect(await third.get(ScreeningLocks).complete('x-6', () => 'C ran')).toBe('C ran');
    await third.close();
    expect(await a.complete('x-6', () => 'A ran')).toBe('A ran');
    expect(await b.complete('x-6', () => 'B ran')).toBe('B ran');
  });
});
