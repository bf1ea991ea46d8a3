import type { INestApplication } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import request from 'supertest';
import { CacheInterceptor, CacheRegistry } from '@elile/cache';
import { CatalogService } from '../fixtures/catalog.service';
import { createDecoratedApp } from '../fixtures/decorated-app';
import {
  ArticlesController,
  NestedController,
  OrgsController,
  UndecoratedController,
} from '../fixtures/http.controllers';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

const namespace = uniqueNamespace('cache-interceptor');
const orgScope = (req: { headers: Record<string, string | undefined> }) => req.headers['x-org'];

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), namespace);
});

describe('CacheInterceptor over HTTP (Redis)', () => {
  let app: INestApplication;
  let articles: ArticlesController;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    app = await createDecoratedApp({
      store: 'redis',
      namespace: `${namespace}main:`,
      controllers: [ArticlesController, OrgsController, NestedController],
      providers: [CatalogService],
      domains: { org: { ttl: 60, scope: orgScope } },
    });
    articles = app.get(ArticlesController);
  });

  afterAll(async () => {
    await app.close();
  });

  describe('GET caching', () => {
    it('caches by path, params and query, whatever the query order', async () => {
      const miss = await http().get('/articles/plain/a1?a=1&b=2').expect(200);
      expect(miss.headers['x-cache']).toBe('MISS');
      const hit = await http().get('/articles/plain/a1?b=2&a=1').expect(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body).toEqual(miss.body);
      expect(articles.runs.of('plain:a1')).toBe(1);

      // Another param, or another query value, is another entry.
      expect((await http().get('/articles/plain/a2?a=1&b=2').expect(200)).headers['x-cache']).toBe('MISS');
      const otherQuery = await http().get('/articles/plain/a1?a=1&b=3').expect(200);
      expect(otherQuery.headers['x-cache']).toBe('MISS');
      expect(otherQuery.body).toEqual({ id: 'a1', query: { a: '1', b: '3' }, run: 2 });
    });

    it('caches any 2xx (here 203) and answers a hit with the same status', async () => {
      const miss = await http().get('/articles/accepted/c1').expect(203);
      expect(miss.headers['x-cache']).toBe('MISS');
      const hit = await http().get('/articles/accepted/c1').expect(203);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(articles.runs.of('accepted:c1')).toBe(1);
    });
  });

  describe('never cached', () => {
    it('a thrown NotFoundException: the next call runs the handler again', async () => {
      await http().get('/articles/missing/m1').expect(404);
      await http().get('/articles/missing/m1').expect(404);
      expect(articles.runs.of('missing:m1')).toBe(2);
    });

    it('a response whose status the handler set to 500', async () => {
      await http().get('/articles/failing/f1').expect(500);
      await http().get('/articles/failing/f1').expect(500);
      expect(articles.runs.of('failing:f1')).toBe(2);
    });

    it('a StreamableFile', async () => {
      const first = await http().get('/articles/file/s1').buffer(true).expect(200);
      const second = await http().get('/articles/file/s1').buffer(true).expect(200);
      expect(first.body.toString()).toBe('file s1 run 1');
      expect(second.body.toString()).toBe('file s1 run 2');
      expect(articles.runs.of('file:s1')).toBe(2);
    });

    it('a non-2xx response is not handed to concurrent requests as a 200 hit', async () => {
      // Five identical requests overlap while the first is loading (the handler takes 50 ms).
      const responses = await Promise.all(Array.from({ length: 5 }, () => http().get('/articles/slow-failing/sf1')));
      expect(responses.map((response) => response.status)).toEqual([503, 503, 503, 503, 503]);
      expect(responses.filter((response) => response.headers['x-cache'] === 'HIT')).toHaveLength(0);
    });

    it('concurrent requests for a one-shot stream each receive the whole stream', async () => {
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => http().get('/articles/slow-file/sf2').buffer(true)),
      );
      for (const response of responses) {
        expect(response.status).toBe(200);
        expect(response.body.toString()).toMatch(/^file sf2 run \d+$/);
      }
      // Not stored: a later request runs the handler again.
      const runs = articles.runs.of('slow-file:sf2');
      await http().get('/articles/slow-file/sf2').buffer(true).expect(200);
      expect(articles.runs.of('slow-file:sf2')).toBe(runs + 1);
    });

    it('a response that sets a cookie', async () => {
      const first = await http().get('/articles/cookie/k1').expect(200);
      const second = await http().get('/articles/cookie/k1').expect(200);
      expect(first.headers['set-cookie']).toEqual([expect.stringContaining('visit=1')]);
      expect(second.headers['set-cookie']).toEqual([expect.stringContaining('visit=2')]);
      expect(articles.runs.of('cookie:k1')).toBe(2);
    });
  });

  describe('requests with credentials', () => {
    it('without a declared scope, are neither served from nor stored into the cache', async () => {
      const alice = await http().get('/articles/private/p1').set('Authorization', 'Bearer alice').expect(200);
      expect(alice.headers['x-cache']).toBe('BYPASS');
      expect(alice.body.viewer).toBe('Bearer alice');

      const bob = await http().get('/articles/private/p1').set('Authorization', 'Bearer bob').expect(200);
      expect(bob.headers['x-cache']).toBe('BYPASS');
      expect(bob.body.viewer).toBe('Bearer bob');

      const carol = await http().get('/articles/private/p1').set('Cookie', 'session=carol').expect(200);
      expect(carol.headers['x-cache']).toBe('BYPASS');
      expect(carol.body.viewer).toBe('session=carol');
      expect(articles.runs.of('private:p1')).toBe(3);

      // An anonymous response is cached, but never handed to a request with credentials.
      const anonymous = await http().get('/articles/private/p1').expect(200);
      expect(anonymous.headers['x-cache']).toBe('MISS');
      const dave = await http().get('/articles/private/p1').set('Authorization', 'Bearer dave').expect(200);
      expect(dave.headers['x-cache']).toBe('BYPASS');
      expect(dave.body.viewer).toBe('Bearer dave');
      const anonymousAgain = await http().get('/articles/private/p1').expect(200);
      expect(anonymousAgain.headers['x-cache']).toBe('HIT');
      expect(anonymousAgain.body).toEqual(anonymous.body);
    });

    it('with a scope on the decorator, each tenant gets its own entry and never another tenant’s', async () => {
      const t1 = await http().get('/articles/tenant/q1').set('X-Tenant', 't1').set('Authorization', 'Bearer alice');
      const t2 = await http().get('/articles/tenant/q1').set('X-Tenant', 't2').set('Authorization', 'Bearer bob');
      expect([t1.headers['x-cache'], t2.headers['x-cache']]).toEqual(['MISS', 'MISS']);
      expect(t2.body).toMatchObject({ tenant: 't2', viewer: 'Bearer bob' });

      const t1Again = await http()
        .get('/articles/tenant/q1')
        .set('X-Tenant', 't1')
        .set('Authorization', 'Bearer alice');
      const t2Again = await http().get('/articles/tenant/q1').set('X-Tenant', 't2').set('Authorization', 'Bearer bob');
      expect([t1Again.headers['x-cache'], t2Again.headers['x-cache']]).toEqual(['HIT', 'HIT']);
      expect(t1Again.body).toEqual(t1.body);
      expect(t2Again.body).toEqual(t2.body);
      expect(t1Again.body).toMatchObject({ tenant: 't1', viewer: 'Bearer alice' });
      expect(articles.runs.of('tenant:q1')).toBe(2);
    });

    it('with a scope on the domain (CacheModule options), each org gets its own entry', async () => {
      const orgs = app.get(OrgsController);
      const o1 = await http().get('/orgs/r1').set('X-Org', 'o1').set('Authorization', 'Bearer alice').expect(200);
      const o2 = await http().get('/orgs/r1').set('X-Org', 'o2').set('Authorization', 'Bearer bob').expect(200);
      expect([o1.headers['x-cache'], o2.headers['x-cache']]).toEqual(['MISS', 'MISS']);
      expect(o2.body).toMatchObject({ org: 'o2', viewer: 'Bearer bob' });

      const o1Again = await http().get('/orgs/r1').set('X-Org', 'o1').set('Authorization', 'Bearer alice').expect(200);
      const o2Again = await http().get('/orgs/r1').set('X-Org', 'o2').set('Authorization', 'Bearer bob').expect(200);
      expect([o1Again.headers['x-cache'], o2Again.headers['x-cache']]).toEqual(['HIT', 'HIT']);
      expect(o1Again.body).toMatchObject({ org: 'o1', viewer: 'Bearer alice' });
      expect(o2Again.body).toMatchObject({ org: 'o2', viewer: 'Bearer bob' });
      expect(orgs.runs.of('r1')).toBe(2);
    });
  });

  describe('@CacheEvict on a mutating handler', () => {
    it('evicts after the handler succeeds', async () => {
      expect((await http().get('/articles/keyed/e1').expect(200)).headers['x-cache']).toBe('MISS');
      expect((await http().get('/articles/keyed/e1').expect(200)).headers['x-cache']).toBe('HIT');
      await http().post('/articles/keyed/e1').expect(201);
      const after = await http().get('/articles/keyed/e1').expect(200);
      expect(after.headers['x-cache']).toBe('MISS');
      expect(after.body).toEqual({ id: 'e1', run: 2 });
    });

    it('does not evict when the handler fails', async () => {
      await http().get('/articles/keyed/e2').expect(200);
      await http().post('/articles/keyed/e2/rejected').expect(400);
      expect(articles.runs.of('rejected:e2')).toBe(1);
      const after = await http().get('/articles/keyed/e2').expect(200);
      expect(after.headers['x-cache']).toBe('HIT');
      expect(after.body).toEqual({ id: 'e2', run: 1 });
    });
  });

  describe('a decorated service method called from a decorated handler', () => {
    // The handler's HTTP context must not leak into the service's own @Cacheable: the service
    // keeps its key (`item:<id>` in the `items` domain) and is cached inside a POST too.
    it('keeps its own key inside a cached GET handler', async () => {
      await http().get('/nested/n1').expect(200);
      const items = app.get(CacheRegistry).get('items');
      expect(await items.exists('item:n1')).toBe(true);
      expect(await items.exists('GET /nested/n1')).toBe(false);
    });

    it('is still cached when called from a POST handler', async () => {
      const catalog = app.get(CatalogService);
      const before = catalog.runs.of('find');
      await http().post('/nested/n2/touch').expect(201);
      expect(catalog.runs.of('find')).toBe(before + 1);
    });

    it('is still cached when the request carries credentials (its key is not personal)', async () => {
      const catalog = app.get(CatalogService);
      const before = catalog.runs.of('find');
      await http().get('/nested/n3').set('Authorization', 'Bearer alice').expect(200);
      await http().get('/nested/n3').set('Authorization', 'Bearer bob').expect(200);
      expect(catalog.runs.of('find')).toBe(before + 1);
    });

    it('two default-keyed service methods called by one handler keep distinct entries', async () => {
      const catalog = app.get(CatalogService);
      catalog.source.set('n4', 7);
      const talliesBefore = catalog.runs.of('tally');
      const response = await http().get('/nested/n4/both').expect(200);
      // Each method has its own default key, so `tally` cannot be answered with `label`'s entry.
      expect(response.body).toEqual({ label: 'label of n4', tally: 7 });
      expect(catalog.runs.of('tally')).toBe(talliesBefore + 1);
      // And the entry it stored is its own: a direct call afterwards is a hit.
      expect(await catalog.tally('n4')).toBe(7);
      expect(catalog.runs.of('tally')).toBe(talliesBefore + 1);
    });

    it('a handler and the service method it calls, same domain and no keys, do not deadlock', async () => {
      const response = await http().get('/nested/n5/same-domain').timeout(1500).expect(200);
      expect(response.text).toBe('label of n5');
    });
  });
});

describe('a global CacheInterceptor next to the one the decorators attach', () => {
  let app: INestApplication;
  const http = () => request(app.getHttpServer());

  beforeAll(async () => {
    app = await createDecoratedApp({
      store: 'redis',
      namespace: `${namespace}global:`,
      controllers: [ArticlesController, UndecoratedController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }],
    });
  });

  afterAll(async () => {
    await app.close();
  });

  it('runs a decorated handler once per miss', async () => {
    const miss = await http().get('/articles/plain/g1').expect(200);
    const hit = await http().get('/articles/plain/g1').expect(200);
    expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(hit.body).toEqual(miss.body);
    expect(app.get(ArticlesController).runs.of('plain:g1')).toBe(1);
  });

  it('does not touch a handler without cache metadata', async () => {
    const first = await http().get('/undecorated/u1').expect(200);
    const second = await http().get('/undecorated/u1').expect(200);
    expect(first.headers['x-cache']).toBeUndefined();
    expect(second.headers['x-cache']).toBeUndefined();
    expect(second.body).toEqual({ id: 'u1', run: 2 });
  });
});
