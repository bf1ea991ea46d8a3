import { randomUUID } from 'node:crypto';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { CacheArgumentError, CacheConfigurationError, RedisThrottlerStorage } from '@elile/cache';
import { RecordingLogger } from '../../support/recording-logger';
import { startLocalRedisCluster, type LocalRedisCluster } from '../../support/redis-cluster';
import { startLocalRedisServer, type RedisServerHandle } from '../../support/redis-harness';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, closeRaw, failureOf, rawRedis, sleep, startCacheApp, timed } from '../cache-test-app';

type Storage = { increment: RedisThrottlerStorage['increment'] };
type Record = Awaited<ReturnType<Storage['increment']>>;

/** One step of a scenario: wait, then one request. */
interface Step {
  readonly waitMs?: number;
}

const hits = (n: number, waitMs = 0): Step[] => Array.from({ length: n }, (_, i) => ({ waitMs: i === 0 ? waitMs : 0 }));
/** What a reader compares: the count and the verdict. Times are checked separately, within a second. */
const verdict = (record: Record) => `${record.totalHits}${record.isBlocked ? 'B' : ''}`;

describe('RedisThrottlerStorage (Redis)', () => {
  const namespace = uniqueNamespace('throttler');
  let app: CacheApp;
  let storage: RedisThrottlerStorage;
  const reference = new ThrottlerStorageService();

  beforeAll(async () => {
    app = await startCacheApp({ store: 'redis', namespace, redis: { url: testRedisUrl() } });
    storage = new RedisThrottlerStorage(app.redis, app.registry);
  });

  afterAll(async () => {
    reference.onApplicationShutdown();
    await storage.onApplicationShutdown();
    await app.close();
    await deleteNamespace(testRedisUrl(), namespace);
  });

  /**
   * Runs the same requests against @nestjs/throttler's own in-memory storage and ours, side by
   * side (each step reaches both before the next wait), and returns both sequences of records.
   */
  async function sideBySide(steps: Step[], ttl: number, limit: number, blockDuration: number, name = 'default') {
    const key = randomUUID();
    const ours: Record[] = [];
    const theirs: Record[] = [];
    for (const { waitMs } of steps) {
      if (waitMs) await sleep(waitMs);
      const [a, b] = await Promise.all([
        storage.increment(key, ttl, limit, blockDuration, name),
        reference.increment(key, ttl, limit, blockDuration, name),
      ]);
      ours.push(a);
      theirs.push(b);
    }
    return { ours, theirs };
  }

  describe('decides as @nestjs/throttler 6.7 does', () => {
    it('limit 3, block 60 s: the 4th request blocks, and blocked requests add no hits', async () => {
      const { ours, theirs } = await sideBySide(hits(6), 60_000, 3, 60_000);
      expect(ours.map(verdict)).toEqual(['1', '2', '3', '4B', '4B', '4B']);
      expect(ours.map(verdict)).toEqual(theirs.map(verdict));
      for (const [i, record] of ours.entries()) {
        expect(Math.abs(record.timeToExpire - theirs[i].timeToExpire)).toBeLessThanOrEqual(1);
        // Unblocked, the reference reports a meaningless negative number (its block end is 0); ours 0.
        if (record.isBlocked)
          expect(Math.abs(record.timeToBlockExpire - theirs[i].timeToBlockExpire)).toBeLessThanOrEqual(1);
        else expect(record.timeToBlockExpire).toBe(0);
      }
      expect(ours[3].timeToBlockExpire).toBeGreaterThanOrEqual(59);
      expect(ours[0].timeToExpire).toBeGreaterThanOrEqual(59);
    });

    it('a block shorter than the ttl ends on time: the next request starts a fresh count', async () => {
      // @nest-lab/throttler-storage-redis 1.2.0 answers 5B 6B here: blocked until the 60 s window ends.
      const { ours, theirs } = await sideBySide([...hits(5), ...hits(2, 700)], 60_000, 3, 300);
      expect(ours.map(verdict)).toEqual(['1', '2', '3', '4B', '4B', '1', '2']);
      expect(ours.map(verdict)).toEqual(theirs.map(verdict));
    });

    it('blockDuration 0: refused while `limit` hits are live, with the oldest hit’s expiry as Retry-After', async () => {
      // @nest-lab/throttler-storage-redis 1.2.0 fails here: "ERR invalid expire time in 'set' command".
      const { ours, theirs } = await sideBySide(hits(5), 60_000, 3, 0);
      expect(ours.map(verdict)).toEqual(['1', '2', '3', '4B', '4B']);
      expect(ours.map(verdict)).toEqual(theirs.map(verdict));
      expect(ours[3].timeToBlockExpire).toBeGreaterThanOrEqual(59);
      expect(ours[3].timeToBlockExpire).toBeLessThanOrEqual(60);
    });

    it('each hit counts for ttl after it was made (a sliding log, not a fixed window)', async () => {
      // Hits at 0 and ~800 ms with a 1.5 s ttl; at ~1.8 s only the second is live.
      const steps = [{}, { waitMs: 800 }, {}, { waitMs: 1_000 }, {}];
      const { ours, theirs } = await sideBySide(steps, 1_500, 2, 0);
      expect(ours.map(verdict)).toEqual(['1', '2', '3B', '2', '3B']);
      expect(ours.map(verdict)).toEqual(theirs.map(verdict));
    });

    it('limit 0 blocks the first request', async () => {
      const { ours, theirs } = await sideBySide(hits(2), 60_000, 0, 60_000);
      expect(ours.map(verdict)).toEqual(['1B', '1B']);
      expect(ours.map(verdict)).toEqual(theirs.map(verdict));
    });

    it('throttler names count apart on the same key', async () => {
      const key = randomUUID();
      await storage.increment(key, 60_000, 1, 60_000, 'short');
      expect((await storage.increment(key, 60_000, 1, 60_000, 'short')).isBlocked).toBe(true);
      expect(await storage.increment(key, 60_000, 1, 60_000, 'long')).toMatchObject({ totalHits: 1, isBlocked: false });
    });
  });

  describe('atomicity', () => {
    it('200 concurrent requests from two instances against limit 10: exactly 10 pass', async () => {
      const other = await startCacheApp({ store: 'redis', namespace, redis: { url: testRedisUrl() } });
      const otherStorage = new RedisThrottlerStorage(other.redis, other.registry);
      try {
        const key = randomUUID();
        const records = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            (i % 2 ? otherStorage : storage).increment(key, 60_000, 10, 60_000, 'race'),
          ),
        );
        expect(records.filter((record) => !record.isBlocked)).toHaveLength(10);
        expect(
          records
            .filter((record) => !record.isBlocked)
            .map((record) => record.totalHits)
            .sort((x, y) => x - y),
        ).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      } finally {
        await other.close();
      }
    });

    it('memory per tracked client grows with the hits it holds (a sliding log): figures', async () => {
      const redis = rawRedis(testRedisUrl());
      try {
        for (const hitCount of [10, 1_000]) {
          const key = randomUUID();
          const name = `mem${hitCount}`;
          await Promise.all(
            Array.from({ length: hitCount }, () => storage.increment(key, 60_000, hitCount, 60_000, name)),
          );
          let cursor = '0';
          let record: string | undefined;
          do {
            const [next, found] = await redis.scan(
              cursor,
              'MATCH',
              `${namespace}__elile:#throttle:${name.length}:${name}:*`,
              'COUNT',
              1000,
            );
            cursor = next;
            record ??= found[0];
          } while (cursor !== '0');
          expect(await redis.zcard(record!)).toBe(hitCount + 2); // the hits, the window and the sequence
          const bytes = Number(await redis.call('MEMORY', 'USAGE', record!));
          process.stdout.write(`throttler record holding ${hitCount} hits: ${bytes} bytes (MEMORY USAGE)\n`);
        }
      } finally {
        await closeRaw(redis);
      }
    });
  });

  describe('records', () => {
    const recordKeys = async (): Promise<string[]> => {
      const redis = rawRedis(testRedisUrl());
      try {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await redis.scan(cursor, 'MATCH', `${namespace}__elile:#throttle:*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...found);
        } while (cursor !== '0');
        return keys;
      } finally {
        await closeRaw(redis);
      }
    };

    it('live under the namespace in the reserved throttle space, named by throttler and a hash of the key', async () => {
      const key = `tracker-${randomUUID()}`;
      await storage.increment(key, 60_000, 5, 60_000, 'writes');
      const found = (await recordKeys()).filter((k) => k.startsWith(`${namespace}__elile:#throttle:6:writes:`));
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^.*:[0-9a-f]{64}$/);
      expect(found[0]).not.toContain(key);
    });

    it('expire with their last hit or block, whichever ends later', async () => {
      const redis = rawRedis(testRedisUrl());
      try {
        const key = randomUUID();
        await storage.increment(key, 400, 1, 5_000, 'expiry');
        await storage.increment(key, 400, 1, 5_000, 'expiry'); // blocked for 5 s
        const [record] = (await recordKeys()).filter((k) => k.includes(':6:expiry:'));
        const pttl = await redis.pttl(record);
        expect(pttl).toBeGreaterThan(1_000);
        expect(pttl).toBeLessThanOrEqual(5_000);

        const short = randomUUID();
        await storage.increment(short, 300, 5, 0, 'gone');
        const [shortRecord] = (await recordKeys()).filter((k) => k.includes(':4:gone:'));
        expect(await redis.pttl(shortRecord)).toBeLessThanOrEqual(300);
        await sleep(500);
        expect(await redis.exists(shortRecord)).toBe(0);
      } finally {
        await closeRaw(redis);
      }
    });

    it('a key a client chose (glob characters, reserved words, 100 KB) is one fixed-length record of its own', async () => {
      const forged = ['*', '?', '[a-z]*', '\\*', '__elile:#throttle:1:x:*', 'a'.repeat(100_000)];
      for (const key of forged) await storage.increment(key, 60_000, 1, 60_000, 'forged');
      const victim = randomUUID();
      expect((await storage.increment(victim, 60_000, 1, 60_000, 'forged')).totalHits).toBe(1);
      const records = (await recordKeys()).filter((k) => k.includes(':6:forged:'));
      expect(records).toHaveLength(forged.length + 1);
      expect(new Set(records.map((k) => k.length)).size).toBe(1);
      for (const key of forged)
        expect((await storage.increment(key, 60_000, 1, 60_000, 'forged')).isBlocked).toBe(true);
    });

    it('names with glob characters or colons stay apart: ("a:b", "c") is not ("a", "b:c")', async () => {
      const key = randomUUID();
      expect((await storage.increment(`c`, 60_000, 1, 60_000, `a:${key}`)).totalHits).toBe(1);
      expect((await storage.increment(`${key}:c`, 60_000, 1, 60_000, 'a')).totalHits).toBe(1);
      for (const name of ['*', 'w?', '[ab]', 'a*']) {
        expect((await storage.increment(key, 60_000, 1, 60_000, name)).isBlocked).toBe(false);
      }
      expect((await storage.increment(key, 60_000, 1, 60_000, '*')).isBlocked).toBe(true);
      expect((await storage.increment(key, 60_000, 1, 60_000, 'a')).isBlocked).toBe(false);
    });

    it("survive every cache domain's clear(), pattern invalidation and tag invalidation", async () => {
      const key = randomUUID();
      await storage.increment(key, 60_000, 2, 60_000, 'survives');
      for (const domain of app.registry.names()) {
        const cache = app.registry.get(domain);
        await cache.clear();
        await cache.invalidatePattern('*throttle*');
        await cache.invalidateTags(['throttle', '#throttle']);
      }
      expect((await storage.increment(key, 60_000, 2, 60_000, 'survives')).totalHits).toBe(2);
    });

    it('a foreign value under a record (another type, no TTL) is replaced, not a failure forever', async () => {
      const key = randomUUID();
      await storage.increment(key, 60_000, 5, 60_000, 'foreign');
      const [record] = (await recordKeys()).filter((k) => k.includes(':7:foreign:'));
      const redis = rawRedis(testRedisUrl());
      try {
        await redis.set(record, 'not a throttler record');
        const before = storage.stats();
        expect(await storage.increment(key, 60_000, 5, 60_000, 'foreign')).toMatchObject({
          totalHits: 1,
          isBlocked: false,
        });
        expect(storage.stats()).toEqual({ decided: before.decided + 1, unavailable: before.unavailable });
        expect(await redis.type(record)).toBe('zset');
        expect(await redis.pttl(record)).toBeGreaterThan(0);
      } finally {
        await closeRaw(redis);
      }
    });

    it('the script is sent again when Redis has lost its script cache (SCRIPT FLUSH, restart, failover)', async () => {
      const key = randomUUID();
      await storage.increment(key, 60_000, 5, 60_000, 'flush');
      await app.redis.connection.script('FLUSH');
      expect((await storage.increment(key, 60_000, 5, 60_000, 'flush')).totalHits).toBe(2);
      expect(storage.stats().unavailable).toBe(0);
    });
  });

  describe('arguments', () => {
    it.each([
      ['ttl 0', ['k', 0, 5, 0, 'n']],
      ['ttl NaN', ['k', NaN, 5, 0, 'n']],
      ['ttl Infinity', ['k', Infinity, 5, 0, 'n']],
      ['ttl beyond the range Redis can take', ['k', 1e300, 5, 0, 'n']],
      ['ttl as a string', ['k', '60000', 5, 0, 'n']],
      ['a negative limit', ['k', 1000, -1, 0, 'n']],
      ['limit NaN', ['k', 1000, NaN, 0, 'n']],
      ['a negative blockDuration', ['k', 1000, 5, -1, 'n']],
      ['an empty name', ['k', 1000, 5, 0, '']],
      ['a key that is not a string', [42, 1000, 5, 0, 'n']],
    ])('%s is refused with CacheArgumentError, not sent', async (_label, args) => {
      const before = storage.stats();
      const error = await failureOf(() => (storage.increment as (...a: unknown[]) => unknown)(...args));
      expect(error).toBeInstanceOf(CacheArgumentError);
      expect(storage.stats()).toEqual(before);
    });

    it('an unknown whenUnavailable policy fails at construction with CacheConfigurationError', () => {
      expect(
        () => new RedisThrottlerStorage(app.redis, app.registry, { whenUnavailable: 'sometimes' as never }),
      ).toThrow(CacheConfigurationError);
    });
  });
});

