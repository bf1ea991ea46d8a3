import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  CacheCommandError,
  CacheModule,
  type CacheModuleOptions,
  CacheTimeoutError,
  CacheUnavailableError,
  LockLostError,
  LockNotAcquiredError,
  LockReplicationError,
  LockService,
} from '@elile/cache';
import { lockValidityMs } from '../../../libs/cache/src/lock/lock';
import { MemoryLockBackend } from '../../../libs/cache/src/lock/memory-lock.backend';
import { resolveCacheOptions } from '../../../libs/cache/src/options/resolve-options';

/**
 * The service and its Lock handles around the memory backend, with single steps of the backend
 * made to fail or to answer late, for paths that a healthy Redis never takes.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const unavailable = () => new CacheUnavailableError('Redis is not connected', 'evalsha');
const timedOut = () => new CacheTimeoutError('Redis did not answer', 'evalsha');

function later<T>(ms: number, value: T): Promise<T> {
  return sleep(ms).then(() => value);
}

let backend: MemoryLockBackend;
let locks: LockService;
let warnings: string[];

function makeService(options: CacheModuleOptions = {}): LockService {
  backend = new MemoryLockBackend();
  locks = new LockService(resolveCacheOptions({ store: 'memory', ...options }), backend);
  return locks;
}

beforeAll(() => Logger.overrideLogger(false));

beforeEach(() => {
  warnings = [];
  jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
    warnings.push(String(message));
  });
  makeService();
});

afterEach(async () => {
  jest.restoreAllMocks();
  await locks.beforeApplicationShutdown();
  await locks.onApplicationShutdown();
});

describe('Lock', () => {
  it('drifts 1 % + 2 ms: a 30 s lock is valid for 29.698 s', () => {
    expect(lockValidityMs(30_000)).toBeCloseTo(29_698);
  });

  it('a failed release rejects with the typed error and leaves the lock released, not lost', async () => {
    const lock = await locks.acquire('k');
    jest.spyOn(backend, 'release').mockRejectedValueOnce(unavailable());
    await expect(lock.release()).rejects.toBeInstanceOf(CacheUnavailableError);
    expect(lock.isHeld).toBe(false);
    expect(lock.signal.aborted).toBe(false);
    await expect(lock.release()).resolves.toBe(false);
    await expect(lock.extend()).rejects.toThrow('already released');
  });

  it('a failed extension aborts the signal at once, with the failure as cause', async () => {
    const lock = await locks.acquire('k');
    const failure = timedOut();
    jest.spyOn(backend, 'extend').mockRejectedValueOnce(failure);
    const caught = await lock.extend(10).catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(LockLostError);
    expect((caught as Error).cause).toBe(failure);
    expect((caught as Error).message).toContain('extending it failed');
    expect(lock.signal.reason).toBe(caught);
  });

  it('learns of the loss at its own deadline, not when a late extension returns', async () => {
    const lock = await locks.acquire('k', { ttl: 0.1 });
    jest.spyOn(backend, 'extend').mockImplementationOnce(() => later(300, true));
    const started = performance.now();
    const extending = lock.extend(10).catch((error: unknown) => error);
    await new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
    expect(performance.now() - started).toBeLessThan(200);
    const caught = await extending;
    expect(caught).toBe(lock.signal.reason);
    expect((caught as Error).message).toContain('validity ran out');
  });

  it('treats an extension that returns after a stalled event loop passed the deadline as a loss', async () => {
    const lock = await locks.acquire('k', { ttl: 0.05 });
    jest.spyOn(backend, 'extend').mockImplementationOnce(async () => {
      const until = performance.now() + 80;
      while (performance.now() < until) {
        // A busy event loop: the expiry timer cannot fire.
      }
      return true;
    });
    await expect(lock.extend()).rejects.toThrow('validity ran out');
    expect(lock.signal.aborted).toBe(true);
  });

  it('never reports a release as successful when the reply came after the deadline', async () => {
    const lock = await locks.acquire('k', { ttl: 0.1 });
    jest.spyOn(backend, 'release').mockImplementationOnce(() => later(200, true));
    await expect(lock.release()).resolves.toBe(false);
    expect(lock.signal.aborted).toBe(true);
  });

  it('a release Redis refuses (not our key any more) is a loss', async () => {
    const lock = await locks.acquire('k');
    jest.spyOn(backend, 'release').mockResolvedValueOnce(false);
    await expect(lock.release()).resolves.toBe(false);
    expect((lock.signal.reason as Error).message).toContain('no longer holds it');
  });

  it('a lock past its deadline whose timer has not fired yet is lost on release and extend', async () => {
    const lock = await locks.acquire('k', { ttl: 0.02 });
    const until = performance.now() + 40;
    while (performance.now() < until) {
      // Stalled: the expiry timer is overdue.
    }
    expect(lock.isHeld).toBe(false);
    await expect(lock.release()).resolves.toBe(false);
    expect(lock.signal.aborted).toBe(true);

    const other = await locks.acquire('other', { ttl: 0.02 });
    const again = performance.now() + 40;
    while (performance.now() < again) {
      // Stalled again.
    }
    await expect(other.extend()).rejects.toThrow('validity ran out');
  });

  it('a watchdog that fails stops and leaves the loss on the signal', async () => {
    const lock = await locks.acquire('k', { ttl: 0.06, autoExtend: true });
    const extend = jest.spyOn(backend, 'extend').mockRejectedValue(unavailable());
    await new Promise((resolve) => lock.signal.addEventListener('abort', resolve));
    await sleep(100);
    expect(extend).toHaveBeenCalledTimes(1);
  });
});

describe('LockService acquisition paths', () => {
  it('retries after a timed-out attempt with the same owner (an idempotent resend)', async () => {
    const acquire = jest.spyOn(backend, 'acquire').mockRejectedValueOnce(timedOut());
    const lock = await locks.acquire('k', { wait: 2 });
    expect(acquire).toHaveBeenCalledTimes(2);
    expect(acquire.mock.calls[0][1]).toBe(acquire.mock.calls[1][1]);
    expect(lock.isHeld).toBe(true);
  });

  it('throws the last Redis error when Redis failed until the end of the wait, releasing what it may hold', async () => {
    makeService({ locks: { pollInterval: 0.02 } });
    jest.spyOn(backend, 'acquire').mockRejectedValue(timedOut());
    const release = jest.spyOn(backend, 'release');
    await expect(locks.acquire('k', { wait: 0.1 })).rejects.toBeInstanceOf(CacheTimeoutError);
    expect(release).toHaveBeenCalledTimes(1);
  });

  it('does not retry an error reply, and releases in case the attempt took the lock', async () => {
    const failure = new CacheCommandError('NOPERM', 'evalsha');
    jest.spyOn(backend, 'acquire').mockRejectedValueOnce(failure);
    const release = jest.spyOn(backend, 'release');
    await expect(locks.acquire('k', { wait: 5 })).rejects.toBe(failure);
    expect(release).toHaveBeenCalledTimes(1);
  });

  it('gives back a lock whose acquisition answered after its validity, and does not hand it out', async () => {
    const real = backend.acquire.bind(backend);
    jest.spyOn(backend, 'acquire').mockImplementationOnce(async (...args) => later(80, await real(...args)));
    const release = jest.spyOn(backend, 'release');
    await expect(locks.tryAcquire('k', { ttl: 0.05 })).resolves.toBeNull();
    expect(release).toHaveBeenCalledTimes(1);
    await expect(locks.tryAcquire('k', { ttl: 1 })).resolves.not.toBeNull();
  });

  it('throws LockNotAcquiredError naming the key and the wait', async () => {
    await locks.acquire('screening:42');
    const caught = await locks.acquire('screening:42', { wait: 0.05 }).catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(LockNotAcquiredError);
    expect((caught as Error).message).toBe('Lock "screening:42" is held by another owner; not acquired within 0.05 s');
  });

  it('waits by polling when release announcements cannot be subscribed to, and says so', async () => {
    makeService({ locks: { pollInterval: 0.05 } });
    jest.spyOn(backend, 'onRelease').mockRejectedValue(unavailable());
    const holder = await locks.acquire('k');
    setTimeout(() => void holder.release(), 50);
    await expect(locks.acquire('k', { wait: 2 })).resolves.toBeDefined();
    expect(warnings.join('\n')).toContain('notifications are unavailable');
  });

  it('an abort during an attempt waits for it, gives back what it took, and rejects with the reason', async () => {
    const controller = new AbortController();
    const real = backend.acquire.bind(backend);
    jest.spyOn(backend, 'acquire').mockImplementationOnce(async (...args) => {
      const attempt = await real(...args);
      controller.abort(new Error('cancelled'));
      return attempt;
    });
    await expect(locks.acquire('k', { signal: controller.signal })).rejects.toThrow('cancelled');
    await expect(locks.tryAcquire('k')).resolves.not.toBeNull();
  });

  it('releases and throws LockReplicationError when too few replicas acknowledged', async () => {
    jest.spyOn(backend, 'acquireReplicated').mockImplementationOnce(async (names, owner, ttlMs) => ({
      attempt: await backend.acquire(names, owner, ttlMs),
      acknowledged: 1,
    }));
    const caught = await locks.acquire('k', { replicas: 2, replicaTimeout: 0.1 }).catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(LockReplicationError);
    expect(caught).toMatchObject({ acknowledged: 1, required: 2, key: 'k' });
    expect((caught as Error).message).toContain('1 of 2 required replicas within 100 ms');
    await expect(locks.tryAcquire('k')).resolves.not.toBeNull();
  });

  it('treats replicas as satisfied in memory mode (one process has none to lose a lock to)', async () => {
    makeService({ locks: { replicas: 1 } });
    await expect(locks.acquire('k')).resolves.toBeDefined();
  });

  it('refuses replicas on a cluster connection per call too', async () => {
    const cluster = new LockService(
      resolveCacheOptions({ redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } } }),
      backend,
    );
    await expect(cluster.acquire('k', { replicas: 1 })).rejects.toThrow('not supported with a Redis Cluster');
  });
});

describe('LockService lifecycle', () => {
  it('reports the eviction policies it finds, and when it cannot look', async () => {
    const redisMode = new LockService(resolveCacheOptions(), backend);
    jest.spyOn(backend, 'evictionPolicies').mockResolvedValueOnce(['noeviction', 'volatile-lru', 'volatile-lru']);
    await redisMode.onApplicationBootstrap();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"volatile-lru"');

    jest.spyOn(backend, 'evictionPolicies').mockRejectedValueOnce(new CacheCommandError('NOPERM config', 'config'));
    await redisMode.onApplicationBootstrap();
    expect(warnings[1]).toContain('Could not verify');
    expect(warnings[1]).toContain('NOPERM config');
  });

  it('is provided by CacheModule; the application context logs memory mode and gives up locks on close', async () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    @Module({ imports: [CacheModule.forRoot({ store: 'memory' })] })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    const service = app.get(LockService);
    const lock = await service.acquire('k', { autoExtend: true });
    expect(log.mock.calls.map(([message]) => String(message)).join('\n')).toContain('in this process only');
    await app.close();
    expect(lock.signal.aborted).toBe(true);
    expect((lock.signal.reason as Error).message).toContain('shutting down');
  });
});
