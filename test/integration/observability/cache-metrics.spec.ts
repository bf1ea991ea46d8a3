import { tracingChannel } from 'node:diagnostics_channel';
import { Test, type TestingModule } from '@nestjs/testing';
import type Redis from 'ioredis';
import { register, Registry } from 'prom-client';
import {
  CacheConfigurationError,
  CacheModule,
  type CacheModuleOptions,
  CacheRegistry,
  type CacheService,
  LockService,
  RedisClient,
  TRACING_CHANNELS,
} from '@elile/cache';
import { CacheMetrics, CacheMetricsModule, type CacheMetricsOptions } from '@elile/cache/metrics';
import { closeFailedBoot } from '../../support/close-failed-boot';
import { RecordingLogger } from '../../support/recording-logger';
import { startLocalRedisCluster } from '../../support/redis-cluster';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { closeRaw, rawRedis, waitFor } from '../cache-test-app';

/** The value of a series on `registry`, summed over the label sets that include `labels`. */
async function value(registry: Registry, name: string, labels: Record<string, string | number> = {}): Promise<number> {
  let sum = 0;
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const sample of metric.values as Array<{
      metricName?: string;
      labels: Record<string, string | number>;
      value: number;
    }>) {
      if ((sample.metricName ?? metric.name) !== name) continue;
      if (Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted)) sum += sample.value;
    }
  }
  return sum;
}