describe('RedisThrottlerStorage on a 3-master Redis Cluster', () => {
  let cluster: LocalRedisCluster;
  let app: CacheApp;
  let storage: RedisThrottlerStorage;

  beforeAll(async () => {
    cluster = await startLocalRedisCluster(3);
    app = await startCacheApp({ store: 'redis', namespace: 'cl:', redis: { cluster: { nodes: [...cluster.seeds] } } });
    storage = new RedisThrottlerStorage(app.redis, app.registry);
  }, 30_000);

  afterAll(async () => {
    await storage?.onApplicationShutdown();
    await app?.close();
    await cluster?.stop();
  });

  it('decides every key, whichever master holds it, with the standalone answers', async () => {
    const keys = Array.from({ length: 60 }, () => randomUUID());
    for (const key of keys) {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(verdict(await storage.increment(key, 60_000, 3, 60_000, 'cluster')));
      expect(answers).toEqual(['1', '2', '3', '4B']);
    }
    // The records spread over all three masters: the script ran on each.
    const perNode = await Promise.all(
      cluster.nodes.map(async (node) => {
        const redis = rawRedis(node.url);
        try {
          return await redis.dbsize();
        } finally {
          await closeRaw(redis);
        }
      }),
    );
    expect(perNode.every((count) => count > 0)).toBe(true);
    expect(perNode.reduce((a, b) => a + b, 0)).toBe(keys.length);
    expect(storage.stats()).toEqual({ decided: keys.length * 4, unavailable: 0 });
  });
});

