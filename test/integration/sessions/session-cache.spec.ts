import { Test } from '@nestjs/testing';
import {
  CacheArgumentError,
  CacheModule,
  CacheRegistry,
  type CacheStoreKind,
  CacheUnavailableError,
  provideSessionCache,
  SessionCache,
  sessionStoreOptions,
} from '@elile/cache';
import RedisStore from 'connect-redis';
import type { SessionData } from 'express-session';
import { RecordingLogger } from '../../support/recording-logger';
import { startLocalRedisCluster, type LocalRedisCluster } from '../../support/redis-cluster';
import { startLocalRedisServer, type RedisServerHandle } from '../../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { deferred } from '../../support/deferred';
import { type CacheApp, closeRaw, failureOf, rawRedis, sleep, startCacheApp, timed } from '../cache-test-app';

interface UserSession {
  userId: string;
  roles: string[];
  since: Date;
}

const session = (userId: string): UserSession => ({
  userId,
  roles: ['reviewer'],
  since: new Date('2026-01-02T03:04:05Z'),
});

const HOSTILE_IDS: unknown[] = ['', '__elile:scope:4:acme:k', '__elile:', 'x'.repeat(257), 42, null, undefined, {}];

describe.each<CacheStoreKind>(['memory', 'redis'])('SessionCache (%s store)', (store) => {
  const namespace = uniqueNamespace(`sessions-${store}`);
  let app: CacheApp;
  let sessions: SessionCache<UserSession>;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    app = await startCacheApp(
      { store, namespace, redis: { url: testRedisUrl() }, domains: { session: { ttl: 1.5 } } },
      logger,
    );
    sessions = new SessionCache<UserSession>(app.registry.get('session'));
  });

  afterAll(async () => {
    await app.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  it('lives on the session domain: its prefix, its TTL, its codec (a Date comes back a Date)', async () => {
    expect(sessions.ttl).toBe(1.5);
    await expect(sessions.set('s-1', session('u-1'))).resolves.toBe(true);
    const read = await sessions.get('s-1');
    expect(read).toEqual(session('u-1'));
    expect(read?.since).toBeInstanceOf(Date);
    await expect(app.registry.get('session').get('s-1')).resolves.toEqual(session('u-1'));
  });

  it('reading a session extends it; unused, it expires after the TTL', async () => {
    await sessions.set('slide', session('u-2'));
    await sleep(1_000);
    await expect(sessions.get('slide')).resolves.toEqual(session('u-2')); // 1.0 s in: extended to 2.5 s
    await sleep(1_000);
    await expect(sessions.get('slide')).resolves.toEqual(session('u-2')); // 2.0 s: past the first TTL
    await sleep(2_000);
    await expect(sessions.get('slide')).resolves.toBeUndefined();
  });

  it('touch extends without reading it for the caller, and says whether there was a session', async () => {
    await sessions.set('touched', session('u-3'));
    await sleep(1_000);
    await expect(sessions.touch('touched')).resolves.toBe(true);
    await sleep(1_000);
    await expect(sessions.get('touched')).resolves.toEqual(session('u-3'));
    await expect(sessions.touch('never-set')).resolves.toBe(false);
  });

  it('destroy ends it at once; a second destroy finds nothing', async () => {
    await sessions.set('bye', session('u-4'));
    await expect(sessions.destroy('bye')).resolves.toBe(true);
    await expect(sessions.get('bye')).resolves.toBeUndefined();
    await expect(sessions.destroy('bye')).resolves.toBe(false);
  });

  it('a session id with glob characters is an ordinary id: it reaches only its own session', async () => {
    await sessions.set('victim', session('u-victim'));
    for (const id of ['*', 'vic*', '?ictim', '[v]ictim', 'victim\\']) {
      await sessions.set(id, session(`u-${id}`));
      await expect(sessions.get(id)).resolves.toEqual(session(`u-${id}`));
      await expect(sessions.destroy(id)).resolves.toBe(true);
    }
    await expect(sessions.get('victim')).resolves.toEqual(session('u-victim'));
  });

  it.each(HOSTILE_IDS)(
    'id %p (reserved, empty, too long, not a string) is no session: read as absent, counted and logged, never thrown',
    async (id) => {
      const before = sessions.stats().refusedIds;
      await expect(sessions.get(id as string)).resolves.toBeUndefined();
      await expect(sessions.touch(id as string)).resolves.toBe(false);
      await expect(sessions.destroy(id as string)).resolves.toBe(false);
      expect(sessions.stats().refusedIds).toBe(before + 3);
      expect(logger.text()).toContain('was asked for a session under an id it cannot hold');
      expect(await failureOf(() => sessions.set(id as string, session('u-x')))).toBeInstanceOf(CacheArgumentError);
    },
  );

  it('an id of 256 characters is the longest a session can have', async () => {
    const longest = 's'.repeat(256);
    await expect(sessions.set(longest, session('u-long'))).resolves.toBe(true);
    await expect(sessions.get(longest)).resolves.toEqual(session('u-long'));
    await expect(sessions.destroy(longest)).resolves.toBe(true);
  });

  it('a reserved id cannot read a scoped entry of the domain', async () => {
    const cache = app.registry.get<unknown>('session');
    await cache.set('k', 'tenant data', { scope: 'acme' });
    const scopedKey = cache.fullKey('k', 'acme').slice(cache.fullKey('x').length - 1);
    expect(scopedKey.startsWith('__elile:')).toBe(true);
    await expect(sessions.get(scopedKey)).resolves.toBeUndefined();
    await expect(cache.get('k', { scope: 'acme' })).resolves.toBe('tenant data');
  });
});

