import type Redis from 'ioredis';
import {
  CacheCircuitOpenError,
  CacheCommandError,
  CacheTimeoutError,
  CacheUnavailableError,
  LockLostError,
  LockNotAcquiredError,
  LockService,
  LockUnavailableError,
  type RedisConnectionOptions,
} from '@elile/cache';
import { RecordingLogger } from '../support/recording-logger';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { settlesWithin } from '../support/settles-within';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { type CacheApp, closeRaw, failureOf, rawRedis, sleep, startCacheApp, timed, waitFor } from './cache-test-app';

let server: RedisServerHandle;
const proxies: TcpProxy[] = [];
const apps: CacheApp[] = [];
const raws: Redis[] = [];

beforeAll(async () => {
  server = await startLocalRedisServer({ debugCommand: true });
});

afterEach(async () => {
  for (const proxy of proxies) proxy.release();
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(raws.splice(0).map(closeRaw));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(async () => {
  await server?.stop();
});

/** An app that reaches the test server through a fault proxy. */
async function bootBehindProxy(
  redis: Omit<RedisConnectionOptions, 'url'> = {},
  logger = new RecordingLogger(),
): Promise<{ app: CacheApp; proxy: TcpProxy; logger: RecordingLogger }> {
  const proxy = await startTcpProxy(server.port);
  proxies.push(proxy);
  const app = await startCacheApp(
    { namespace: `breaker:${proxies.length}:`, redis: { url: `redis://127.0.0.1:${proxy.port}`, ...redis } },
    logger,
  );
  apps.push(app);
  return { app, proxy, logger };
}

function raw(): Redis {
  const client = rawRedis(server.url);
  raws.push(client);
  return client;
}

/** Black-holes the proxy and sends reads until the breaker has opened. */
async function openBreaker(app: CacheApp, proxy: TcpProxy): Promise<void> {
  proxy.stall();
  const reads = Array.from({ length: 10 }, (_, i) => app.main.get(`open:${i}`));
  await waitFor('the breaker to open', () => app.redis.breakerStatus().state !== 'closed', 10_000);
  await Promise.all(reads);
}

describe('the circuit breaker of the Redis connection', () => {
  it('while open: commands are refused at once with CacheCircuitOpenError, reads go to the loader, writes are skipped and counted', async () => {
    const { app, proxy, logger } = await bootBehindProxy();
    await app.main.set('k', 'cached');
    await openBreaker(app, proxy);
    const before = app.main.stats();

    const direct = await failureOf(() => app.redis.get('k'));
    expect(direct).toBeInstanceOf(CacheCircuitOpenError);
    expect(direct).toBeInstanceOf(CacheUnavailableError);
    expect((direct as CacheCircuitOpenError).code).toBe('ELILE_CACHE_CIRCUIT_OPEN');
    // No stack: while open every call gets one of these.
    expect((direct as Error).stack?.split('\n')).toHaveLength(1);
    await expect(app.main.getOrSet('k', () => 'from the source')).resolves.toBe('from the source');
    await expect(app.main.set('k', 'new')).resolves.toBe(false);
    await expect(app.main.get('k')).resolves.toBeUndefined();

    const after = app.main.stats();
    expect(after.circuitOpen - before.circuitOpen).toBe(3);
    expect(after.errors - before.errors).toBe(3);
    expect(app.redis.breakerStatus()).toMatchObject({ opened: 1 });
    expect(app.redis.breakerStatus().refused).toBeGreaterThanOrEqual(4);
    expect(logger.text()).toMatch(
      /Redis circuit breaker opened: 5 commands in a row to redis:\/\/127\.0\.0\.1:\d+\/0 failed or timed out/,
    );

    proxy.release();
    await waitFor('the breaker to close', () => app.redis.breakerStatus().state === 'closed', 10_000);
    await expect(app.main.get('k')).resolves.toBe('cached');
    // Every failed probe went back to open; the last probe closed it.
    const { transitions } = app.redis.breakerStatus();
    expect(transitions.closed).toBe(1);
    expect(transitions['half-open']).toBeGreaterThanOrEqual(1);
    expect(transitions.open).toBe(transitions['half-open']);
    expect(logger.text()).toContain('Redis circuit breaker half-open');
    expect(logger.text()).toMatch(
      /Redis circuit breaker closed: redis:\/\/127\.0\.0\.1:\d+\/0 answered after \d+\.\d s open/,
    );
  });

  it('with breaker.enabled false, every call keeps waiting for its deadline (the control)', async () => {
    const { app, proxy } = await bootBehindProxy({ breaker: { enabled: false }, readTimeout: 0.2 });
    await app.main.set('k', 'cached');
    proxy.stall();
    const calls = [];
    for (let i = 0; i < 8; i++) calls.push(await timed(() => app.main.getOrSet('k', () => 'from the source')));
    // The hung-connection detector recycles the connection after 3 timeouts; while it reconnects
    // commands fail at once, but the reconnected socket hangs again: most calls wait.
    expect(calls.every((call) => call.result.status === 'fulfilled')).toBe(true);
    expect(calls.filter((call) => call.ms >= 190).length).toBeGreaterThanOrEqual(3);
    expect(app.redis.breakerStatus()).toEqual({
      state: 'disabled',
      opened: 0,
      refused: 0,
      transitions: { open: 0, 'half-open': 0, closed: 0 },
    });
  });

  it('error replies do not open it: Redis answered', async () => {
    const { app } = await bootBehindProxy({ breaker: { threshold: 2 } });
    const admin = raw();
    await admin.hset('breaker:wrongtype', 'f', 'v');
    for (let i = 0; i < 10; i++) {
      expect(await failureOf(() => app.redis.get('breaker:wrongtype'))).toBeInstanceOf(CacheCommandError);
    }
    expect(app.redis.breakerStatus()).toMatchObject({ state: 'closed', opened: 0 });
  });

  it('a full Redis (maxmemory, noeviction: OOM on every write) keeps it closed, and reads keep hitting', async () => {
    const admin = raw();
    const { app } = await bootBehindProxy({ breaker: { threshold: 2 } });
    await app.main.set('kept', 'cached');
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String(used + 64 * 1024));
    try {
      for (let i = 0; i < 200; i++) await admin.set(`filler:${i}`, 'x'.repeat(10_000)).catch(() => undefined);
      const writes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => app.main.set(`w:${i}`, 'y'.repeat(10_000))),
      );
      expect(writes.every((stored) => stored === false)).toBe(true);
      await expect(app.main.get('kept')).resolves.toBe('cached');
      expect(app.redis.breakerStatus()).toMatchObject({ state: 'closed', opened: 0 });
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      await admin.unlink(...Array.from({ length: 200 }, (_, i) => `filler:${i}`));
    }
  });

  it('threshold 1 opens on the first failure', async () => {
    const { app, proxy } = await bootBehindProxy({ breaker: { threshold: 1 }, readTimeout: 0.2 });
    proxy.stall();
    await expect(app.main.get('k')).resolves.toBeUndefined();
    expect(app.redis.breakerStatus()).toMatchObject({ opened: 1 });
    expect(app.redis.breakerStatus().state).not.toBe('closed');
  });

  it('a 50,000-call burst on a healthy Redis: every caller gets its value, and the cache works again afterwards', async () => {
    const { app } = await bootBehindProxy();
    const results = await Promise.all(
      Array.from({ length: 50_000 }, (_, i) => app.main.getOrSet(`burst:${i}`, async () => i)),
    );
    expect(results.every((value, i) => value === i)).toBe(true);
    // Client-side saturation may time commands out and open the breaker; it must not stay open.
    await waitFor('the breaker to be closed', () => app.redis.breakerStatus().state === 'closed', 10_000);
    await waitFor(
      'a write and a hit',
      async () => (await app.main.set('after', 1)) && (await app.main.get('after')) === 1,
      10_000,
    );
  }, 60_000);
});

