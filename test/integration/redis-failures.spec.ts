import { RecordingLogger } from '../support/recording-logger';
import { settlesWithin } from '../support/settles-within';
import type Redis from 'ioredis';
import { CacheError, CacheTimeoutError, CacheUnavailableError, type RedisConnectionOptions } from '@elile/cache';
import { deferred } from '../support/deferred';
import { captureOutput, everythingIn } from '../support/secret-leaks';
import { findFreePort, type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { type CacheApp, closeRaw, failureOf, rawRedis, sleep, startCacheApp, timed, waitFor } from './cache-test-app';

const namespace = uniqueNamespace('redis-failures');
const servers: RedisServerHandle[] = [];
const proxies: TcpProxy[] = [];
const apps: CacheApp[] = [];
const raws: Redis[] = [];

async function startServer(): Promise<RedisServerHandle> {
  const server = await startLocalRedisServer();
  servers.push(server);
  return server;
}

async function boot(
  url: string,
  redis: Omit<RedisConnectionOptions, 'url'> = {},
  logger = new RecordingLogger(),
): Promise<CacheApp> {
  const app = await startCacheApp({ store: 'redis', namespace, redis: { url, ...redis } }, logger);
  apps.push(app);
  return app;
}

function raw(url: string): Redis {
  const client = rawRedis(url);
  raws.push(client);
  return client;
}

afterEach(async () => {
  // Apps first: their shutdown talks to servers and proxies that are about to go.
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(raws.splice(0).map(closeRaw));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

/** What the application sees while Redis cannot be reached: fast typed failures, degraded cache. */
async function expectDegradedWhileDown(app: CacheApp): Promise<void> {
  const cache = app.main;
  const errorsBefore = cache.stats().errors;

  const direct = await timed(() => app.redis.get('k'), 5_000);
  expect(direct.result.status).toBe('rejected');
  expect((direct.result as PromiseRejectedResult).reason).toBeInstanceOf(CacheUnavailableError);
  expect(direct.ms).toBeLessThan(3_000);

  const degraded = await timed(async () => {
    await expect(cache.get('k')).resolves.toBeUndefined();
    await expect(cache.getOrSet('k', () => 'from the source')).resolves.toBe('from the source');
    await expect(cache.set('k', 'v')).resolves.toBe(false);
    expect(await failureOf(() => cache.delete('k'))).toBeInstanceOf(CacheUnavailableError);
    expect(await failureOf(() => cache.invalidatePattern('*'))).toBeInstanceOf(CacheUnavailableError);
  }, 5_000);
  expect(degraded.result.status).toBe('fulfilled');
  expect(degraded.ms).toBeLessThan(3_000);
  // get, getOrSet's read and set degrade and count; invalidations throw instead.
  expect(cache.stats().errors).toBe(errorsBefore + 3);
}

/** Starts every kind of operation at once, from inside a moment when the connection is down. */
function operationsDuringOutage(app: CacheApp) {
  const loader = jest.fn(() => 'from the source');
  const outcomes = Promise.allSettled([
    app.redis.get('k'),
    app.main.get('k'),
    app.main.getOrSet('k', loader),
    app.main.set('k', 'v'),
    app.main.delete('k'),
  ]);
  return { loader, outcomes };
}

describe('Redis down', () => {
  it('with nothing listening: the app boots, commands fail fast and typed, the cache degrades', async () => {
    const port = await findFreePort();
    const logger = new RecordingLogger();

    const booting = await timed(() => boot(`redis://127.0.0.1:${port}`, {}, logger));
    expect(booting.result.status).toBe('fulfilled');
    expect(booting.ms).toBeLessThan(3_000);
    const app = (booting.result as PromiseFulfilledResult<CacheApp>).value;

    expect(app.redis.isReady).toBe(false);
    expect(logger.lines.some((line) => line.startsWith('warn:') && line.includes(`127.0.0.1:${port}`))).toBe(true);
    await expectDegradedWhileDown(app);
  });

  it('stopped after the app booted: commands fail fast and typed, the cache degrades', async () => {
    const server = await startServer();
    const app = await boot(server.url);
    await expect(app.main.set('k', 'v')).resolves.toBe(true);

    await server.stop();
    await waitFor('the client to notice the server is gone', () => !app.redis.isReady, 3_000);

    await expectDegradedWhileDown(app);
  });

  it('killed and restarted: degrades during the outage and works again within seconds', async () => {
    const server = await startServer();
    const app = await boot(server.url);
    await app.main.set('before', 'v');

    // Started synchronously on the connection's 'close', so they run while Redis is down for sure.
    const during = new Promise<ReturnType<typeof operationsDuringOutage>>((resolve) => {
      app.redis.connection.once('close', () => resolve(operationsDuringOutage(app)));
    });
    await server.restart();

    const { loader, outcomes } = await during;
    const [direct, get, getOrSet, set, del] = await outcomes;
    expect(direct).toMatchObject({ status: 'rejected', reason: expect.any(CacheUnavailableError) });
    expect(get).toEqual({ status: 'fulfilled', value: undefined });
    expect(getOrSet).toEqual({ status: 'fulfilled', value: 'from the source' });
    expect(loader).toHaveBeenCalledTimes(1);
    expect(set).toEqual({ status: 'fulfilled', value: false });
    expect(del).toMatchObject({ status: 'rejected', reason: expect.any(CacheUnavailableError) });

    await waitFor(
      'the cache to store and read again',
      async () => (await app.main.set('after', 'v2')) && (await app.main.get('after')) === 'v2',
      5_000,
    );
    // Read-through fills again: the lease scripts are reloaded on the fresh server.
    await expect(app.main.getOrSet('filled', () => 'loaded')).resolves.toBe('loaded');
    await expect(app.main.get('filled')).resolves.toBe('loaded');
    await expect(app.redis.get(app.main.fullKey('filled'))).resolves.not.toBeNull();
  });

  it('no offline queue: 2000 sets during an outage settle at once and none lands after the reconnect', async () => {
    const server = await startServer();
    const logger = new RecordingLogger();
    const app = await boot(server.url, {}, logger);
    const keys = Array.from({ length: 2_000 }, (_, i) => `burst:${i}`);

    const burst = new Promise<{ ms: number; results: Array<PromiseSettledResult<boolean>> }>((resolve) => {
      app.redis.connection.once('close', () => {
        const start = performance.now();
        const sets = keys.map((key, i) => app.main.set(key, { i, payload: 'x'.repeat(200) }));
        void Promise.allSettled(sets).then((results) => resolve({ ms: performance.now() - start, results }));
      });
    });
    await server.restart();

    const { ms, results } = await burst;
    expect(ms).toBeLessThan(5_000);
    expect(results.filter((result) => result.status === 'fulfilled' && result.value === false)).toHaveLength(2_000);
    expect((app.redis.connection as unknown as { offlineQueue: { length: number } }).offlineQueue.length).toBe(0);
    expect(app.main.stats().errors).toBe(2_000);
    // Rate-limited: one failing Redis does not mean 2000 log lines.
    expect(logger.lines.filter((line) => line.includes(`"${app.main.name}" set failed`)).length).toBeLessThanOrEqual(1);

    await waitFor('the app to reconnect', () => app.redis.isReady, 5_000);
    // A queue flushed on reconnect would land right away; give it the chance.
    await sleep(300);
    const direct = raw(server.url);
    await expect(direct.exists(...keys.map((key) => app.main.fullKey(key)))).resolves.toBe(0);
    // Control: the same write after the reconnect does land (once the circuit breaker, which the
    // burst of failures opened, has probed Redis and closed).
    await waitFor('the breaker to close', () => app.redis.breakerStatus().state === 'closed', 5_000);
    await expect(app.main.set(keys[0], 'after')).resolves.toBe(true);
    await expect(direct.exists(app.main.fullKey(keys[0]))).resolves.toBe(1);
  });
});

describe('Redis hung (SIGSTOP)', () => {
  it('commands time out with CacheTimeoutError and getOrSet serves the loader', async () => {
    const server = await startServer();
    const app = await boot(server.url, { commandTimeout: 0.3 });
    await app.main.set('k', 'cached');

    await server.pause();
    try {
      const direct = await timed(() => app.redis.get('k'), 5_000);
      expect(direct.result.status).toBe('rejected');
      expect((direct.result as PromiseRejectedResult).reason).toBeInstanceOf(CacheTimeoutError);
      expect(direct.ms).toBeLessThan(3_000);

      const loader = jest.fn(() => 'from the source');
      const readThrough = await timed(() => app.main.getOrSet('other', loader), 5_000);
      expect(readThrough.result).toEqual({ status: 'fulfilled', value: 'from the source' });
      expect(readThrough.ms).toBeLessThan(3_000);
      expect(loader).toHaveBeenCalledTimes(1);
      expect(app.main.stats().errors).toBe(1);
    } finally {
      await server.resume();
    }

    await waitFor('the cache to answer after resume', async () => (await app.main.get('k')) === 'cached', 5_000);
  });
});

describe('late-landing fill (M23)', () => {
  async function setUp(commandTimeout: number) {
    const server = await startServer();
    const proxy = await startTcpProxy(server.port);
    proxies.push(proxy);
    const viaProxy = await boot(`redis://127.0.0.1:${proxy.port}`, { commandTimeout });
    const direct = await boot(server.url);
    // Loads both lease scripts into Redis, so a held fill is one EVALSHA that runs when it arrives.
    await viaProxy.main.getOrSet('warm-up', () => 'w');

    const started = deferred();
    const gate = deferred<string>();
    const fill = viaProxy.main.getOrSet('k', async () => {
      started.resolve();
      return gate.promise;
    });
    await started.promise;
    return { server, proxy, viaProxy, direct, fill, gate };
  }

  it('a fill held in the network until after another instance invalidated the key is not stored', async () => {
    const { proxy, viaProxy, direct, fill, gate } = await setUp(10);

    proxy.stall();
    gate.resolve('stale value');
    expect(await settlesWithin(fill, 200)).toBe('pending');
    await expect(direct.main.delete('k')).resolves.toBe(true);
    proxy.release();

    // The fill reached Redis (its reply came back), and Redis refused it.
    await expect(fill).resolves.toBe('stale value');
    expect(viaProxy.main.stats().staleFillsDiscarded).toBe(1);
    await expect(direct.main.get('k')).resolves.toBeUndefined();
  });

  it('a fill that timed out and lands later, after the invalidation, is not stored', async () => {
    const { server, proxy, viaProxy, direct, fill, gate } = await setUp(0.75);
    const fullKey = viaProxy.main.fullKey('k');
    const monitor = await raw(server.url).monitor();
    raws.push(monitor);
    const landed = deferred();
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (/^eval/i.test(args[0] ?? '') && args.includes(fullKey)) landed.resolve();
    });

    proxy.stall();
    gate.resolve('stale value');
    // The caller is served; the fill's outcome is unknown (timed out in the stalled network).
    await expect(fill).resolves.toBe('stale value');
    expect(viaProxy.main.stats().errors).toBe(1);

    await expect(direct.main.delete('k')).resolves.toBe(true);
    proxy.release();
    await landed.promise;

    await expect(direct.main.get('k')).resolves.toBeUndefined();
    await expect(direct.redis.exists(fullKey)).resolves.toBe(false);
  });
});

describe('credentials', () => {
  const SECRET = 's3cret-xyz';
  const WRONG = 'WRONG-SECRET-xyz';
  let server: RedisServerHandle;

  beforeEach(async () => {
    server = await startServer();
    // The harness cannot start with --requirepass (its PING readiness probe gets -NOAUTH), so
    // the password is set right after start; new connections need it all the same.
    const admin = raw(server.url);
    await admin.config('SET', 'requirepass', SECRET);
  });

  it.each([
    ['in the URL', (port: number) => ({ url: `redis://:${WRONG}@127.0.0.1:${port}`, options: {} })],
    ['with a user in the URL', (port: number) => ({ url: `redis://default:${WRONG}@127.0.0.1:${port}`, options: {} })],
    ['in the password option', (port: number) => ({ url: `redis://127.0.0.1:${port}`, options: { password: WRONG } })],
  ])('a wrong password %s reaches neither logs nor errors', async (_, target) => {
    const { url, options } = target(server.port);
    const logger = new RecordingLogger();
    const output = captureOutput();
    let failures: unknown[];
    try {
      const app = await boot(url, options, logger);
      // Proof that the AUTH carrying the password was sent and refused, and that logging is captured.
      await waitFor('the refused AUTH to be logged', () => /WRONGPASS/.test(logger.text()), 3_000);

      failures = [
        await failureOf(() => app.redis.get('k')),
        await failureOf(() => app.main.delete('k')),
        await failureOf(() => app.redis.set('k', 'v')),
      ];
      await app.main.get('k');
      await app.main.set('k', 'v');
      await app.main.getOrSet('k', () => 'from the source');
    } finally {
      output.restore();
    }

    for (const failure of failures) {
      expect(failure).toBeInstanceOf(CacheError);
      expect(everythingIn(failure)).not.toContain(WRONG);
    }
    expect(failures[0]).toBeInstanceOf(CacheUnavailableError);
    expect(logger.text()).not.toContain(WRONG);
    expect(output.text()).not.toContain(WRONG);
    if (url.includes(WRONG)) expect(logger.text()).toContain(`:***@127.0.0.1:${server.port}`);
  });

  it('with the right password in the URL everything works, and the password is not logged', async () => {
    const logger = new RecordingLogger();
    const app = await boot(`redis://:${SECRET}@127.0.0.1:${server.port}`, {}, logger);

    expect(app.redis.isReady).toBe(true);
    await app.redis.set(app.main.fullKey('raw'), 'v');
    await expect(app.redis.get(app.main.fullKey('raw'))).resolves.toBe('v');
    await expect(app.main.set('k', { ok: true })).resolves.toBe(true);
    await expect(app.main.get('k')).resolves.toEqual({ ok: true });
    await expect(app.main.getOrSet('filled', () => 'loaded')).resolves.toBe('loaded');
    await expect(app.main.exists('filled')).resolves.toBe(true);
    expect(app.main.stats().errors).toBe(0);

    expect(logger.text()).toContain(`:***@127.0.0.1:${server.port}`);
    expect(logger.text()).not.toContain(SECRET);
  });

  it('the password option wins over a wrong password in the URL', async () => {
    const app = await boot(`redis://:${WRONG}@127.0.0.1:${server.port}`, { password: SECRET });
    expect(app.redis.isReady).toBe(true);
    await expect(app.main.set('k', 'v')).resolves.toBe(true);
    await expect(app.main.get('k')).resolves.toBe('v');
  });
});

describe('script cache loss (M12)', () => {
  it('after SCRIPT FLUSH, getOrSet still takes its lease and fills', async () => {
    const server = await startServer();
    const app = await boot(server.url);
    await expect(app.main.getOrSet('before', () => 'b')).resolves.toBe('b');
    await expect(app.main.get('before')).resolves.toBe('b');

    await raw(server.url).script('FLUSH');

    const loader = jest.fn(() => 'after the flush');
    await expect(app.main.getOrSet('after', loader)).resolves.toBe('after the flush');
    await expect(app.main.get('after')).resolves.toBe('after the flush');
    expect(loader).toHaveBeenCalledTimes(1);
    expect(app.main.stats()).toMatchObject({ errors: 0, staleFillsDiscarded: 0 });

    // The compare-and-set half still protects against stale fills after the flush.
    await raw(server.url).script('FLUSH');
    const gate = deferred<string>();
    const started = deferred();
    const pending = app.main.getOrSet('raced', async () => {
      started.resolve();
      return gate.promise;
    });
    await started.promise;
    await app.main.delete('raced');
    await raw(server.url).script('FLUSH');
    gate.resolve('stale');
    await expect(pending).resolves.toBe('stale');
    await expect(app.main.get('raced')).resolves.toBeUndefined();
    expect(app.main.stats()).toMatchObject({ errors: 0, staleFillsDiscarded: 1 });
  });
});
