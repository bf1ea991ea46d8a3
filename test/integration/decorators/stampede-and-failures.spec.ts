import type { INestApplication } from '@nestjs/common';
import { CacheRegistry, type CacheService } from '@elile/cache';
import { CatalogService } from '../../fixtures/catalog.service';
import { createDecoratedApp, STORE_KINDS, type StoreKind } from '../../fixtures/decorated-app';
import { RecordingLogger } from '../../support/recording-logger';
import { LoadFailedError, StampedeService } from '../../fixtures/stampede.service';
import { startLocalRedisServer, type RedisServerHandle } from '../../support/redis-harness';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

const namespace = uniqueNamespace('stampede-failures');

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe.each(STORE_KINDS)('stampede protection on the %s store', (store: StoreKind) => {
  let app: INestApplication;
  let service: StampedeService;
  let items: CacheService<unknown>;

  beforeAll(async () => {
    app = await createDecoratedApp({ store, namespace: `${namespace}${store}:`, providers: [StampedeService] });
    service = app.get(StampedeService);
    items = app.get(CacheRegistry).get('items');
  });

  afterAll(async () => {
    await app.close();
  });

  it('runs a cold 50 ms method once for 100 concurrent callers, who all get the same result', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, () => service.slow('cold-1')));
    expect(service.runs.of('slow:cold-1')).toBe(1);
    expect(new Set(results.map((result) => result.token)).size).toBe(1);
    expect(await items.get('slow:cold-1')).toEqual(results[0]);
  });

  it('shares a thrown error with the concurrent callers and does not cache it', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, () => service.failing('err-1')));
    expect(service.runs.of('failing:err-1')).toBe(1);
    const reasons = outcomes.map((outcome) => (outcome.status === 'rejected' ? outcome.reason : outcome));
    expect(reasons[0]).toBeInstanceOf(LoadFailedError);
    expect(reasons.every((reason) => reason === reasons[0])).toBe(true);

    // Not remembered: the next call runs the method again.
    await expect(service.failing('err-1')).rejects.toThrow('load 2 of err-1 failed');
    expect(service.runs.of('failing:err-1')).toBe(2);
    expect(await items.exists('failing:err-1')).toBe(false);
  });

  it('after a shared failure, the next call loads and caches normally', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => service.flaky('flaky-1')));
    expect(outcomes.every((outcome) => outcome.status === 'rejected')).toBe(true);
    expect(await service.flaky('flaky-1')).toBe('flaky-1 loaded by run 2');
    expect(await service.flaky('flaky-1')).toBe('flaky-1 loaded by run 2');
    expect(service.runs.of('flaky:flaky-1')).toBe(2);
  });

  it('returns an unserializable result, stores nothing, and counts the error', async () => {
    const errorsBefore = items.stats().errors;
    const result = await service.unserializable('fn-1');
    expect(result.format()).toBe('fn-1#1');
    expect(items.stats().errors).toBeGreaterThan(errorsBefore);
    expect(await items.exists('unserializable:fn-1')).toBe(false);
    // Nothing cached, and no lease left behind that would block the next call.
    expect((await service.unserializable('fn-1')).run).toBe(2);
  });
});

describe('with Redis down after boot', () => {
  let server: RedisServerHandle;
  let app: INestApplication;
  let logger: RecordingLogger;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    logger = new RecordingLogger();
    app = await createDecoratedApp({
      store: 'redis',
      namespace,
      redisUrl: server.url,
      // ioredis arms a 2 s timer when closing a connection whose socket already died and never
      // clears it; a short one lets jest exit promptly after closing the app with Redis down.
      ioredis: { disconnectTimeout: 50 },
      providers: [StampedeService, CatalogService],
      logger,
    });
    await server.stop();
  });

  afterAll(async () => {
    await app.close();
    await server.stop();
  });

  it('a @Cacheable method still returns its own result, nothing is cached, errors are counted', async () => {
    const service = app.get(StampedeService);
    const items = app.get(CacheRegistry).get('items');
    const errorsBefore = items.stats().errors;

    const first = await service.slow('down-1');
    const second = await service.slow('down-1');
    expect(first).toMatchObject({ id: 'down-1', run: 1 });
    expect(second).toMatchObject({ id: 'down-1', run: 2 });
    expect(items.stats().errors).toBeGreaterThanOrEqual(errorsBefore + 2);
  });

  it('@CachePut and @CacheEvict methods still return their results', async () => {
    const catalog = app.get(CatalogService);
    const items = app.get(CacheRegistry).get('items');
    const errorsBefore = items.stats().errors;
    await expect(catalog.save({ id: 'down-2', version: 5 })).resolves.toEqual({ id: 'down-2', version: 5 });
    await expect(catalog.bump('down-2')).resolves.toBeUndefined();
    expect(catalog.source.get('down-2')).toBe(6);
    expect(items.stats().errors).toBeGreaterThanOrEqual(errorsBefore + 2);
  });

  it('logs the failures, rate-limited (not once per call)', async () => {
    const service = app.get(StampedeService);
    const items = app.get(CacheRegistry).get('items');
    const errorsBefore = items.stats().errors;
    for (let i = 0; i < 30; i++) await service.unserializable(`down-log-${i}`);
    expect(items.stats().errors - errorsBefore).toBeGreaterThanOrEqual(30);
    const cacheWarnings = logger.lines.filter((line) => line.startsWith('warn:') && line.includes('items'));
    expect(cacheWarnings.length).toBeGreaterThan(0);
    expect(cacheWarnings.length).toBeLessThan(10);
  });
});