describe('separate read and write deadlines', () => {
  it('DEBUG SLEEP between them: the read times out at the read deadline, the write concurrent with it lands', async () => {
    const { app } = await bootBehindProxy({ readTimeout: 0.2, writeTimeout: 3, breaker: { enabled: false } });
    const admin = raw();
    const sleeping = admin.call('DEBUG', 'SLEEP', '0.8');
    await sleep(50);
    const [read, write] = await Promise.all([
      timed(() => app.redis.get('k')),
      timed(() => app.redis.set('w', 'landed')),
    ]);
    await sleeping;
    expect(read.result.status).toBe('rejected');
    const timeout = (read.result as PromiseRejectedResult).reason as CacheTimeoutError;
    expect(timeout).toBeInstanceOf(CacheTimeoutError);
    expect(timeout.message).toContain('within 200 ms');
    expect(write.result.status).toBe('fulfilled');
    expect(write.ms).toBeGreaterThan(read.ms);
    await expect(admin.get('w')).resolves.toBe('landed');
  });

  it('commands sent on the connection directly keep commandTimeout', async () => {
    const { app } = await bootBehindProxy({ readTimeout: 0.1, commandTimeout: 2, breaker: { enabled: false } });
    const admin = raw();
    const sleeping = admin.call('DEBUG', 'SLEEP', '0.5');
    await sleep(50);
    const [viaRun, direct] = await Promise.all([
      timed(() => app.redis.get('k')),
      timed(() => app.redis.connection.get('k')),
    ]);
    await sleeping;
    expect((viaRun.result as PromiseRejectedResult).reason).toBeInstanceOf(CacheTimeoutError);
    expect(direct.result.status).toBe('fulfilled');
  });
});

