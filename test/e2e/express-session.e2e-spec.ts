import { Controller, Get, type INestApplication, Module, Post, Req } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import RedisStore from 'connect-redis';
import type { Request } from 'express';
import session from 'express-session';
import request, { type Response } from 'supertest';
import {
  CacheConfigurationError,
  CacheModule,
  type CacheModuleOptions,
  CacheRegistry,
  RedisClient,
  sessionStoreOptions,
} from '@elile/cache';
import { closeRaw, rawRedis } from '../integration/cache-test-app';
import { RecordingLogger } from '../support/recording-logger';
import { startLocalRedisServer, type RedisServerHandle } from '../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';

declare module 'express-session' {
  interface SessionData {
    user?: string;
  }
}

@Controller()
class AccountController {
  @Post('login')
  login(@Req() req: Request): { user: string } {
    req.session.user = 'u-1';
    return { user: 'u-1' };
  }

  @Get('me')
  me(@Req() req: Request): { user: string | null } {
    return { user: req.session.user ?? null };
  }

  @Post('logout')
  async logout(@Req() req: Request): Promise<{ done: true }> {
    await new Promise<void>((resolve, reject) => req.session.destroy((error) => (error ? reject(error) : resolve())));
    return { done: true };
  }
}

/** The README's recipe: express-session on connect-redis, on the cache module's connection. */
async function startApp(cache: CacheModuleOptions): Promise<INestApplication> {
  @Module({ imports: [CacheModule.forRoot(cache)], controllers: [AccountController] })
  class AppModule {}

  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .setLogger(new RecordingLogger())
    .compile();
  const app = moduleRef.createNestApplication({ logger: false });
  const store = new RedisStore(sessionStoreOptions(app.get(RedisClient), app.get(CacheRegistry)));
  app.use(
    session({
      store,
      secret: 'recipe-test-secret',
      resave: false,
      saveUninitialized: false,
      // Every request extends the session: connect-redis touches it (EXPIRE) and the cookie is sent again.
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax' },
    }),
  );
  return app.init();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cookieOf = (response: Response): string => String(response.headers['set-cookie']?.[0] ?? '').split(';')[0];
/** The session id inside a signed `connect.sid` cookie (`s:<id>.<signature>`). */
const sessionIdOf = (cookie: string): string => decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];

describe('express-session + connect-redis on the module connection (recipe)', () => {
  const namespace = uniqueNamespace('e2e-express-session');
  let apps: INestApplication[];
  let a: ReturnType<INestApplication['getHttpServer']>;
  let b: ReturnType<INestApplication['getHttpServer']>;
  const redis = rawRedis(testRedisUrl());

  beforeAll(async () => {
    const options: CacheModuleOptions = { redis: { url: testRedisUrl() }, namespace, domains: { session: { ttl: 2 } } };
    apps = await Promise.all([startApp(options), startApp(options)]);
    [a, b] = apps.map((app) => app.getHttpServer());
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await closeRaw(redis);
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it("a session made on instance A is read on instance B; it lives under the session domain's prefix and TTL", async () => {
    const login = await request(a).post('/login').expect(201);
    const cookie = cookieOf(login);
    expect((await request(b).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({ user: 'u-1' });

    const key = `${namespace}session:${sessionIdOf(cookie)}`;
    expect(JSON.parse((await redis.get(key)) ?? 'null')).toMatchObject({ user: 'u-1' });
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(2_000);
  });

  it('each request extends it (sliding); unused for the TTL, it expires on both instances', async () => {
    const cookie = cookieOf(await request(a).post('/login').expect(201));
    const key = `${namespace}session:${sessionIdOf(cookie)}`;
    for (const server of [b, a]) {
      await sleep(1_200);
      expect((await request(server).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({ user: 'u-1' });
    }
    // 2.4 s after login, past the first TTL: the touches kept it.
    expect(await redis.exists(key)).toBe(1);
    await sleep(2_500);
    expect(await redis.exists(key)).toBe(0);
    expect((await request(b).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({ user: null });
    expect((await request(a).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({ user: null });
  });

  it('a logout on one instance ends the session on the other', async () => {
    const cookie = cookieOf(await request(a).post('/login').expect(201));
    await request(b).post('/logout').set('Cookie', cookie).expect(201);
    expect((await request(a).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({ user: null });
    expect(await redis.exists(`${namespace}session:${sessionIdOf(cookie)}`)).toBe(0);
  });

  it('forged cookies (unsigned ids, glob characters, reserved names, a bad signature) reach no session and write nothing', async () => {
    const real = cookieOf(await request(a).post('/login').expect(201));
    const id = sessionIdOf(real);
    const keysOfNamespace = async (): Promise<number> => {
      let [cursor, keys] = await redis.scan('0', 'MATCH', `${namespace}*`, 'COUNT', 1_000);
      let count = keys.length;
      while (cursor !== '0') {
        [cursor, keys] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1_000);
        count += keys.length;
      }
      return count;
    };
    const before = await keysOfNamespace();
    for (const forged of [
      id,
      '*',
      `s:*.x`,
      `s:__elile:#throttle:x.y`,
      `s:${id}.forged-signature`,
      `s:${'a'.repeat(5_000)}.z`,
    ]) {
      const answer = await request(b)
        .get('/me')
        .set('Cookie', `connect.sid=${encodeURIComponent(forged)}`)
        .expect(200);
      expect(answer.body).toEqual({ user: null });
      expect(answer.headers['set-cookie']).toBeUndefined();
    }
    expect(await keysOfNamespace()).toBe(before);
  });

  it('refuses a session prefix with glob characters and a TTL of a fraction of a second, at setup', async () => {
    const starNamespace = uniqueNamespace('e2e-session-glob').replace(/:$/, '*:');
    for (const options of [
      { redis: { url: testRedisUrl() }, namespace: starNamespace },
      { redis: { url: testRedisUrl() }, namespace, domains: { session: { ttl: 1.5 } } },
    ] satisfies CacheModuleOptions[]) {
      await expect(startApp(options)).rejects.toThrow(CacheConfigurationError);
    }
  });
});

describe('express-session + connect-redis when Redis is down or hung', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  let app: INestApplication;
  let cookie: string;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    proxy = await startTcpProxy(server.port);
    app = await startApp({
      redis: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeout: 0.3 },
      namespace: 'down:',
    });
    cookie = cookieOf(await request(app.getHttpServer()).post('/login').expect(201));
  });

  afterAll(async () => {
    await app.close();
    await proxy.close();
    await server.stop();
  });

  it('down: a request with a session answers 500 at once (express-session passes the store error on); none without', async () => {
    proxy.stall();
    proxy.cutAll();
    try {
      await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(500);
      // Without a cookie express-session asks the store nothing (saveUninitialized: false).
      expect((await request(app.getHttpServer()).get('/me').expect(200)).body).toEqual({ user: null });
    } finally {
      proxy.release();
    }
  });

  it('hung: the connection deadline bounds the request (500 after it), it does not hang', async () => {
    const client = app.get(RedisClient);
    for (const deadline = performance.now() + 10_000; !client.isReady && performance.now() < deadline;) await sleep(25);
    expect((await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({
      user: 'u-1',
    });
    proxy.stall();
    try {
      const started = performance.now();
      await request(app.getHttpServer()).get('/me').set('Cookie', cookie).timeout(5_000).expect(500);
      process.stdout.write(
        `express-session read against a hung Redis answered 500 after ${(performance.now() - started).toFixed(0)} ms (commandTimeout 300 ms)\n`,
      );
    } finally {
      proxy.cutAll();
      proxy.release();
    }
  });
});
