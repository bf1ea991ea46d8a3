import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { RedisClient } from '@elile/cache';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { settlesWithin } from '../support/settles-within';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { startDemo } from './start-demo';

interface HealthBody {
  status: 'ok' | 'error';
  info?: Record<string, Record<string, unknown>>;
  error?: Record<string, Record<string, unknown>>;
}

describe('demo: GET /health with Redis up, black-holed and stopped', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  let app: INestApplication;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    proxy = await startTcpProxy(server.port);
    app = await startDemo({ ELILE_REDIS_URL: `redis://127.0.0.1:${proxy.port}`, ELILE_CACHE_NAMESPACE: 'health:' });
  });

  afterAll(async () => {
    proxy?.release();
    await app?.close();
    await proxy?.close();
    await server?.stop();
  });

  const health = () => request(app.getHttpServer()).get('/health');

  it('200 with the round trip and the breaker state while Redis answers', async () => {
    const answer = await health().expect(200);
    const body = answer.body as HealthBody;
    expect(body.status).toBe('ok');
    expect(body.info?.cache).toMatchObject({ status: 'up', store: 'redis', breaker: 'closed' });
    expect(body.info?.cache.latencyMs).toEqual(expect.any(Number));
  });

  it('503 when Redis is black-holed (TCP open, nothing answers), answering within its own timeout', async () => {
    proxy.stall();
    try {
      const answer = health();
      // The check's timeout is 0.5 s; a hung Redis must not hang the endpoint with it.
      expect(await settlesWithin(answer, 3_000)).toBe('settled');
      const body = (await answer.expect(503)).body as HealthBody;
      expect(body.status).toBe('error');
      expect(body.error?.cache).toMatchObject({ status: 'down', store: 'redis' });
      expect(String(body.error?.cache.message)).toContain('Redis did not answer PING');
    } finally {
      proxy.release();
    }
    await waitForStatus(200);
  });

  it('reports the breaker open while the cache has stopped asking Redis, and up again once it answers', async () => {
    proxy.stall();
    const redis = app.get(RedisClient);
    try {
      await Promise.all(Array.from({ length: 10 }, () => redis.get('health:probe').catch(() => null)));
      await waitUntil(() => redis.breakerStatus().state !== 'closed');
      const body = (await health().expect(503)).body as HealthBody;
      expect(body.error?.cache.breaker).toMatch(/open/);
    } finally {
      proxy.release();
    }
    await waitForStatus(200);
  });

  it('503 when Redis is stopped, at once', async () => {
    await server.stop();
    const answer = health();
    expect(await settlesWithin(answer, 3_000)).toBe('settled');
    const body = (await answer.expect(503)).body as HealthBody;
    expect(body.error?.cache).toMatchObject({ status: 'down', store: 'redis' });
  });

  async function waitForStatus(status: number): Promise<void> {
    await waitUntil(async () => (await health()).status === status);
  }
});

async function waitUntil(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('demo: GET /health on the memory store', () => {
  it('200, store memory: there is no Redis to reach', async () => {
    const app = await startDemo({ ELILE_REDIS_URL: undefined, ELILE_CACHE_STORE: 'memory' });
    try {
      const body = (await request(app.getHttpServer()).get('/health').expect(200)).body as HealthBody;
      expect(body.info?.cache).toEqual({ status: 'up', store: 'memory' });
    } finally {
      await app.close();
    }
  });
});
