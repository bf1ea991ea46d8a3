import { CacheArgumentError, type Lock, LockLostError, LockNotAcquiredError } from '@elile/cache';
import { lockNames } from '../../../libs/cache/src/lock/lock-names.util';
import { aborted, closeLockFixtures, type LockFixtureFactory, sleep, timed, watchTimers } from './lock-fixture';

/**
 * What every lock backend must do, run against each of them (memory and Redis). Timings use wide
 * margins: the machine is shared, and these check behaviour, not speed.
 */
export function describeLockBehaviour(label: string, make: LockFixtureFactory): void {
  describe(`LockService behaviour (${label})`, () => {
    afterEach(closeLockFixtures);

    describe('acquire, tryAcquire, release', () => {
      it('hands out a held lock with a fencing token and a live signal', async () => {
        const { service } = await make();
        const lock = await service.acquire('screening:42', { ttl: 30, wait: 5 });
        expect(lock.key).toBe('screening:42');
        expect(Number.isSafeInteger(lock.fencingToken)).toBe(true);
        expect(lock.fencingToken).toBeGreaterThan(0);
        expect(lock.isHeld).toBe(true);
        expect(lock.signal.aborted).toBe(false);
        await expect(lock.release()).resolves.toBe(true);
        expect(lock.isHeld).toBe(false);
        // Releasing is not losing.
        expect(lock.signal.aborted).toBe(false);
      });

      it('tryAcquire returns null while another owner holds the key, and a lock once it is free', async () => {
        const { service } = await make();
        const first = await service.tryAcquire('screening:42', { ttl: 30 });
        expect(first).not.toBeNull();
        await expect(service.tryAcquire('screening:42', { ttl: 30 })).resolves.toBeNull();
        await first!.release();
        const second = await service.tryAcquire('screening:42', { ttl: 30 });
        expect(second?.fencingToken).toBeGreaterThan(first!.fencingToken);
      });

      it('is not re-entrant: the sketch holds test_resource (ttl 5) and a 1 s acquire of it fails', async () => {
        const { service } = await make();
        await service.using(
          'test_resource',
          async () => {
            const attempt = await timed(service.acquire('test_resource', { ttl: 1, wait: 1 }));
            expect(attempt.error).toBeInstanceOf(LockNotAcquiredError);
            expect(attempt.error).toMatchObject({ code: 'ELILE_LOCK_NOT_ACQUIRED', key: 'test_resource' });
            expect((attempt.error as Error).message).toContain('test_resource');
            expect(attempt.ms).toBeGreaterThanOrEqual(950);
            expect(attempt.ms).toBeLessThan(3000);
          },
          { ttl: 5 },
        );
      });

      it('wait 0 makes one attempt', async () => {
        const { service } = await make();
        await service.acquire('k', { ttl: 30 });
        const attempt = await timed(service.acquire('k', { wait: 0 }));
        expect(attempt.error).toBeInstanceOf(LockNotAcquiredError);
        expect((attempt.error as Error).message).not.toContain('within');
        expect(attempt.ms).toBeLessThan(500);
      });

      it('keys are independent, whatever characters they hold', async () => {
        const { service } = await make();
        const keys = ['a}', 'a%7D', '}a', '{a}', 'a{b}c', '%', 'ünï 🔒', 'a:b'];
        const locks = await Promise.all(keys.map((key) => service.acquire(key, { wait: 0 })));
        expect(locks.map((lock) => lock.key)).toEqual(keys);
        for (const key of keys) await expect(service.tryAcquire(key)).resolves.toBeNull();
        for (const lock of locks) await expect(lock.release()).resolves.toBe(true);
      });

      it('release reports true once; a second release is false', async () => {
        const { service } = await make();
        const lock = await service.acquire('k');
        await expect(lock.release()).resolves.toBe(true);
        await expect(lock.release()).resolves.toBe(false);
        await expect(lock.extend()).rejects.toThrow(LockLostError);
      });

      it('uses the module defaults for ttl and wait', async () => {
        const { service } = await make({ locks: { defaultTtl: 0.2, defaultWait: 0.1 } });
        const lock = await service.acquire('k');
        await expect(timed(service.acquire('k'))).resolves.toMatchObject({ error: expect.any(LockNotAcquiredError) });
        await aborted(lock.signal);
        await expect(service.acquire('k')).resolves.toBeDefined();
      });
    });

    describe('backend steps', () => {
      it('acquire is idempotent: a resent attempt of the same owner gets the same token', async () => {
        const { backend, options } = await make();
        const names = lockNames(options.namespace, options.locks.prefix, 'k');
        const first = await backend.acquire(names, 'a'.repeat(32), 5000);
        expect(first.acquired).toBe(true);
        await expect(backend.acquire(names, 'a'.repeat(32), 5000)).resolves.toEqual(first);
        await expect(backend.acquire(names, 'b'.repeat(32), 5000)).resolves.toMatchObject({ acquired: false });
        await expect(backend.extend(names, 'b'.repeat(32), 5000)).resolves.toBe(false);
        await expect(backend.release(names, 'b'.repeat(32))).resolves.toBe(false);
        await expect(backend.release(names, 'a'.repeat(32))).resolves.toBe(true);
      });

      it('reports the holder TTL to a waiter', async () => {
        const { backend, options } = await make();
        const names = lockNames(options.namespace, options.locks.prefix, 'k');
        await backend.acquire(names, 'a'.repeat(32), 5000);
        const attempt = await backend.acquire(names, 'b'.repeat(32), 5000);
        expect(attempt).toMatchObject({ acquired: false });
        expect((attempt as { holderTtlMs: number }).holderTtlMs).toBeGreaterThan(4000);
        expect((attempt as { holderTtlMs: number }).holderTtlMs).toBeLessThanOrEqual(5000);
      });
    });

    describe('fencing tokens', () => {
      it('increase strictly with every acquisition of a key, across service instances', async () => {
        const a = await make();
        const b = await make({ namespace: a.options.namespace });
        const tokens: number[] = [];
        for (let i = 0; i < 20; i++) {
          const service = i % 2 === 1 && a.shared ? b.service : a.service;
          const lock = await service.acquire('report', { wait: 5 });
          tokens.push(lock.fencingToken);
          await lock.release();
        }
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
      });

      it('start above every token of an earlier run (seeded from the clock, not from 1)', async () => {
        const { service } = await make();
        const lock = await service.acquire('fresh-key');
        expect(lock.fencingToken).toBeGreaterThan((Date.now() - 60_000) * 1000);
        expect(lock.fencingToken).toBeLessThan(2 ** 53);
      });
    });

    describe('validity and loss', () => {
      it('aborts the signal with LockLostError at the local deadline (ttl − 1 % − 2 ms), not before', async () => {
        const { service } = await make();
        const start = performance.now();
        const lock = await service.acquire('k', { ttl: 0.3 });
        await sleep(150);
        expect(lock.signal.aborted).toBe(false);
        expect(lock.isHeld).toBe(true);
        const reason = await aborted(lock.signal);
        const elapsed = performance.now() - start;
        expect(elapsed).toBeGreaterThanOrEqual(300 - 3 - 2 - 1);
        expect(elapsed).toBeLessThan(1000);
        expect(reason).toBeInstanceOf(LockLostError);
        expect(reason).toMatchObject({ code: 'ELILE_LOCK_LOST', key: 'k' });
        expect(lock.isHeld).toBe(false);
        await expect(lock.release()).resolves.toBe(false);
      });

      it('extend moves the deadline', async () => {
        const { service } = await make();
        const lock = await service.acquire('k', { ttl: 0.4 });
        await sleep(250);
        await lock.extend(0.4);
        await sleep(250);
        expect(lock.isHeld).toBe(true);
        expect(lock.signal.aborted).toBe(false);
        await lock.extend(1);
        await expect(lock.release()).resolves.toBe(true);
      });

      it('an expired lock taken by B can be neither released nor extended by A', async () => {
        const { service } = await make();
        const a = await service.acquire('k', { ttl: 0.1 });
        await aborted(a.signal);
        await sleep(20);
        const b = await service.acquire('k', { ttl: 30, wait: 1 });
        expect(b.fencingToken).toBeGreaterThan(a.fencingToken);

        await expect(a.release()).resolves.toBe(false);
        await expect(a.extend(30)).rejects.toBeInstanceOf(LockLostError);
        await expect(service.tryAcquire('k')).resolves.toBeNull();
        expect(b.isHeld).toBe(true);
        await expect(b.release()).resolves.toBe(true);
      });

      it('a refused extension aborts the signal at once', async () => {
        const fixture = await make();
        const lock = await fixture.service.acquire('k', { ttl: 30 });
        await fixture.dropKey('k');
        const caught = await lock.extend().catch((error: unknown) => error);
        expect(caught).toBeInstanceOf(LockLostError);
        expect(lock.signal.aborted).toBe(true);
        expect(lock.signal.reason).toBe(caught);
        expect((caught as Error).message).toContain('no longer holds it');
      });

      it('autoExtend keeps the lock past its TTL until released', async () => {
        const { service } = await make();
        const lock = await service.acquire('k', { ttl: 0.15, autoExtend: true });
        await sleep(600);
        expect(lock.isHeld).toBe(true);
        expect(lock.signal.aborted).toBe(false);
        await expect(service.tryAcquire('k')).resolves.toBeNull();
        await expect(lock.release()).resolves.toBe(true);
      });

      it('without autoExtend, acquire lets the lock expire', async () => {
        const { service } = await make();
        const lock = await service.acquire('k', { ttl: 0.15 });
        await sleep(400);
        expect(lock.signal.aborted).toBe(true);
        await expect(service.tryAcquire('k')).resolves.not.toBeNull();
      });
    });

    describe('using', () => {
      it('returns the result, extends while the callback runs, and releases at the end', async () => {
        const { service } = await make();
        let inside: Lock | undefined;
        const result = await service.using(
          'k',
          async (lock) => {
            inside = lock;
            await sleep(500);
            expect(lock.isHeld).toBe(true);
            return 'done';
          },
          { ttl: 0.15 },
        );
        expect(result).toBe('done');
        expect(inside?.isHeld).toBe(false);
        expect(inside?.signal.aborted).toBe(false);
        await expect(service.tryAcquire('k')).resolves.not.toBeNull();
      });

      it('releases when the callback throws, and rethrows its error', async () => {
        const { service } = await make();
        const failure = new Error('boom');
        await expect(service.using('k', () => Promise.reject(failure))).rejects.toBe(failure);
        await expect(
          service.using('k', () => {
            throw failure;
          }),
        ).rejects.toBe(failure);
        await expect(service.tryAcquire('k')).resolves.not.toBeNull();
      });

      it('rejects with LockLostError when the lock was lost before the callback finished', async () => {
        const { service } = await make();
        let sawAbort = false;
        const outcome = service.using(
          'k',
          async (lock) => {
            await aborted(lock.signal);
            sawAbort = true;
            return 'too late';
          },
          { ttl: 0.1, autoExtend: false },
        );
        await expect(outcome).rejects.toBeInstanceOf(LockLostError);
        expect(sawAbort).toBe(true);
      });

      it('keeps a callback error as the cause when the lock was lost too', async () => {
        const { service } = await make();
        const failure = new Error('write failed');
        const caught = await service
          .using(
            'k',
            async (lock) => {
              await aborted(lock.signal);
              throw failure;
            },
            { ttl: 0.1, autoExtend: false },
          )
          .catch((error: unknown) => error);
        expect(caught).toBeInstanceOf(LockLostError);
        expect((caught as Error).cause).toBe(failure);
        expect((caught as Error).message).toContain('write failed');
      });

      it('passes the LockLostError through when the callback rethrows the signal reason', async () => {
        const { service } = await make();
        let reason: unknown;
        const caught = await service
          .using(
            'k',
            async (lock) => {
              reason = await aborted(lock.signal);
              lock.signal.throwIfAborted();
            },
            { ttl: 0.1, autoExtend: false },
          )
          .catch((error: unknown) => error);
        expect(caught).toBe(reason);
      });
    });

    describe('waiting', () => {
      it('a waiter is woken by the release itself, not by its poll', async () => {
        const { service } = await make({ locks: { pollInterval: 5 } });
        const holder = await service.acquire('k', { ttl: 30 });
        const waiting = timed(service.acquire('k', { ttl: 30, wait: 10 }));
        await sleep(200);
        const releasedAt = performance.now();
        await holder.release();
        const { value, error } = await waiting;
        expect(error).toBeUndefined();
        expect(performance.now() - releasedAt).toBeLessThan(500);
        expect(value!.fencingToken).toBeGreaterThan(holder.fencingToken);
      });

      it('a waiter takes over when the holder lets its TTL run out, without waiting for its poll', async () => {
        const { service } = await make({ locks: { pollInterval: 5 } });
        await service.acquire('k', { ttl: 0.4 });
        const attempt = await timed(service.acquire('k', { wait: 10 }));
        expect(attempt.error).toBeUndefined();
        expect(attempt.ms).toBeLessThan(1500);
      });

      it('many waiters on one key each get the lock in turn', async () => {
        const { service } = await make({ locks: { pollInterval: 5 } });
        const order: number[] = [];
        await Promise.all(
          Array.from({ length: 6 }, () =>
            service.using(
              'k',
              async (lock) => {
                order.push(lock.fencingToken);
                await sleep(5);
              },
              { wait: 10 },
            ),
          ),
        );
        expect(order).toHaveLength(6);
        expect([...order].sort((x, y) => x - y)).toEqual(order);
      });

      it('cancelling a waiting acquire rejects promptly and leaves nothing behind', async () => {
        const fixture = await make({ locks: { pollInterval: 5 } });
        const { service } = fixture;
        const holder = await service.acquire('k', { ttl: 30 });
        const timers = watchTimers();
        try {
          const controller = new AbortController();
          const waiting = timed(service.acquire('k', { wait: 10, signal: controller.signal }));
          await sleep(100);
          expect(fixture.subscriptions()).toBe(1);
          const reason = new Error('client went away');
          const abortedAt = performance.now();
          controller.abort(reason);
          const { error } = await waiting;
          expect(error).toBe(reason);
          expect(performance.now() - abortedAt).toBeLessThan(100);
          expect(fixture.subscriptions()).toBe(0);
          // Redis answers the UNSUBSCRIBE (and the client clears its deadline) a moment later.
          await sleep(50);
          expect(timers.pending()).toBe(0);
        } finally {
          timers.stop();
        }
        // The holder is untouched; once it is gone, the key is free (the waiter took nothing).
        expect(holder.isHeld).toBe(true);
        await expect(holder.release()).resolves.toBe(true);
        await expect(service.tryAcquire('k')).resolves.not.toBeNull();
      });

      it('an already aborted signal rejects before any attempt', async () => {
        const { service } = await make();
        const controller = new AbortController();
        controller.abort(new Error('never mind'));
        await expect(service.acquire('k', { signal: controller.signal })).rejects.toThrow('never mind');
        await expect(service.tryAcquire('k', { signal: controller.signal })).rejects.toThrow('never mind');
        await expect(service.tryAcquire('k')).resolves.not.toBeNull();
      });

      it('waiting on many keys shares one subscription per key, dropped when the last waiter leaves', async () => {
        const fixture = await make({ locks: { pollInterval: 5 } });
        const { service } = fixture;
        const holders = await Promise.all(['a', 'b', 'c'].map((key) => service.acquire(key, { ttl: 30 })));
        const waiters = ['a', 'a', 'b', 'b', 'c', 'c'].map((key) => service.using(key, () => sleep(1), { wait: 10 }));
        await sleep(150);
        expect(fixture.subscriptions()).toBe(3);
        for (const holder of holders) await holder.release();
        await Promise.all(waiters);
        expect(fixture.subscriptions()).toBe(0);
      });
    });

    describe('shutdown', () => {
      it('gives up held locks: signals abort, keys are freed, watchdogs stop', async () => {
        const first = await make();
        const other = await make({ namespace: first.options.namespace });
        const lock = await first.service.acquire('k', { ttl: 30, autoExtend: true });
        await first.close();
        expect(lock.signal.aborted).toBe(true);
        expect((lock.signal.reason as Error).message).toContain('shutting down');
        if (first.shared) await expect(other.service.tryAcquire('k')).resolves.not.toBeNull();
      });
    });

    describe('arguments', () => {
      it.each<[string, () => unknown]>([
        ['an empty key', () => ({ key: '' })],
        ['a non-string key', () => ({ key: 42 })],
        ['a zero ttl', () => ({ options: { ttl: 0 } })],
        ['a ttl below 10 ms', () => ({ options: { ttl: 0.005 } })],
        ['a ttl too long for a timer', () => ({ options: { ttl: 30 * 86400 } })],
        ['a negative wait', () => ({ options: { wait: -1 } })],
        ['a NaN wait', () => ({ options: { wait: Number.NaN } })],
        ['fractional replicas', () => ({ options: { replicas: 1.5 } })],
        ['a replicaTimeout above the command timeout', () => ({ options: { replicas: 1, replicaTimeout: 5 } })],
      ])('rejects %s with CacheArgumentError', async (_label, input) => {
        const { service } = await make();
        const { key = 'k', options = {} } = input() as { key?: unknown; options?: object };
        await expect(service.acquire(key as string, options)).rejects.toBeInstanceOf(CacheArgumentError);
        await expect(service.using(key as string, () => 1, options)).rejects.toBeInstanceOf(CacheArgumentError);
      });
    });
  });
}