describe('CacheMetricsModule on a real Redis', () => {
  let server: RedisServerHandle;
  let other: RedisServerHandle;
  const modules: TestingModule[] = [];
  const proxies: TcpProxy[] = [];
  const raws: Redis[] = [];

  beforeAll(async () => {
    [server, other] = await Promise.all([startLocalRedisServer(), startLocalRedisServer()]);
  });

  afterEach(async () => {
    for (const proxy of proxies) proxy.release();
    await Promise.all(modules.splice(0).map((moduleRef) => moduleRef.close()));
    await Promise.all(raws.splice(0).map(closeRaw));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });

  afterAll(async () => {
    await Promise.all([server?.stop(), other?.stop()]);
  });

  async function boot(cache: CacheModuleOptions, metrics?: CacheMetricsOptions): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({ domains: { main: { ttl: 60 } }, ...cache }),
        metrics ? CacheMetricsModule.forRoot(metrics) : CacheMetricsModule.forRoot(),
      ],
    })
      .setLogger(new RecordingLogger())
      .compile();
    try {
      await moduleRef.init();
    } catch (error) {
      await closeFailedBoot(moduleRef);
      throw error;
    }
    modules.push(moduleRef);
    return moduleRef;
  }

  const main = (moduleRef: TestingModule) => moduleRef.get(CacheRegistry).get('main') as CacheService<unknown>;

  it('counters read from stats() at scrape time, and Redis commands timed for the module’s server only', async () => {
    const registry = new Registry();
    const moduleRef = await boot({ namespace: 'metrics:a:', redis: { url: server.url } }, { registry });
    const cache = main(moduleRef);
    const start = await value(registry, 'elile_cache_redis_command_duration_seconds_count');

    await cache.get('k');
    await cache.set('k', 1);
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: 'b', value: 2 },
    ]);
    await cache.get('k');
    await cache.deleteMany(['a', 'b', 'absent']);
    await cache.invalidateTags(['t']);
    const commands = (await value(registry, 'elile_cache_redis_command_duration_seconds_count')) - start;

    expect(await value(registry, 'elile_cache_hits_total', { domain: 'main' })).toBe(cache.stats().hits);
    expect(await value(registry, 'elile_cache_hits_total', { domain: 'main' })).toBe(1);
    expect(await value(registry, 'elile_cache_misses_total', { domain: 'main' })).toBe(1);
    expect(await value(registry, 'elile_cache_sets_total', { domain: 'main' })).toBe(3);
    expect(await value(registry, 'elile_cache_deletes_total', { domain: 'main' })).toBe(3);
    expect(await value(registry, 'elile_cache_invalidations_total', { domain: 'main' })).toBe(1);
    expect(
      await value(registry, 'elile_cache_redis_command_duration_seconds_count', { command: 'get', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(2);
    expect(commands).toBeGreaterThanOrEqual(6);

    // Another client of the process, on another server: not the cache's Redis, not counted.
    const elsewhere = rawRedis(other.url);
    raws.push(elsewhere);
    for (let i = 0; i < 20; i++) await elsewhere.get('x');
    expect((await value(registry, 'elile_cache_redis_command_duration_seconds_count')) - start).toBe(commands);
    // The same server and database: the context cannot tell the clients apart (see the README).
    const gets = await value(registry, 'elile_cache_redis_command_duration_seconds_count', { command: 'get' });
    const sameServer = rawRedis(server.url);
    raws.push(sameServer);
    // Once connected: ioredis traces a command as it writes it, and one from its offline queue is not.
    await waitFor('the client to connect', () => sameServer.status === 'ready');
    await sameServer.get('x');
    expect(await value(registry, 'elile_cache_redis_command_duration_seconds_count', { command: 'get' })).toBe(
      gets + 1,
    );
  });

  it('on a Redis Cluster, commands to every master are timed', async () => {
    const cluster = await startLocalRedisCluster(3);
    try {
      const registry = new Registry();
      const moduleRef = await boot(
        { namespace: 'metrics:cl:', redis: { cluster: { nodes: [...cluster.seeds] } } },
        { registry },
      );
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      for (const key of keys) await main(moduleRef).get(key);
      expect(await value(registry, 'elile_cache_misses_total', { domain: 'main' })).toBe(30);
      expect(await value(registry, 'elile_cache_redis_command_duration_seconds_count', { command: 'get' })).toBe(30);
      await modules.splice(modules.indexOf(moduleRef), 1)[0].close();
    } finally {
      await cluster.stop();
    }
  });

  it('errors by kind, breaker state and transitions while Redis is black-holed, and lock counters', async () => {
    const proxy = await startTcpProxy(server.port);
    proxies.push(proxy);
    const registry = new Registry();
    const moduleRef = await boot(
      {
        namespace: 'metrics:b:',
        redis: { url: `redis://127.0.0.1:${proxy.port}`, readTimeout: 0.1, breaker: { threshold: 2 } },
      },
      { registry },
    );
    const cache = main(moduleRef);
    const locks = moduleRef.get(LockService);
    const held = await locks.acquire('job');
    expect(await locks.tryAcquire('job')).toBeNull();
    await held.extend();
    await held.release();

    proxy.stall();
    await cache.get('a');
    await cache.get('b');
    await cache.getOrSet('c', () => 'loaded');
    expect(await value(registry, 'elile_cache_breaker_state', { state: 'open' })).toBe(1);
    expect(await value(registry, 'elile_cache_breaker_state')).toBe(1);
    expect(await value(registry, 'elile_cache_breaker_transitions_total', { to: 'open' })).toBe(1);
    expect(await value(registry, 'elile_cache_errors_total', { domain: 'main', kind: 'timeout' })).toBe(2);
    expect(await value(registry, 'elile_cache_errors_total', { domain: 'main', kind: 'circuit_open' })).toBe(1);
    expect(await value(registry, 'elile_cache_errors_total', { domain: 'main' })).toBe(cache.stats().errors);
    expect(await value(registry, 'elile_cache_breaker_refused_total')).toBe(
      moduleRef.get(RedisClient).breakerStatus().refused,
    );
    expect(
      await value(registry, 'elile_cache_loader_duration_seconds_count', {
        domain: 'main',
        reason: 'unavailable',
        outcome: 'ok',
      }),
    ).toBe(1);

    expect(await value(registry, 'elile_cache_lock_acquired_total')).toBe(1);
    expect(await value(registry, 'elile_cache_lock_not_acquired_total')).toBe(1);
    expect(await value(registry, 'elile_cache_lock_extended_total')).toBe(1);
    expect(await value(registry, 'elile_cache_lock_wait_seconds_count')).toBe(1);

    proxy.release();
    await waitFor('the breaker to close', () => moduleRef.get(RedisClient).breakerStatus().state === 'closed', 10_000);
    expect(await value(registry, 'elile_cache_breaker_transitions_total', { to: 'closed' })).toBe(1);
    expect(await value(registry, 'elile_cache_breaker_state', { state: 'closed' })).toBe(1);
  });

  it('forRoot() registers on the global registry; shutdown removes every metric and subscription, so an app can register again', async () => {
    const first = await boot({ store: 'memory' });
    expect(first.get(CacheMetrics).registry).toBe(register);
    expect(register.getSingleMetric('elile_cache_hits_total')).toBeDefined();
    expect(tracingChannel(TRACING_CHANNELS.load).hasSubscribers).toBe(true);
    // Not the channel of every cache operation: a near-cache hit would pay for a trace.
    expect(tracingChannel(TRACING_CHANNELS.operation).hasSubscribers).toBe(false);
    await modules.splice(0)[0].close();
    expect(await register.getMetricsAsJSON()).toEqual([]);
    for (const name of [...Object.values(TRACING_CHANNELS), 'ioredis:command'])
      expect(tracingChannel(name).hasSubscribers).toBe(false);

    const second = await boot({ store: 'memory' });
    await main(second).getOrSet('k', () => 1);
    expect(await value(register, 'elile_cache_loads_total', { domain: 'main' })).toBe(1);
    // The memory store sends no Redis command: the histogram is there, with no samples.
    expect(await value(register, 'elile_cache_redis_command_duration_seconds_count')).toBe(0);
  });

  it('a second application on the same registry fails its boot naming the fix; the first keeps its metrics', async () => {
    const registry = new Registry();
    const first = await boot({ store: 'memory' }, { registry });
    await expect(boot({ store: 'memory' }, { registry })).rejects.toThrow(
      new CacheConfigurationError(
        'The elile_cache_* metrics are already registered on this prom-client registry (a second application in this ' +
          'process, or CacheMetricsModule imported twice): give each application its own, e.g. ' +
          'CacheMetricsModule.forRoot({ registry: new Registry() })',
      ),
    );
    await main(first).get('k');
    expect(await value(registry, 'elile_cache_misses_total', { domain: 'main' })).toBe(1);
  });

  it('forRootAsync takes the registry from a factory', async () => {
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({ store: 'memory', domains: { main: { ttl: 60 } } }),
        CacheMetricsModule.forRootAsync({ useFactory: async () => ({ registry }) }),
      ],
    })
      .setLogger(new RecordingLogger())
      .compile();
    modules.push(moduleRef);
    await moduleRef.init();
    await main(moduleRef).set('k', 1);
    expect(moduleRef.get(CacheMetrics).registry).toBe(registry);
    expect(await value(registry, 'elile_cache_sets_total', { domain: 'main' })).toBe(1);
  });

  it('redisCommands: false does not subscribe to ioredis:command', async () => {
    const registry = new Registry();
    const moduleRef = await boot(
      { namespace: 'metrics:c:', redis: { url: server.url } },
      { registry, redisCommands: false },
    );
    await main(moduleRef).get('k');
    expect(tracingChannel('ioredis:command').hasSubscribers).toBe(false);
    expect(registry.getSingleMetric('elile_cache_redis_command_duration_seconds')).toBeUndefined();
    expect(await value(registry, 'elile_cache_misses_total', { domain: 'main' })).toBe(1);
  });
});