describe('locks are not fail-open', () => {
  it('with the breaker open: acquire, tryAcquire and using fail at once with LockUnavailableError, a held lock is lost on extend', async () => {
    const { app, proxy } = await bootBehindProxy();
    const locks = app.moduleRef.get(LockService);
    const held = await locks.acquire('job', { ttl: 30 });
    await openBreaker(app, proxy);

    const waiting = locks.acquire('other', { wait: 30 });
    expect(await settlesWithin(waiting, 2_000)).toBe('settled');
    const refused = await failureOf(() => waiting);
    expect(refused).toBeInstanceOf(LockUnavailableError);
    // Not "held by another owner": callers that skip on that must not skip on this.
    expect(refused).not.toBeInstanceOf(LockNotAcquiredError);
    expect((refused as LockUnavailableError).code).toBe('ELILE_LOCK_UNAVAILABLE');
    expect((refused as LockUnavailableError).key).toBe('other');
    expect((refused as LockUnavailableError).cause).toBeInstanceOf(CacheCircuitOpenError);
    expect((refused as Error).message).toContain('circuit breaker is open');

    const tried = await failureOf(() => locks.tryAcquire('other'));
    expect(tried).toBeInstanceOf(LockUnavailableError);

    let ran = false;
    const using = locks.using('other', async () => (ran = true), { wait: 30 });
    expect(await failureOf(() => using)).toBeInstanceOf(LockUnavailableError);
    expect(ran).toBe(false);

    const extended = await failureOf(() => held.extend());
    expect(extended).toBeInstanceOf(LockLostError);
    expect(held.signal.aborted).toBe(true);
    expect(held.isHeld).toBe(false);

    proxy.release();
    await waitFor('the breaker to close', () => app.redis.breakerStatus().state === 'closed', 10_000);
    const lock = await locks.acquire('other', { wait: 5 });
    expect(lock.isHeld).toBe(true);
    await lock.release();
  });
});