describe('SessionCache on Redis: one GETEX per read', () => {
  let server: RedisServerHandle;
  let app: CacheApp;
  let sessions: SessionCache<UserSession>;

  beforeAll(async () => {
    server = await startLocalRedisServer();
    app = await startCacheApp({ store: 'redis', namespace: 'gx:', redis: { url: server.url } });
    sessions = new SessionCache<UserSession>(app.registry.get('session'));
  });

  afterAll(async () => {
    await app.close();
    await server.stop();
  });

  const commandCalls = async (): Promise<Record<string, number>> => {
    const redis = rawRedis(server.url);
    try {
      const info = await redis.info('commandstats');
      return Object.fromEntries(
        [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map(([, name, calls]) => [name, Number(calls)]),
      );
    } finally {
      await closeRaw(redis);
    }
  };

  it('a read is exactly one GETEX (no GET, no EXPIRE), and sets the full TTL again', async () => {
    await sessions.set('one', session('u-1'));
    const redis = rawRedis(server.url);
    try {
      await redis.pexpire('gx:session:one', 5_000);
      const before = await commandCalls();
      await expect(sessions.get('one')).resolves.toEqual(session('u-1'));
      const after = await commandCalls();
      const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
      expect(delta('getex')).toBe(1);
      expect(delta('get') + delta('pexpire') + delta('expire') + delta('evalsha')).toBe(0);
      const pttl = await redis.pttl('gx:session:one');
      expect(pttl).toBeGreaterThan(1_790_000);
      expect(pttl).toBeLessThanOrEqual(1_800_000);
    } finally {
      await closeRaw(redis);
    }
  });

  it("meeting a read-through's lease leaves the lease its own short life, not a session's", async () => {
    const cache = app.registry.get<unknown>('session');
    const gate = deferred<string>();
    const loading = cache.getOrSet('leased', () => gate.promise);
    await sleep(20);
    await expect(sessions.get('leased')).resolves.toBeUndefined();
    await app.redis.connection.ping(); // after the lease's TTL was given back, on the same connection
    const redis = rawRedis(server.url);
    try {
      expect(await redis.pttl('gx:session:leased')).toBeLessThanOrEqual(10_000); // leaseTtl, not 1800 s
    } finally {
      await closeRaw(redis);
    }
    gate.resolve('filled');
    await expect(loading).resolves.toBe('filled');
  });

  it('foreign bytes under a session key are no session, and are removed', async () => {
    const redis = rawRedis(server.url);
    try {
      await redis.set('gx:session:foreign', '{"userId":"forged"}');
      await expect(sessions.get('foreign')).resolves.toBeUndefined();
      await app.redis.connection.ping();
      expect(await redis.exists('gx:session:foreign')).toBe(0);
      expect(app.registry.get('session').stats().corruptEntries).toBe(1);
    } finally {
      await closeRaw(redis);
    }
  });
});

describe('SessionCache when Redis is down or hung', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  let app: CacheApp;
  let sessions: SessionCache<UserSession>;
  const logger = new RecordingLogger();

  beforeAll(async () => {
    server = await startLocalRedisServer();
    proxy = await startTcpProxy(server.port);
    app = await startCacheApp(
      { store: 'redis', namespace: 'down:', redis: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeout: 0.2 } },
      logger,
    );
    sessions = new SessionCache<UserSession>(app.registry.get('session'));
    await sessions.set('kept', session('u-1'));
  });

  afterAll(async () => {
    await app.close();
    await proxy.close();
    await server.stop();
  });

  it('down: get and touch answer "no session", set answers false, destroy throws; counted and logged', async () => {
    const errorsBefore = app.registry.get('session').stats().errors;
    proxy.stall();
    proxy.cutAll();
    try {
      await expect(sessions.get('kept')).resolves.toBeUndefined();
      await expect(sessions.touch('kept')).resolves.toBe(false);
      await expect(sessions.set('new', session('u-2'))).resolves.toBe(false);
      expect(await failureOf(() => sessions.destroy('kept'))).toBeInstanceOf(CacheUnavailableError);
      expect(app.registry.get('session').stats().errors).toBe(errorsBefore + 3);
      expect(logger.text()).toMatch(/Cache "session".*getAndExpire/);
    } finally {
      proxy.release();
    }
  });

  it('hung (black-holed): a read settles after the command deadline as "no session"', async () => {
    const deadline = performance.now() + 10_000;
    while (!app.redis.isReady && performance.now() < deadline) await sleep(25);
    await expect(sessions.get('kept')).resolves.toEqual(session('u-1'));
    proxy.stall();
    try {
      const outcome = await timed(() => sessions.get('kept'), 5_000);
      expect(outcome.result).toEqual({ status: 'fulfilled', value: undefined });
      process.stdout.write(
        `session read against a hung Redis settled in ${outcome.ms.toFixed(0)} ms (commandTimeout 200 ms)\n`,
      );
    } finally {
      proxy.cutAll();
      proxy.release();
    }
  });
});

