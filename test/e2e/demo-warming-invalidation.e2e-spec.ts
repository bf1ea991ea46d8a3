import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { CacheRegistry, CacheWarming } from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { startDemo } from './start-demo';

describe('demo: warmed organizations and compliance rules, CacheInvalidator on the write paths (Redis)', () => {
  const namespace = uniqueNamespace('e2e-warming');
  let app: INestApplication;
  let server: ReturnType<INestApplication['getHttpServer']>;

  beforeAll(async () => {
    app = await startDemo({ ELILE_REDIS_URL: testRedisUrl(), ELILE_CACHE_NAMESPACE: namespace });
    server = app.getHttpServer();
  });

  afterAll(async () => {
    await app.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('warms every organization and compliance rule set at start-up', async () => {
    const reports = await app.get(CacheWarming).ready;
    expect(reports).toEqual([
      expect.objectContaining({ domain: 'org', outcome: 'warmed', total: 5, filled: 5, errors: 0 }),
      expect.objectContaining({ domain: 'compliance', outcome: 'warmed', total: 3, filled: 3, errors: 0 }),
    ]);
    const first = await request(server).get('/orgs/org-3').expect(200);
    expect(first.headers['x-cache']).toBe('HIT');
    expect(first.body).toMatchObject({ id: 'org-3', name: 'Organization 3' });
    const rules = await request(server).get('/compliance/fcra').expect(200);
    expect(rules.headers['x-cache']).toBe('HIT');
    expect(rules.body).toMatchObject({ id: 'fcra', version: 3 });
    expect(app.get(CacheRegistry).get('org').stats()).toMatchObject({ hits: 1, misses: 0, loads: 0 });
  });

  it('an organization update invalidates its cached entry', async () => {
    await request(server).get('/orgs/org-2').expect(200);
    await request(server).patch('/orgs/org-2').send({ name: 'Renamed Org' }).expect(200);
    const after = await request(server).get('/orgs/org-2').expect(200);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.name).toBe('Renamed Org');
  });

  it('a subject correction invalidates the subject, its screening and the screening report', async () => {
    for (const path of ['/subjects/sub-5', '/screenings/scr-5', '/screenings/scr-5/report']) {
      await request(server).get(path).expect(200);
      expect((await request(server).get(path).expect(200)).headers['x-cache']).toBe('HIT');
    }
    await request(server).patch('/subjects/sub-5').send({ fullName: 'Corrected Name' }).expect(200);

    for (const path of ['/subjects/sub-5', '/screenings/scr-5', '/screenings/scr-5/report']) {
      expect((await request(server).get(path).expect(200)).headers['x-cache']).toBe('MISS');
    }
    expect((await request(server).get('/screenings/scr-5/report').expect(200)).body.subject).toEqual({
      id: 'sub-5',
      fullName: 'Corrected Name',
    });
    // Another subject's screening stays cached.
    await request(server).get('/screenings/scr-6').expect(200);
    await request(server).patch('/subjects/sub-7').send({ fullName: 'Someone Else' }).expect(200);
    expect((await request(server).get('/screenings/scr-6').expect(200)).headers['x-cache']).toBe('HIT');
  });

  it('a status change invalidates the screening and its report', async () => {
    await request(server).get('/screenings/scr-9/report').expect(200);
    const before = await request(server).get('/screenings/scr-9/report').expect(200);
    expect(before.headers['x-cache']).toBe('HIT');
    await request(server).post('/screenings/scr-9/advance').expect(201);
    const after = await request(server).get('/screenings/scr-9/report').expect(200);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.status).not.toBe(before.body.status);
  });
});
