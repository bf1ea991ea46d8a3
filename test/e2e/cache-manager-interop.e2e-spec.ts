import type { INestApplication, Type } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { CACHE_MANAGER, type Cache, CacheInterceptor as NestCacheInterceptor } from '@nestjs/cache-manager';
import type Redis from 'ioredis';
import request from 'supertest';
import { CacheInterceptor as ElileCacheInterceptor } from '@elile/cache';
import { closeRaw, rawRedis } from '../integration/cache-test-app';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { LegacyPricesService } from '../fixtures/cache-manager-migration/legacy-prices.service';
import { PricesService } from '../fixtures/cache-manager-migration/prices.service';

// A server of its own: the sample app has no namespace, and the test asserts exact key lists.
let server: RedisServerHandle;
let AppModule: Type;

beforeAll(async () => {
  server = await startLocalRedisServer();
  process.env.ELILE_REDIS_URL = server.url;
  // Loaded only now: the sample reads ELILE_REDIS_URL when its module is defined.
  ({ AppModule } = await import('../fixtures/cache-manager-migration/app.module'));
});

afterAll(async () => {
  delete process.env.ELILE_REDIS_URL;
  await server?.stop();
});

/** The sample app with its two global interceptors registered the other way round. */
function reversedInterceptors(): Type {
  @Module({
    imports: Reflect.getMetadata('imports', AppModule),
    controllers: Reflect.getMetadata('controllers', AppModule),
    providers: [
      LegacyPricesService,
      PricesService,
      { provide: APP_INTERCEPTOR, useClass: ElileCacheInterceptor },
      { provide: APP_INTERCEPTOR, useClass: NestCacheInterceptor },
    ],
  })
  class ReversedAppModule {}
  return ReversedAppModule;
}

describe.each([
  ['cache-manager first', () => AppModule],
  ['@elile/cache first', reversedInterceptors],
])('@nestjs/cache-manager 3.1.3 on ElileKeyvStore, both CacheInterceptors global (%s)', (_order, appModule) => {
  let app: INestApplication;
  let raw: Redis;
  const http = () => request(app.getHttpServer());

  async function keys(pattern: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found.sort();
  }

  async function pttl(key: string): Promise<number> {
    const left = await raw.pttl(key);
    expect(left).toBeGreaterThan(0);
    return left;
  }

  beforeAll(async () => {
    raw = rawRedis(server.url);
    await raw.flushall();
    const moduleRef = await Test.createTestingModule({ imports: [appModule()] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    // One port for the whole run: request keys include the Host header.
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await closeRaw(raw);
  });

  it("caches an untouched controller by URL through cache-manager, in the http domain with cache-manager's TTL", async () => {
    const legacy = app.get(LegacyPricesService);
    expect((await http().get('/legacy/prices/sku-1').expect(200)).headers['x-cache']).toBe('MISS');
    const hit = await http().get('/legacy/prices/sku-1').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ sku: 'sku-1', price: 500 });
    expect(legacy.lookups).toBe(1);

    expect(await keys('http:*')).toEqual(['http:keyv:-:/legacy/prices/sku-1', 'http:keyv:-:price:sku-1']);
    const response = await pttl('http:keyv:-:/legacy/prices/sku-1');
    expect(response).toBeLessThanOrEqual(30_000);
    expect(response).toBeGreaterThan(5_000);
    const byHand = await pttl('http:keyv:-:price:sku-1');
    expect(byHand).toBeLessThanOrEqual(60_000);
    expect(byHand).toBeGreaterThan(30_000);
  });

  it('honours @CacheKey and @CacheTTL (milliseconds)', async () => {
    await http().get('/legacy/prices').expect(200);
    expect((await http().get('/legacy/prices').expect(200)).headers['x-cache']).toBe('HIT');
    expect(await pttl('http:keyv:-:prices:all')).toBeLessThanOrEqual(5_000);
  });

  it('leaves a @Cacheable handler to @elile/cache alone: one cached copy, none in cache-manager', async () => {
    const prices = app.get(PricesService);
    const before = prices.lookups;
    expect((await http().get('/prices/sku-2').expect(200)).headers['x-cache']).toBe('MISS');
    const hit = await http().get('/prices/sku-2').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual({ sku: 'sku-2', price: 700 });
    expect(prices.lookups - before).toBe(1);

    const pages = await keys('pages:*');
    expect(pages).toHaveLength(1);
    expect(await pttl(pages[0])).toBeLessThanOrEqual(30_000);
    expect(await pttl('prices:sku-2')).toBeLessThanOrEqual(60_000);
    expect(await keys('http:*prices/sku-2*')).toEqual([]);
  });

  it('backs CACHE_MANAGER: set/get/del/clear in the http domain; clear() leaves the other domains', async () => {
    const cacheManager = app.get<Cache>(CACHE_MANAGER);
    await http().get('/prices/sku-1').expect(200);
    await cacheManager.set('direct', { at: 'now' }, 2_000);
    expect(await cacheManager.get('direct')).toEqual({ at: 'now' });
    expect(await pttl('http:keyv:-:direct')).toBeLessThanOrEqual(2_000);
    expect(await cacheManager.del('direct')).toBe(true);
    expect(await cacheManager.get('direct')).toBeUndefined();

    await cacheManager.clear();
    expect(await keys('http:*')).toEqual([]);
    expect(await keys('pages:*')).not.toEqual([]);
    expect(await keys('prices:*')).not.toEqual([]);
  });
});