describe('provideSessionCache', () => {
  it('makes SessionCache injectable on the session domain, or on a named one', async () => {
    const namespace = uniqueNamespace('sessions-di');
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ store: 'memory', namespace, domains: { admin: { ttl: 60, prefix: 'adm:' } } })],
      providers: [provideSessionCache(), { ...provideSessionCache('admin'), provide: 'AdminSessions' }],
    })
      .setLogger(new RecordingLogger())
      .compile();
    await moduleRef.init();
    try {
      const sessions = moduleRef.get<SessionCache<UserSession>>(SessionCache);
      const admins = moduleRef.get<SessionCache<UserSession>>('AdminSessions');
      await sessions.set('s', session('u-1'));
      await admins.set('s', session('u-admin'));
      const registry = moduleRef.get(CacheRegistry);
      await expect(registry.get('session').get('s')).resolves.toEqual(session('u-1'));
      await expect(registry.get('admin').get('s')).resolves.toEqual(session('u-admin'));
      expect(sessions.ttl).toBe(1800);
      expect(admins.ttl).toBe(60);
    } finally {
      await moduleRef.close();
    }
  });
});

describe('sessions on a 3-master Redis Cluster', () => {
  let cluster: LocalRedisCluster;
  let app: CacheApp;

  beforeAll(async () => {
    cluster = await startLocalRedisCluster(3);
    app = await startCacheApp({ store: 'redis', namespace: 'cls:', redis: { cluster: { nodes: [...cluster.seeds] } } });
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('SessionCache works whichever master holds a session (single-key commands)', async () => {
    const sessions = new SessionCache<UserSession>(app.registry.get('session'));
    const ids = Array.from({ length: 30 }, (_, i) => `c-${i}`);
    for (const id of ids) await expect(sessions.set(id, session(id))).resolves.toBe(true);
    for (const id of ids) await expect(sessions.get(id)).resolves.toEqual(session(id));
    for (const id of ids) await expect(sessions.destroy(id)).resolves.toBe(true);
  });

  it("connect-redis on the cluster connection: per-session calls work; length() sees one master's sessions only", async () => {
    const store = new RedisStore(sessionStoreOptions(app.redis, app.registry));
    const call = <R>(run: (done: (error: unknown, result?: R) => void) => void): Promise<R | undefined> =>
      new Promise((resolve, reject) => run((error, result) => (error ? reject(error) : resolve(result))));
    const ids = Array.from({ length: 30 }, (_, i) => `x-${i}`);
    const data = { cookie: { originalMaxAge: null } } as unknown as SessionData;
    for (const id of ids) await call((done) => store.set(id, data, done));
    for (const id of ids) await expect(call((done) => store.get(id, done))).resolves.toMatchObject({ cookie: {} });
    const counted = await call<number>((done) => store.length(done));
    expect(counted).toBeLessThan(ids.length);
    process.stdout.write(`connect-redis length() on a 3-master cluster: ${counted} of ${ids.length} sessions\n`);
    for (const id of ids) await call((done) => store.destroy(id, done));
  });
});
