import type { CacheService } from '@elile/cache';
import { EntryCodec } from '@elile/cache/codec/entry-codec';
import { MsgpackCodec } from '@elile/cache/codec/msgpack.codec';
import { CacheCoherence } from '@elile/cache/near/cache-coherence';
import { deferred } from '../../support/deferred';
import { liveHeapBytes } from '../../support/heap';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, waitFor } from '../cache-test-app';

type Cache = CacheService<unknown>;

const fileNamespace = uniqueNamespace('near-attack-fleet');
let testNumber = 0;
let namespace: string;
const apps: CacheApp[] = [];
const servers: RedisServerHandle[] = [];

async function instance(url = testRedisUrl(), leaseTtl = 5): Promise<CacheApp> {
  const app = await startCacheApp({ namespace, redis: { url }, leaseTtl, domains: { near: { ttl: 60, l1: true } } });
  apps.push(app);
  return app;
}

const watchesOf = (app: CacheApp) => app.moduleRef.get(CacheCoherence).coherence!.watches;

/** A's loader for `key` runs until released; resolves once A holds the lease. */
async function holdLease(a: Cache, key: string, options: { tags?: string[] } = {}) {
  const gate = deferred<unknown>();
  const loads = a.stats().loads;
  const done = a.getOrSet(key, () => gate.promise, options).catch((error: unknown) => error);
  await waitFor('A to hold the lease', () => a.stats().loads >= loads + 1);
  return { release: (value: unknown) => gate.resolve(value), done };
}

beforeEach(() => {
  testNumber += 1;
  namespace = `${fileNamespace}${testNumber}:`;
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), fileNamespace);
});

describe('Fleet single flight under attack', () => {
  it("a waiter whose holder's fill is refused (a tag invalidated meanwhile) is woken, loads, and stores its own value", async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get('near'), b.registry.get('near')];
    const held = await holdLease(onA, 'k', { tags: ['org:1'] });
    const waiting = onB.getOrSet('k', async () => 'loaded by B after the invalidation', { tags: ['org:1'] });
    await waitFor('B to wait', () => watchesOf(b).size === 1);
    await onA.invalidateTags(['org:1']);
    held.release('loaded by A before the invalidation');
    await expect(waiting).resolves.toBe('loaded by B after the invalidation');
    expect(onB.stats().fleetWaitTimeouts).toBe(0);
    expect(onA.stats().staleFillsDiscarded).toBe(1);
    await expect(onA.get('k')).resolves.toBe('loaded by B after the invalidation');
  });

  it('10,000 waits that run out leave no watch behind and do not grow the heap', async () => {
    const b = await instance();
    const onB = b.registry.get('near');
    const raw = rawRedis(testRedisUrl());
    const lease = new EntryCodec(new MsgpackCodec(), 0).newLease();
    try {
      const round = async (from: number) => {
        const keys = Array.from({ length: 1000 }, (_, i) => `held:${from + i}`);
        const pipeline = raw.pipeline();
        for (const key of keys) pipeline.set(onB.fullKey(key), lease, 'PX', 60_000);
        await pipeline.exec();
        const values = await Promise.all(keys.map((key) => onB.getOrSet(key, async () => key, { wait: 0.05 })));
        expect(values).toEqual(keys);
      };
      await round(0);
      const before = await liveHeapBytes();
      for (let from = 1000; from < 10_000; from += 1000) await round(from);
      const grown = (await liveHeapBytes()) - before;
      expect(watchesOf(b).size).toBe(0);
      // Each ran out (counted, unless it ran out before its first wait) and B loaded each key itself.
      expect(onB.stats().loads).toBe(10_000);
      console.log(`fleet waits: heap grew ${(grown / 1024).toFixed(0)} KiB over 9,000 timed-out waits`);
      expect(grown).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await closeRaw(raw);
    }
  }, 60_000);

  it('waiters on many keys at once each hold one watch, all gone after the fills', async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get('near'), b.registry.get('near')];
    const holds = await Promise.all(Array.from({ length: 50 }, (_, i) => holdLease(onA, `k${i}`)));
    const waits = Array.from({ length: 50 }, (_, i) =>
      Promise.all(Array.from({ length: 4 }, () => onB.getOrSet(`k${i}`, async () => 'B loaded'))),
    );
    // One shared load per key in B: one watch per key, not per caller.
    await waitFor('B to wait on every key', () => watchesOf(b).size === 50);
    holds.forEach((held, i) => held.release(`A${i}`));
    const values = await Promise.all(waits);
    values.forEach((perKey, i) => expect(perKey).toEqual([`A${i}`, `A${i}`, `A${i}`, `A${i}`]));
    expect(watchesOf(b).size).toBe(0);
    expect(onB.stats().loads).toBe(0);
  });

  it('a Redis restart mid-wait wakes the waiter at once: it loads for itself, never hangs', async () => {
    const server = await startLocalRedisServer();
    servers.push(server);
    const [a, b] = [await instance(server.url, 10), await instance(server.url, 10)];
    const [onA, onB] = [a.registry.get('near'), b.registry.get('near')];
    const held = await holdLease(onA, 'k');
    const waiting = onB.getOrSet('k', async () => 'loaded by B', { wait: 10 });
    await waitFor('B to wait', () => watchesOf(b).size === 1);
    await server.restart();
    // Before A's loader is released (A holds it for good): the restart alone must free B.
    await expect(waiting).resolves.toBe('loaded by B');
    held.release('A');
    await held.done;
  }, 30_000);
});