describe('RedisThrottlerStorage when Redis cannot answer', () => {
  let server: RedisServerHandle;
  let proxy: TcpProxy;
  const apps: CacheApp[] = [];
  const storages: RedisThrottlerStorage[] = [];

  beforeAll(async () => {
    server = await startLocalRedisServer();
    proxy = await startTcpProxy(server.port);
  });

  afterAll(async () => {
    await Promise.all(storages.map((s) => s.onApplicationShutdown()));
    await Promise.all(apps.map((a) => a.close()));
    await proxy.close();
    await server.stop();
  });

  async function boot(whenUnavailable?: 'local' | 'open' | 'closed', logger = new RecordingLogger()) {
    const app = await startCacheApp(
      {
        store: 'redis',
        namespace: `down-${randomUUID()}:`,
        redis: { url: `redis://127.0.0.1:${proxy.port}`, commandTimeout: 0.2 },
      },
      logger,
    );
    apps.push(app);
    const storage = new RedisThrottlerStorage(app.redis, app.registry, whenUnavailable ? { whenUnavailable } : {});
    storages.push(storage);
    return { app, storage, logger };
  }

  /**
   * Redis unreachable: the connections are cut and the new ones the client opens get no answer
   * (the proxy holds their bytes), so commands fail at once (no offline queue) until `heal`.
   */
  function takeDown(): () => void {
    proxy.stall();
    proxy.cutAll();
    return () => proxy.release();
  }

  it("'local' (the default): each instance counts in process, with the same limit; counted and logged once", async () => {
    const logger = new RecordingLogger();
    const a = await boot(undefined, logger);
    const b = await boot(undefined, logger);
    const key = randomUUID();
    const heal = takeDown();
    try {
      const onA = [];
      for (let i = 0; i < 4; i++) onA.push(verdict(await a.storage.increment(key, 60_000, 3, 60_000, 'default')));
      const onB = verdict(await b.storage.increment(key, 60_000, 3, 60_000, 'default'));
      expect(onA).toEqual(['1', '2', '3', '4B']);
      expect(onB).toBe('1');
      expect(a.storage.stats()).toEqual({ decided: 0, unavailable: 4 });
      // Rate-limited: one line per instance for five failures.
      const warnings = logger.lines.filter((line) => line.includes('Throttler could not reach Redis'));
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toContain('counting requests in this process');
    } finally {
      heal();
    }
  });

  it("'open' lets requests through uncounted; 'closed' refuses them with a 1 s retry", async () => {
    const open = await boot('open');
    const closed = await boot('closed');
    const heal = takeDown();
    try {
      for (let i = 0; i < 5; i++) {
        expect((await open.storage.increment('k', 60_000, 1, 60_000, 'default')).isBlocked).toBe(false);
      }
      expect(await closed.storage.increment('k', 60_000, 1, 60_000, 'default')).toEqual({
        totalHits: 2,
        timeToExpire: 1,
        isBlocked: true,
        timeToBlockExpire: 1,
      });
      expect(open.storage.stats().unavailable).toBe(5);
      expect(closed.storage.stats().unavailable).toBe(1);
    } finally {
      heal();
    }
  });

  it('a hung Redis (stalled by the proxy) costs one command deadline per request, then the policy decides', async () => {
    const { app, storage } = await boot('closed');
    await app.redis.connection.ping();
    const key = randomUUID();
    proxy.stall();
    try {
      const outcome = await timed(() => storage.increment(key, 60_000, 5, 60_000, 'default'), 5_000);
      expect(outcome.result).toEqual({ status: 'fulfilled', value: expect.objectContaining({ isBlocked: true }) });
      process.stdout.write(
        `throttler decision against a hung Redis: ${outcome.ms.toFixed(0)} ms (commandTimeout 200 ms)\n`,
      );
      expect(storage.stats().unavailable).toBe(1);
    } finally {
      proxy.cutAll();
      proxy.release();
    }
  });

  it('once Redis answers again, Redis decides again (the local counts are not carried over)', async () => {
    const { app, storage } = await boot('local');
    const key = randomUUID();
    const heal = takeDown();
    await storage.increment(key, 60_000, 3, 60_000, 'default');
    heal();
    const deadline = performance.now() + 10_000;
    while (!app.redis.isReady && performance.now() < deadline) await sleep(25);
    expect((await storage.increment(key, 60_000, 3, 60_000, 'default')).totalHits).toBe(1);
    expect(storage.stats()).toEqual({ decided: 1, unavailable: 1 });
  });
});

describe('RedisThrottlerStorage with the memory store', () => {
  it('counts per instance and says so at construction', async () => {
    const logger = new RecordingLogger();
    const app = await startCacheApp({ store: 'memory' }, logger);
    const storage = new RedisThrottlerStorage(app.redis, app.registry);
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(verdict(await storage.increment('k', 60_000, 2, 60_000, 'default')));
      expect(answers).toEqual(['1', '2', '3B']);
      expect(logger.text()).toContain('Throttler limits are counted in this process');
      expect(storage.stats()).toEqual({ decided: 0, unavailable: 0 });
    } finally {
      await storage.onApplicationShutdown();
      await app.close();
    }
  });
});
