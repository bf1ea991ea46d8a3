import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { RedisClient } from '@elile/cache';
import { createDecoratedApp } from '../fixtures/decorated-app';
import { LockAboveController, RequestGates } from '../fixtures/with-lock.controllers';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

describe('@WithLock on a controller while the Redis circuit breaker is open', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  let app: INestApplication;
  const gates = new RequestGates();

  beforeAll(async () => {
    server = await startLocalRedisServer();
    proxy = await startTcpProxy(server.port);
    app = await createDecoratedApp({
      store: 'redis',
      namespace: 'with-lock-breaker:',
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      controllers: [LockAboveController],
      providers: [{ provide: RequestGates, useValue: gates }],
    });
  });

  afterAll(async () => {
    proxy?.release();
    await app?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('answers 503 (not 409: nobody is known to hold it) without running the handler, and 201 once Redis is back', async () => {
    const url = await app.getUrl();
    await request(url).post('/locked-above/1').expect(201);

    const redis = app.get(RedisClient);
    proxy.stall();
    await Promise.all(Array.from({ length: 10 }, () => redis.get('k').catch(() => null)));
    expect(redis.breakerStatus().state).not.toBe('closed');

    const gate = gates.arm('2');
    const refused = await request(url).post('/locked-above/2').expect(503).expect('Retry-After', '1');
    expect(refused.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The resource cannot be locked right now; try again shortly.',
    });
    expect(gate.passed()).toBe(0);

    proxy.release();
    for (let i = 0; i < 100 && redis.breakerStatus().state !== 'closed'; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    gate.open();
    await request(url).post('/locked-above/2').expect(201);
    expect(gate.passed()).toBe(1);
  });

  it('answers 503 with Retry-After when Redis is unreachable before the breaker opens, not 500', async () => {
    const url = await app.getUrl();
    const redis = app.get(RedisClient);
    for (let i = 0; i < 100 && redis.breakerStatus().state !== 'closed'; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(redis.breakerStatus().state).toBe('closed');
    // Cut: every command fails at once (no offline queue) until the connection is back.
    proxy.cutAll();
    const gate = gates.arm('3');
    const refused = await request(url).post('/locked-above/3').expect(503).expect('Retry-After', '1');
    expect(refused.body.message).toBe('The resource cannot be locked right now; try again shortly.');
    expect(gate.passed()).toBe(0);
    gate.open();
  });
});
