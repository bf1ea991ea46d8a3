import type { INestApplication } from '@nestjs/common';
import request, { type Response } from 'supertest';
import { CacheRegistry, RedisClient } from '@elile/cache';
import { startLocalRedisServer, type RedisServerHandle } from '../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { startDemo } from './start-demo';

// Two instances of the demo on one Redis and one namespace, as two pods behind a load balancer.
// Requests from this process all come from one address, so both instances see one client.

type Server = ReturnType<INestApplication['getHttpServer']>;

async function startPair(env: Record<string, string>): Promise<INestApplication[]> {
  return Promise.all([startDemo(env), startDemo(env)]);
}

const rename = (server: Server, path = '/orgs/org-1', headers: Record<string, string> = {}): Promise<Response> =>
  request(server)
    .patch(path)
    .set(headers)
    .send({ name: 'Renamed' })
    .then((response) => response);

const remaining = (response: Response) => Number(response.headers['x-ratelimit-remaining']);

describe('demo: write endpoints rate-limited in Redis, shared by two instances', () => {
  const namespace = uniqueNamespace('e2e-throttle');
  let apps: INestApplication[];
  let a: Server;
  let b: Server;

  beforeAll(async () => {
    apps = await startPair({
      ELILE_REDIS_URL: testRedisUrl(),
      ELILE_CACHE_NAMESPACE: namespace,
      ELILE_DEMO_WRITE_LIMIT: '5',
      ELILE_DEMO_WRITE_WINDOW: '60',
      ELILE_DEMO_WRITE_BLOCK: '60',
    });
    [a, b] = apps.map((app) => app.getHttpServer());
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('limit 5: 3 requests on A and 3 on B → the 6th gets 429 with the throttler headers', async () => {
    const answers: Response[] = [];
    for (const server of [a, a, a, b, b, b]) answers.push(await rename(server));

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(answers.slice(0, 5).map((answer) => answer.headers['x-ratelimit-limit'])).toEqual(['5', '5', '5', '5', '5']);
    // B's first answer counts A's three requests: the count lives in Redis, not in either instance.
    expect(answers.slice(0, 5).map(remaining)).toEqual([4, 3, 2, 1, 0]);
    const refused = answers[5];
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.body).toMatchObject({ statusCode: 429, message: expect.stringMatching(/too many requests/i) });

    // Blocked on both instances, and another write endpoint has a budget of its own.
    expect((await rename(a)).status).toBe(429);
    expect((await request(a).patch('/subjects/sub-1').send({ fullName: 'New Name' })).status).toBe(200);
  });

  it('reads are not limited', async () => {
    for (let i = 0; i < 12; i++) {
      const answer = await request(i % 2 ? a : b).get('/orgs/org-2');
      expect(answer.status).toBe(200);
      expect(answer.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });

  it('the records are in Redis under the namespace, apart from the cache domains', async () => {
    const keys: string[] = [];
    const connection = apps[0].get(RedisClient).connection;
    let cursor = '0';
    do {
      const [next, found] = await connection.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const records = keys.filter((key) => key.startsWith(`${namespace}__elile:#throttle:7:default:`));
    expect(records).toHaveLength(2); // PATCH /orgs and PATCH /subjects for this client
    await apps[0].get(CacheRegistry).get('org').clear();
    expect((await rename(b)).status).toBe(429);
  });
});

describe('demo: a forged X-Forwarded-For or an odd path does not buy a fresh budget', () => {
  const namespace = uniqueNamespace('e2e-throttle-forge');
  let apps: INestApplication[];

  beforeAll(async () => {
    apps = await startPair({
      ELILE_REDIS_URL: testRedisUrl(),
      ELILE_CACHE_NAMESPACE: namespace,
      ELILE_DEMO_WRITE_LIMIT: '4',
      ELILE_DEMO_WRITE_WINDOW: '60',
    });
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('every request counts against the client address and the handler, whatever it claims', async () => {
    const [a, b] = apps.map((app) => app.getHttpServer());
    const forged: Array<[Server, string, Record<string, string>]> = [
      [a, '/orgs/org-1', { 'X-Forwarded-For': '203.0.113.7' }],
      [b, '/orgs/ORG-1', { 'X-Forwarded-For': '198.51.100.1, 10.0.0.1', 'X-Real-IP': '192.0.2.9' }],
      [a, '/orgs/org-1/?x=*', { Forwarded: 'for=192.0.2.60' }],
      [b, '/orgs/%6Frg-1', { 'X-Forwarded-For': '*' }],
      [a, '/orgs/org-3', { 'X-Forwarded-For': `__elile:#throttle:7:default:${'f'.repeat(64)}` }],
    ];
    const statuses: number[] = [];
    for (const [server, path, headers] of forged) statuses.push((await rename(server, path, headers)).status);
    // Four writes pass (one names a missing organization: 404), the fifth is refused.
    expect(statuses.slice(0, 4).every((status) => status !== 429)).toBe(true);
    expect(statuses[4]).toBe(429);
  });
});

describe('demo: a block ends on time on every instance', () => {
  const namespace = uniqueNamespace('e2e-throttle-block');
  let apps: INestApplication[];

  beforeAll(async () => {
    apps = await startPair({
      ELILE_REDIS_URL: testRedisUrl(),
      ELILE_CACHE_NAMESPACE: namespace,
      ELILE_DEMO_WRITE_LIMIT: '2',
      ELILE_DEMO_WRITE_WINDOW: '60',
      ELILE_DEMO_WRITE_BLOCK: '1',
    });
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('over the limit, both instances refuse for blockDuration, then a fresh count starts', async () => {
    const [a, b] = apps.map((app) => app.getHttpServer());
    const statuses = [];
    for (const server of [a, b, a, b]) statuses.push((await rename(server)).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
    const blocked = await rename(a);
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBe('1');

    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const after = await rename(b);
    expect(after.status).toBe(200);
    expect(remaining(after)).toBe(1);
  });
});

describe('demo: write limits while Redis is down or hung (whenUnavailable: local)', () => {
  let redis: RedisServerHandle;
  let proxy: TcpProxy;
  let apps: INestApplication[];
  const namespace = uniqueNamespace('e2e-throttle-down');

  beforeAll(async () => {
    redis = await startLocalRedisServer();
    proxy = await startTcpProxy(redis.port);
    apps = await startPair({
      ELILE_REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      ELILE_CACHE_NAMESPACE: namespace,
      ELILE_REDIS_SOCKET_TIMEOUT: '0.2',
      ELILE_DEMO_WRITE_LIMIT: '3',
      ELILE_DEMO_WRITE_WINDOW: '60',
    });
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await proxy.close();
    await redis.stop();
  });

  it('down: each instance still enforces the limit on its own, so abuse is held back and nothing hangs', async () => {
    const [a, b] = apps.map((app) => app.getHttpServer());
    proxy.stall();
    proxy.cutAll();
    try {
      const onA: number[] = [];
      for (let i = 0; i < 4; i++) onA.push((await rename(a, '/orgs/org-4')).status);
      const onB = (await rename(b, '/orgs/org-4')).status;
      // The writes themselves fail (their cache invalidation needs Redis); the throttler does not.
      expect(onA.slice(0, 3).every((status) => status !== 429)).toBe(true);
      expect(onA[3]).toBe(429);
      expect(onB).not.toBe(429);
    } finally {
      proxy.release();
    }
  });

  it('hung (black-holed): every throttled request is answered, and the limit still holds per instance', async () => {
    const [a] = apps.map((app) => app.getHttpServer());
    const client = apps[0].get(RedisClient);
    for (const deadline = performance.now() + 10_000; !client.isReady && performance.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await client.connection.ping();
    proxy.stall();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await request(a).patch('/subjects/sub-2').send({ fullName: 'New Name' })).status);
      }
      expect(statuses.slice(0, 3).every((status) => status !== 429)).toBe(true);
      expect(statuses[3]).toBe(429);
    } finally {
      proxy.cutAll();
      proxy.release();
    }
  });
});
