import type { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { CacheRegistry, currentLock, type Lock, LockLostError, LockNotAcquiredError, LockService } from '@elile/cache';
import { createDecoratedApp, sleep, STORE_KINDS, type StoreKind } from '../../fixtures/decorated-app';
import { AUDIT_KEY } from '../../fixtures/metadata.fixture';
import {
  abortedWithin,
  Deferred,
  deleteLockKey,
  LockedReports,
  LockLedger,
  lockedServiceProviders,
  ScreeningLocks,
  snapshotOf,
} from '../../fixtures/with-lock.fixtures';
import { within } from '../../support/settles-within';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const namespace = uniqueNamespace('with-lock');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(STORE_KINDS)('@WithLock on a service method (%s store)', (store: StoreKind) => {
  const appNamespace = `${namespace}${store}:`;
  let app: INestApplication;
  let ledger: LockLedger;
  let service: ScreeningLocks;
  let locks: LockService;

  beforeAll(async () => {
    ledger = new LockLedger();
    app = await createDecoratedApp({ store, namespace: appNamespace, providers: lockedServiceProviders(ledger, 'A') });
    service = app.get(ScreeningLocks);
    locks = app.get(LockService);
  });

  afterAll(async () => {
    await app.close();
  });

  /** Holds `key` the way another caller would, for the duration of `body`. */
  async function whileHeld<T>(key: string, body: () => Promise<T>): Promise<T> {
    const holder = await locks.acquire(key, { ttl: 5, wait: 0 });
    try {
      return await body();
    } finally {
      await holder.release();
    }
  }

  describe('mutual exclusion', () => {
    it('concurrent calls for the same key never overlap, and their fencing tokens increase in run order', async () => {
      await Promise.all(Array.from({ length: 6 }, () => service.complete('mx-1', () => sleep(30))));

      const runs = ledger.of('screening:mx-1');
      expect(runs).toHaveLength(6);
      expect(ledger.overlaps('screening:mx-1')).toEqual([]);
      const tokens = [...runs].sort((a, b) => a.start - b.start).map((run) => run.fencingToken!);
      for (let i = 1; i < tokens.length; i += 1) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
    });

    it('calls for different keys run concurrently (each waits until all three are inside)', async () => {
      const ids = ['dk-1', 'dk-2', 'dk-3'];
      const allInside = new Deferred();
      let inside = 0;
      // Serialised calls would never all be inside at once: the first would time out here.
      const meet = () => {
        inside += 1;
        if (inside === ids.length) allInside.resolve();
        return within(allInside.promise, 2_000);
      };
      const outcomes = await Promise.all(ids.map((id) => service.complete(id, meet)));
      expect(outcomes).toEqual([undefined, undefined, undefined]);
    });
  });

  describe('the key', () => {
    it('defaults to Class.method when omitted, and that name really is locked', async () => {
      expect(await service.sweep()).toMatchObject({ key: 'ScreeningLocks.sweep', held: true, aborted: false });
      await whileHeld('ScreeningLocks.sweep', async () => {
        await expect(service.sweep()).rejects.toBeInstanceOf(LockNotAcquiredError);
      });
      expect(service.runs.of('sweep')).toBe(1);
    });
  });

  describe('a lock held elsewhere', () => {
    it('past `wait` → LockNotAcquiredError naming the key; the body does not run', async () => {
      const error = await whileHeld('screening:w-1', () => service.completeSoon('w-1').catch((e: unknown) => e));
      expect(error).toBeInstanceOf(LockNotAcquiredError);
      expect((error as LockNotAcquiredError).key).toBe('screening:w-1');
      expect(service.runs.of('completeSoon:w-1')).toBe(0);
    });

    it('released within `wait` → the waiting call runs', async () => {
      const holder = await locks.acquire('screening:w-2', { ttl: 5, wait: 0 });
      const call = service.complete('w-2', () => 'done');
      await sleep(100);
      // Still waiting (wait is 5 s), not failed and not running beside the holder.
      expect(service.runs.of('complete:w-2')).toBe(0);
      await holder.release();
      expect(await within(call, 3_000)).toBe('done');
    });

    it("onLocked: 'skip' → resolves undefined without running; runs normally once the lock is free", async () => {
      await whileHeld('screening:s-1', async () => {
        expect(await service.completeUnlessBusy('s-1')).toBeUndefined();
      });
      expect(service.runs.of('completeUnlessBusy:s-1')).toBe(0);
      expect(await service.completeUnlessBusy('s-1')).toBe('ran');
      expect(service.runs.of('completeUnlessBusy:s-1')).toBe(1);
    });

    // Skip mode is about the method's own lock: a LockNotAcquiredError thrown by the body (here a
    // second lock the body needs is busy) must reach the caller, not pass for a skip.
    it("onLocked: 'skip' does not swallow a LockNotAcquiredError thrown by the body", async () => {
      const outcome = await whileHeld('audit-trail', () =>
        service.completeUnlessBusyWithAudit('s-2', 'audit-trail').then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
      );
      expect(service.runs.of('completeUnlessBusyWithAudit:s-2')).toBe(1);
      expect(outcome).toEqual({ error: expect.any(LockNotAcquiredError) });
      expect((outcome as { error: LockNotAcquiredError }).error.key).toBe('audit-trail');
    });
  });

  describe('currentLock()', () => {
    it('inside: the key, a fencing token that increases across calls, a quiet signal; outside: undefined', async () => {
      expect(currentLock()).toBeUndefined();
      const first = await service.complete('cl-1', () => snapshotOf());
      const second = await service.complete('cl-1', () => snapshotOf());
      expect(first).toMatchObject({ key: 'screening:cl-1', held: true, aborted: false });
      expect(second).toMatchObject({ key: 'screening:cl-1', held: true, aborted: false });
      expect(second!.fencingToken).toBeGreaterThan(first!.fencingToken);
      expect(currentLock()).toBeUndefined();
    });

    it('is not visible to concurrent code outside the call', async () => {
      const inside = new Deferred();
      const leave = new Deferred();
      const call = service.complete('cl-2', async () => {
        inside.resolve();
        await leave.promise;
      });
      await inside.promise;
      expect(currentLock()).toBeUndefined();
      leave.resolve();
      await call;
    });
  });

  describe('release', () => {
    it('when the method returns: the lock it held is released and the key is free at once', async () => {
      let held: Lock | undefined;
      await service.complete('rel-1', () => {
        held = currentLock();
      });
      expect(held!.isHeld).toBe(false);
      // One attempt, no waiting: with the ttl of 30 s an unreleased lock would still be there.
      const next = await locks.tryAcquire('screening:rel-1');
      expect(next).not.toBeNull();
      await next!.release();
    });

    it('when the method throws: the caller gets the method’s own error and the key is free at once', async () => {
      const captured: { lock?: Lock } = {};
      await expect(service.fail('rel-2', captured)).rejects.toThrow('screening rel-2 could not be completed');
      expect(captured.lock!.isHeld).toBe(false);
      expect(captured.lock!.signal.aborted).toBe(false);
      // wait is 0: were the lock still held, this would be LockNotAcquiredError, not the body's error.
      await expect(service.fail('rel-2', {})).rejects.toThrow('screening rel-2 could not be completed');
      expect(service.runs.of('fail:rel-2')).toBe(2);
    });
  });

  describe('auto-extension', () => {
    it('a method running past its ttl (0.3 s, ~1 s of work) keeps the lock and its signal stays quiet', async () => {
      const rivals: boolean[] = [];
      const result = await service.shortTtl('ext-1', async (lock) => {
        for (let i = 0; i < 10; i += 1) {
          await sleep(100);
          const rival = await locks.tryAcquire('screening:ext-1', { ttl: 1 });
          rivals.push(rival !== null);
          await rival?.release();
        }
        return { aborted: lock.signal.aborted, held: lock.isHeld };
      });
      expect(rivals).toEqual(Array(10).fill(false));
      expect(result).toEqual({ aborted: false, held: true });
    });

    it('a lost lock (its key deleted mid-work) aborts the signal and the call rejects with LockLostError', async () => {
      let deleted: string[] = [];
      let reason: unknown;
      const call = service.shortTtl('lost-1', async (lock) => {
        deleted = await deleteLockKey(app, store, appNamespace, 'screening:lost-1');
        reason = await abortedWithin(lock.signal, 3_000);
        return 'finished';
      });
      const error = await call.catch((e: unknown) => e);
      expect(deleted).toHaveLength(1);
      expect(reason).toBeInstanceOf(LockLostError);
      expect(error).toBeInstanceOf(LockLostError);
      expect((error as LockLostError).key).toBe('screening:lost-1');
    });
  });

  describe('the decorated method itself', () => {
    const reflector = new Reflector();

    it.each([
      ['auditedAbove', 'lock-above', 2],
      ['auditedBelow', 'lock-below', 3],
    ] as const)('%s keeps a second decorator’s metadata, its name and length', (method, label, length) => {
      for (const fn of [ScreeningLocks.prototype[method], service[method]]) {
        expect(Reflect.getMetadata(AUDIT_KEY, fn)).toBe(label);
        expect(reflector.get(AUDIT_KEY, fn)).toBe(label);
        expect(fn.name).toBe(method);
        expect(fn.length).toBe(length);
      }
    });

    it('keeps `this` and still runs under its lock in both decorator orders', async () => {
      expect(await service.auditedAbove('t1', 1)).toBe('A:t1@1:audited:t1');
      expect(await service.auditedBelow('t2', 2, 'n')).toBe('A:t2@2:n:audited:t2');
      await whileHeld('audited:t3', async () => {
        await expect(service.auditedAbove('t3', 1)).rejects.toBeInstanceOf(LockNotAcquiredError);
        await expect(service.auditedBelow('t3', 1, 'n')).rejects.toBeInstanceOf(LockNotAcquiredError);
      });
    });
  });

  describe('not re-entrant (the sketch’s test_resource)', () => {
    it('held through LockService (ttl 5): the decorated method, waiting 1 s, gets LockNotAcquiredError', async () => {
      const error = await whileHeld('test_resource', () => service.useTestResource().catch((e: unknown) => e));
      expect(error).toBeInstanceOf(LockNotAcquiredError);
      expect(service.runs.of('useTestResource')).toBe(0);
    });

    it.each(['service', 'decorator'] as const)(
      'held by a @WithLock method: acquiring it again inside through the %s fails after 1 s, and the lock is released',
      async (how) => {
        const before = service.runs.of('useTestResource');
        const error = await service.reenterTestResource(how).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(LockNotAcquiredError);
        expect((error as LockNotAcquiredError).key).toBe('test_resource');
        expect(service.runs.of('useTestResource')).toBe(before);
        const free = await locks.tryAcquire('test_resource');
        expect(free).not.toBeNull();
        await free!.release();
      },
    );
  });

  describe('with @Cacheable on the same method', () => {
    it.each([
      ['@Cacheable above @WithLock', 'cacheAbove', 'report-cache-above'],
      ['@WithLock above @Cacheable', 'lockAbove', 'report-lock-above'],
    ] as const)('%s: a miss runs under the lock, a hit does not take it', async (_label, method, cachePrefix) => {
      const reports = app.get(LockedReports);
      const id = `${method}-1`;
      const miss = await reports[method](id);
      expect(miss).toMatchObject({ id, run: 1, lock: { key: `report:${id}`, held: true, aborted: false } });

      await whileHeld(`report:${id}`, async () => {
        // A call that took the lock would fail here after its 0.2 s wait.
        expect(await reports[method](id)).toEqual(miss);
        // A miss does need the lock.
        await app.get(CacheRegistry).get('items').delete(`${cachePrefix}:${id}`);
        await expect(reports[method](id)).rejects.toBeInstanceOf(LockNotAcquiredError);
      });
      expect(reports.runs.of(`${method}:${id}`)).toBe(1);
    });
  });
});
