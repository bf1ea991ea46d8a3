import type { CacheService } from '@elile/cache';
import { EntryCodec } from '@elile/cache/codec/entry-codec';
import { MsgpackCodec } from '@elile/cache/codec/msgpack.codec';
import { CacheCoherence } from '@elile/cache/near/cache-coherence';
import { deferred } from '../../support/deferred';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, timed, waitFor } from '../cache-test-app';

type Cache = CacheService<unknown>;

const fileNamespace = uniqueNamespace('fleet-wait');
let testNumber = 0;
let namespace: string;
const apps: CacheApp[] = [];

async function instance(options: { url?: string; fleetSingleFlight?: boolean } = {}): Promise<Cache> {
  const app = await startCacheApp({
    namespace,
    redis: { url: options.url ?? testRedisUrl() },
    fleetSingleFlight: options.fleetSingleFlight,
    leaseTtl: 5,
  });
  apps.push(app);
  return app.main;
}

/** A's loader runs until the test releases it; B's call is made once A holds the lease. */
async function holdLease(a: Cache, key: string): Promise<{ release(value: unknown): void; fail(error: Error): void; done: Promise<unknown> }> {
  const gate = deferred<unknown>();
  const done = a.getOrSet(key, () => gate.promise).catch((error: unknown) => error);
  await waitFor('A to hold the lease', () => a.stats().loads === 1);
  return { release: (value) => gate.resolve(value), fail: (error) => gate.reject(error), done };
}

beforeEach(() => {
  testNumber += 1;
  namespace = `${fileNamespace}${testNumber}:`;
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), fileNamespace);
});

describe("A miss on a key another instance is loading", () => {
  it("waits for that instance's fill and is served its value, without loading", async () => {
    const [a, b] = [await instance(), await instance()];
    const held = await holdLease(a, 'k');
    const loader = jest.fn(async () => 'loaded by B');
    const waiting = b.getOrSet('k', loader);
    await new Promise((resolve) => setTimeout(resolve, 100));
    held.release('loaded by A');
    await expect(waiting).resolves.toBe('loaded by A');
    expect(loader).not.toHaveBeenCalled();
    expect(b.stats()).toMatchObject({ fleetWaits: 1, fleetWaitTimeouts: 0, loads: 0 });
  });

  it('loads for itself when the holder fails (the holder gives its lease back), and stores its own value', async () => {
    const [a, b] = [await instance(), await instance()];
    const held = await holdLease(a, 'k');
    const waiting = b.getOrSet('k', async () => 'loaded by B');
    await new Promise((resolve) => setTimeout(resolve, 100));
    held.fail(new Error('source down on A'));
    await expect(waiting).resolves.toBe('loaded by B');
    await expect(held.done).resolves.toBeInstanceOf(Error);
    await expect(a.get('k')).resolves.toBe('loaded by B');
  });

  it('loads for itself, unstored, once its own wait runs out', async () => {
    const [a, b] = [await instance(), await instance()];
    const held = await holdLease(a, 'k');
    const { ms, result } = await timed(() => b.getOrSet('k', async () => 'loaded by B', { wait: 0.2 }));
    expect(result).toEqual({ status: 'fulfilled', value: 'loaded by B' });
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(b.stats().fleetWaitTimeouts).toBe(1);
    held.release('loaded by A');
    await held.done;
    await expect(b.get('k')).resolves.toBe('loaded by A');
  });

  it('does not wait at all with wait: 0, nor with fleetSingleFlight off', async () => {
    const [a, b, c] = [await instance(), await instance(), await instance({ fleetSingleFlight: false })];
    const held = await holdLease(a, 'k');
    await expect(b.getOrSet('k', async () => 'B', { wait: 0 })).resolves.toBe('B');
    await expect(c.getOrSet('k', async () => 'C')).resolves.toBe('C');
    expect(b.stats().fleetWaits + b.stats().fleetWaitTimeouts + c.stats().fleetWaits + c.stats().fleetWaitTimeouts).toBe(0);
    held.release('A');
    await held.done;
  });

  it('is woken when the lease of a holder that died expires, long before the lease TTL it would otherwise wait', async () => {
    const b = await instance();
    const raw = rawRedis(testRedisUrl());
    try {
      // What a process that died mid-load leaves: its lease, expiring after its TTL.
      await raw.set(b.fullKey('k'), new EntryCodec(new MsgpackCodec(), 0).newLease(), 'PX', 300);
      const { ms, result } = await timed(() => b.getOrSet('k', async () => 'loaded by B'));
      expect(result).toEqual({ status: 'fulfilled', value: 'loaded by B' });
      expect(ms).toBeLessThan(3000);
      console.log(`fleet wait: a dead holder's 300 ms lease let the waiter load after ${ms.toFixed(0)} ms (lease TTL 5 s)`);
      await expect(b.get('k')).resolves.toBe('loaded by B');
    } finally {
      await closeRaw(raw);
    }
  });

  it('loads at once, without waiting, when its invalidation channel cannot be had (a Redis user without CLIENT TRACKING)', async () => {
    const a = await instance();
    const raw = rawRedis(testRedisUrl());
    const user = `no-tracking-${process.pid}-${testNumber}`;
    try {
      await raw.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all', '-client|tracking');
      const url = new URL(testRedisUrl());
      url.username = user;
      url.password = 'secret';
      const b = await instance({ url: url.toString() });
      expect(apps[1].moduleRef.get(CacheCoherence).coherence!.channel.isUp).toBe(false);
      const held = await holdLease(a, 'k');
      const { ms, result } = await timed(() => b.getOrSet('k', async () => 'loaded by B'));
      expect(result).toEqual({ status: 'fulfilled', value: 'loaded by B' });
      expect(ms).toBeLessThan(1000);
      expect(b.stats()).toMatchObject({ fleetWaits: 0, fleetWaitTimeouts: 0 });
      held.release('A');
      await held.done;
    } finally {
      await raw.call('ACL', 'DELUSER', user);
      await closeRaw(raw);
    }
  });

  it('refuses a wait that is not a number of seconds', async () => {
    const b = await instance();
    for (const wait of [-1, NaN, '1', null]) {
      await expect(b.getOrSet('k', async () => 1, { wait: wait as number })).rejects.toThrow(/wait/);
    }
  });
});
