import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import {
  type CacheError,
  CacheTimeoutError,
  CacheUnavailableError,
  LockLostError,
  LockReplicationError,
} from '@elile/cache';
import { lockNames } from '../../../libs/cache/src/lock/lock-names.util';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import {
  aborted,
  closeLockFixtures,
  closeRawClients,
  rawClient,
  redisLocks,
  sleep,
  timed,
  waitFor,
} from './lock-fixture';

const servers: RedisServerHandle[] = [];
const directories: string[] = [];
const proxies: TcpProxy[] = [];

async function startServer(extraArgs: string[] = []): Promise<RedisServerHandle> {
  const server = await startLocalRedisServer({ extraArgs });
  servers.push(server);
  return server;
}

async function startProxy(url = testRedisUrl()): Promise<TcpProxy> {
  const { hostname, port } = new URL(url);
  const proxy = await startTcpProxy(Number(port || 6379), hostname);
  proxies.push(proxy);
  return proxy;
}

let warnings: string[];

beforeAll(() => Logger.overrideLogger(false));

beforeEach(() => {
  warnings = [];
  jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
    warnings.push(String(message));
  });
});

afterEach(async () => {
  jest.restoreAllMocks();
  for (const proxy of proxies) proxy.release();
  await closeLockFixtures();
  await closeRawClients();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
  for (const dir of directories.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('Redis restart without persistence while a lock is held', () => {
  it('the holder learns at its next extension, and later tokens exceed every earlier one', async () => {
    const server = await startServer();
    const { service, client } = await redisLocks({ redis: { url: server.url, commandTimeout: 0.5 } });
    const before: number[] = [];
    for (let i = 0; i < 50; i++) {
      const lock = await service.acquire('screening:1', { wait: 0 });
      before.push(lock.fencingToken);
      await lock.release();
    }
    const other = await service.acquire('screening:2');
    before.push(other.fencingToken);
    const held = await service.acquire('screening:1', { ttl: 3, autoExtend: true });
    before.push(held.fencingToken);

    const restartedAt = performance.now();
    await server.restart();
    const reason = await aborted(held.signal);
    expect(reason).toBeInstanceOf(LockLostError);
    // Learned from the watchdog (every ttl/3 = 1 s), not from the validity deadline (~3 s).
    expect((reason as Error).message).toMatch(/extending it failed|no longer holds it/);
    expect(performance.now() - restartedAt).toBeLessThan(2500);

    await waitFor(() => client!.isReady, 5000, 'reconnect');
    const after = [
      (await service.acquire('screening:1', { wait: 5 })).fencingToken,
      (await service.acquire('screening:2', { wait: 5 })).fencingToken,
    ];
    for (const token of after) expect(token).toBeGreaterThan(Math.max(...before));
    await expect(held.release()).resolves.toBe(false);
  });

  it('a lock whose connection is cut is lost at the next extension, and extend rejects with the cause', async () => {
    const proxy = await startProxy();
    const { service } = await redisLocks({ redis: { url: `redis://127.0.0.1:${proxy.port}` } });
    const lock = await service.acquire('k', { ttl: 30 });
    proxy.cutAll();
    const caught = await lock.extend().catch((error: unknown) => error);
    expect(caught).toBeInstanceOf(LockLostError);
    // Unavailable when ioredis saw the close first, timed out when the command left before it did.
    expect(['ELILE_CACHE_UNAVAILABLE', 'ELILE_CACHE_TIMEOUT']).toContain(((caught as Error).cause as CacheError).code);
    expect(lock.signal.aborted).toBe(true);
  });
});

describe('scripts', () => {
  it('acquire, extend and release keep working after SCRIPT FLUSH', async () => {
    const server = await startServer();
    const { service } = await redisLocks({ redis: { url: server.url } });
    const admin = rawClient(server.url);
    const lock = await service.acquire('k', { ttl: 5 });
    await admin.script('FLUSH');
    await lock.extend(5);
    await admin.script('FLUSH');
    await expect(lock.release()).resolves.toBe(true);
    await admin.script('FLUSH');
    const again = await service.acquire('k', { wait: 0 });
    expect(again.fencingToken).toBeGreaterThan(lock.fencingToken);
  });

  it('acquire is idempotent: the same owner gets the same token and the counter moves once', async () => {
    const { backend, options } = await redisLocks();
    const names = lockNames(options.namespace, options.locks.prefix, 'k');
    const first = await backend.acquire(names, 'a'.repeat(32), 5000);
    const second = await backend.acquire(names, 'a'.repeat(32), 5000);
    expect(second).toEqual(first);
    const admin = rawClient(testRedisUrl());
    expect(Number(await admin.get(names.fence))).toBe((first as { fencingToken: number }).fencingToken);
    expect(await admin.get(names.lock)).toBe(`${'a'.repeat(32)}:${(first as { fencingToken: number }).fencingToken}`);
    await expect(backend.acquire(names, 'b'.repeat(32), 5000)).resolves.toMatchObject({ acquired: false });
  });

  it('an attempt whose reply was lost is recognised by the next one, not left as a phantom lock', async () => {
    const proxy = await startProxy();
    const { service, options } = await redisLocks({
      redis: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeout: 0.2 },
      locks: { pollInterval: 0.05 },
    });
    proxy.stall();
    const acquiring = timed(service.acquire('k', { ttl: 30, wait: 5 }));
    // Several attempts time out meanwhile; their scripts still reach Redis once the stall ends.
    await sleep(600);
    proxy.release();
    const { value: lock, error } = await acquiring;
    expect(error).toBeUndefined();
    const names = lockNames(options.namespace, options.locks.prefix, 'k');
    const admin = rawClient(testRedisUrl());
    expect(Number(await admin.get(names.fence))).toBe(lock!.fencingToken);
    await expect(lock!.release()).resolves.toBe(true);
    await expect(admin.exists(names.lock)).resolves.toBe(0);
  });
});

describe('cancellation and failures while acquiring', () => {
  it('aborting while an attempt is in flight releases the lock that attempt took', async () => {
    const proxy = await startProxy();
    const { service, options } = await redisLocks({ redis: { url: `redis://127.0.0.1:${proxy.port}` } });
    proxy.stall();
    const controller = new AbortController();
    const acquiring = timed(service.acquire('k', { ttl: 30, wait: 5, signal: controller.signal }));
    await sleep(50);
    const reason = new Error('request cancelled');
    controller.abort(reason);
    await sleep(50);
    // The SET runs now, after the caller gave up.
    proxy.release();
    const { error, ms } = await acquiring;
    expect(error).toBe(reason);
    expect(ms).toBeLessThan(1000);
    const admin = rawClient(testRedisUrl());
    await expect(admin.exists(lockNames(options.namespace, options.locks.prefix, 'k').lock)).resolves.toBe(0);
  });

  it('a hung Redis makes a waiting acquire fail with the typed error at the end of its wait, leaving no key', async () => {
    const server = await startServer();
    const { service, options } = await redisLocks({
      redis: { url: server.url, commandTimeout: 0.15 },
      locks: { pollInterval: 0.05, replicaTimeout: 0.1 },
    });
    await server.pause();
    let outcome: Awaited<ReturnType<typeof timed>>;
    try {
      outcome = await timed(service.acquire('k', { wait: 0.5 }));
    } finally {
      await server.resume();
    }
    expect(outcome.error).toBeInstanceOf(CacheTimeoutError);
    expect(outcome.ms).toBeGreaterThanOrEqual(450);
    // The timed-out scripts ran after the resume; the clean-up release, queued behind them, too.
    const admin = rawClient(server.url);
    const names = lockNames(options.namespace, options.locks.prefix, 'k');
    await waitFor(async () => (await admin.exists(names.lock)) === 0, 3000, 'no orphan lock');
  });

  it('a hung Redis fails tryAcquire within one command deadline (the clean-up release is not awaited), leaving no key', async () => {
    const server = await startServer();
    const { service, options } = await redisLocks({ redis: { url: server.url, commandTimeout: 0.3 } });
    await server.pause();
    let outcome: Awaited<ReturnType<typeof timed>>;
    try {
      outcome = await timed(service.tryAcquire('k'));
    } finally {
      await server.resume();
    }
    expect(outcome.error).toBeInstanceOf(CacheTimeoutError);
    // Two deadlines before: the attempt's, then the awaited release's.
    expect(outcome.ms).toBeLessThan(2 * 300);
    const admin = rawClient(server.url);
    const names = lockNames(options.namespace, options.locks.prefix, 'k');
    await waitFor(async () => (await admin.exists(names.lock)) === 0, 3000, 'no orphan lock');
  });

  it('a Redis that is down fails tryAcquire at once with CacheUnavailableError', async () => {
    const server = await startServer();
    const { service } = await redisLocks({ redis: { url: server.url } });
    await server.stop();
    const outcome = await timed(service.tryAcquire('k'));
    expect(outcome.error).toBeInstanceOf(CacheUnavailableError);
    expect(outcome.ms).toBeLessThan(500);
  });

  it('using returns the result when only the release fails (the lock was valid throughout)', async () => {
    const proxy = await startProxy();
    const { service } = await redisLocks({ redis: { url: `redis://127.0.0.1:${proxy.port}` } });
    const result = await service.using('k', async () => {
      proxy.cutAll();
      return 'committed';
    });
    expect(result).toBe('committed');
    expect(warnings.join('\n')).toMatch(/Releasing lock "k" failed/);
  });
});

describe('release announcements', () => {
  it('waiters on many keys share ONE subscriber connection', async () => {
    const server = await startServer();
    const { service } = await redisLocks({ redis: { url: server.url }, locks: { pollInterval: 5 } });
    const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
    const holders = await Promise.all(keys.map((key) => service.acquire(key, { ttl: 30 })));
    const waiters = [...keys, ...keys].map((key) => service.using(key, () => sleep(1), { wait: 10 }));
    const admin = rawClient(server.url);
    await waitFor(async () => ((await admin.pubsub('CHANNELS')) as string[]).length === 10, 5000, 'subscriptions');
    const clients = (await admin.client('LIST')) as string;
    const subscribers = clients.split('\n').filter((line) => / sub=[1-9]/.test(line));
    expect(subscribers).toHaveLength(1);
    expect(subscribers[0]).toMatch(/ sub=10 /);
    for (const holder of holders) await holder.release();
    await Promise.all(waiters);
    await waitFor(async () => ((await admin.pubsub('CHANNELS')) as string[]).length === 0, 2000, 'unsubscribed');
  });

  it('without announcements (SUBSCRIBE refused), waiters fall back to polling and say so', async () => {
    const server = await startServer();
    const admin = rawClient(server.url);
    await admin.call('ACL', 'SETUSER', 'nosub', 'on', '>nosub-pass', '~*', '&*', '+@all', '-subscribe');
    const { service } = await redisLocks({
      redis: { url: `redis://nosub:nosub-pass@127.0.0.1:${server.port}` },
      locks: { pollInterval: 0.2 },
    });
    const holder = await service.acquire('k', { ttl: 30 });
    const waiting = timed(service.acquire('k', { wait: 5 }));
    await sleep(100);
    await holder.release();
    const { error, ms } = await waiting;
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(1500);
    expect(warnings.join('\n')).toMatch(/notifications are unavailable/);
  });
});

describe('eviction policy check at bootstrap', () => {
  it('warns loudly, naming the policy, when Redis may evict lock keys', async () => {
    const server = await startServer(['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru']);
    const { service } = await redisLocks({ redis: { url: server.url } });
    await service.onApplicationBootstrap();
    expect(warnings.join('\n')).toMatch(/maxmemory-policy is "allkeys-lru".*evict a held lock.*tag's index/s);
  });

  it('stays quiet under noeviction', async () => {
    const server = await startServer(['--maxmemory-policy', 'noeviction']);
    const { service } = await redisLocks({ redis: { url: server.url } });
    await service.onApplicationBootstrap();
    expect(warnings).toEqual([]);
  });

  it('says it could not verify when CONFIG is refused, without leaking the password', async () => {
    const server = await startServer();
    const admin = rawClient(server.url);
    await admin.call('ACL', 'SETUSER', 'locker', 'on', '>Locker-S3cret', '~*', '&*', '+@all', '-config');
    const { service } = await redisLocks({ redis: { url: `redis://locker:Locker-S3cret@127.0.0.1:${server.port}` } });
    await service.onApplicationBootstrap();
    const text = warnings.join('\n');
    expect(text).toMatch(/Could not verify/);
    expect(text).not.toContain('Locker-S3cret');
  });
});

describe('replication check (WAIT)', () => {
  it('counts replica acknowledgements; too few release the lock and throw LockReplicationError', async () => {
    // The replica writes the RDB of its initial sync to its --dir: keep it out of the repository.
    const dir = mkdtempSync(join(tmpdir(), 'elile-replica-'));
    directories.push(dir);
    const master = await startServer(['--dir', dir, '--repl-diskless-sync-delay', '0']);
    const replica = await startServer(['--dir', dir, '--replicaof', '127.0.0.1', String(master.port)]);
    const replicaAdmin = rawClient(replica.url);
    await waitFor(
      async () => /master_link_status:up/.test(await replicaAdmin.info('replication')),
      10_000,
      'replica link',
    );
    const namespace = uniqueNamespace('replicated');
    const { service, options } = await redisLocks({
      namespace,
      redis: { url: master.url },
      // Roomy: on a loaded machine (jest runs suites side by side) an acknowledgement took > 200 ms.
      locks: { replicas: 1, replicaTimeout: 0.6 },
    });

    // A replica reported "up" may not acknowledge yet: wait until it does, as a WAIT would see it.
    const masterProbe = rawClient(master.url);
    await waitFor(
      async () => (await masterProbe.set('probe', '1'), (await masterProbe.wait(1, 200)) === 1),
      10_000,
      'replica acks',
    );
    const lock = await service.acquire('k', { ttl: 30 });
    await waitFor(async () => (await replicaAdmin.exists(lockNames(namespace, 'lock:', 'k').lock)) === 1);
    await lock.release();

    await replica.pause();
    try {
      const caught = await service.acquire('k2', { ttl: 30 }).catch((error: unknown) => error);
      expect(caught).toBeInstanceOf(LockReplicationError);
      expect(caught).toMatchObject({ code: 'ELILE_LOCK_REPLICATION', key: 'k2', acknowledged: 0, required: 1 });
      const masterAdmin = rawClient(master.url);
      await expect(masterAdmin.exists(lockNames(namespace, options.locks.prefix, 'k2').lock)).resolves.toBe(0);
      // A call can waive the check.
      await expect(service.acquire('k2', { ttl: 30, replicas: 0 })).resolves.toBeDefined();
    } finally {
      await replica.resume();
    }
  });
});
