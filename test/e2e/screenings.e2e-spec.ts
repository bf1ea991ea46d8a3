import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheConfigurationError, CacheRegistry, RedisClient } from '@elile/cache';
import { ScreeningsRepository } from '../../src/screenings/screenings.repository';
import { StaleWriteError } from '../../src/screenings/stale-write.error';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { startDemo } from './start-demo';

describe('demo: GET /screenings/:id on Redis', () => {
  const namespace = uniqueNamespace('e2e');
  let app: INestApplication;

  beforeAll(async () => {
    app = await startDemo({ ELILE_REDIS_URL: testRedisUrl(), ELILE_CACHE_NAMESPACE: namespace });
  });

  afterAll(async () => {
    await app.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('answers the first read from the database and the next from the cache', async () => {
    const first = await request(app.getHttpServer()).get('/screenings/scr-7').expect(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.body).toMatchObject({ id: 'scr-7', subjectId: 'sub-7', createdAt: '2026-01-05T09:00:00.000Z' });

    const second = await request(app.getHttpServer()).get('/screenings/scr-7').expect(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
  });

  it('stores the entry in Redis under the namespace and the screening prefix', async () => {
    await request(app.getHttpServer()).get('/screenings/scr-8').expect(200);
    const cache = app.get(CacheRegistry).get('screening');
    expect(cache.fullKey('scr-8')).toBe(`${namespace}screening:scr-8`);
    expect(await cache.exists('scr-8')).toBe(true);
  });

  it('advances a screening under a lock and evicts its cache entry', async () => {
    const server = app.getHttpServer();
    expect((await request(server).get('/screenings/scr-3').expect(200)).body.status).toBe('pending');
    const advanced = await request(server).post('/screenings/scr-3/advance').expect(201);
    expect(advanced.body.status).toBe('in_progress');
    const reread = await request(server).get('/screenings/scr-3').expect(200);
    expect(reread.headers['x-cache']).toBe('MISS');
    expect(reread.body.status).toBe('in_progress');
  });

  it('serialises concurrent advances: each moves the screening one step', async () => {
    const server = app.getHttpServer();
    const answers = await Promise.all([1, 2].map(() => request(server).post('/screenings/scr-6/advance')));
    // scr-6 starts pending (6 % 3 = 0): the two advances, one after the other, end at complete.
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 201]);
    expect(answers.map((answer) => answer.body.status).sort()).toEqual(['complete', 'in_progress']);
    expect((await request(server).post('/screenings/scr-6/advance')).status).toBe(422);
  });

  it('refuses a write carrying a fencing token older than one the row has seen', () => {
    const repository = app.get(ScreeningsRepository);
    const newer = Number.MAX_SAFE_INTEGER - 1;
    expect(repository.loadForUpdate('scr-9', newer)?.id).toBe('scr-9');
    expect(() => repository.loadForUpdate('scr-9', newer - 1)).toThrow(StaleWriteError);
    expect(() => repository.saveStatus('scr-9', 'complete', newer - 1)).toThrow(StaleWriteError);
  });

  it('caches an unknown id as null: the second 404 does not reach the database', async () => {
    const first = await request(app.getHttpServer()).get('/screenings/missing-1').expect(404);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await request(app.getHttpServer()).get('/screenings/missing-1').expect(404);
    expect(second.headers['x-cache']).toBe('HIT');
  });
});

describe('demo: without ELILE_REDIS_URL', () => {
  it('runs on the in-process memory store', async () => {
    const app = await startDemo({ ELILE_REDIS_URL: undefined, ELILE_CACHE_STORE: undefined });
    try {
      expect(() => app.get(RedisClient).connection).toThrow(CacheConfigurationError);
      expect((await request(app.getHttpServer()).get('/screenings/scr-1').expect(200)).headers['x-cache']).toBe('MISS');
      expect((await request(app.getHttpServer()).get('/screenings/scr-1').expect(200)).headers['x-cache']).toBe('HIT');
    } finally {
      await app.close();
    }
  });
});
