import type { CacheService } from '@elile/cache';
import { EntryCodec } from '@elile/cache/codec/entry-codec';
import { MsgpackCodec } from '@elile/cache/codec/msgpack.codec';
import { deferred } from '../../support/deferred';
import { testRedisUrl } from '../../support/test-redis';
import { closeRaw, rawRedis, timed, waitFor } from '../cache-test-app';
import { channelOf, useInstances } from './instances';

type Cache = CacheService<unknown>;

const instances = useInstances('fleet-wait', { leaseTtl: 5 });

async function instance(options: { url?: string; fleetSingleFlight?: boolean } = {}): Promise<Cache> {
  return (await instances.start(options.url, { fleetSingleFlight: options.fleetSingleFlight })).main;
}

/** A's loader runs until the test releases it; B's call is made once A holds the lease. */
async function holdLease(
  a: Cache,
  key: string,
): Promise<{ release(value: unknown): void; fail(error: Error): void; done: Promise<unknown> }> {
  const gate = deferred<unknown>();
  const done = a.getOrSet(key, () => gate.promise).catch((error: unknown) => error);
  await waitFor('A to hold the lease', () => a.stats().loads === 1);
  return { release: (value) => gate.resolve(value), fail: (error) => gate.reject(error), done };
}

describe('A miss on a key another instance is loading', () => {
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
    expect(b.stats().fleetWaitTimeouts).toBe(1);
    console.log(`wait 0.2 s ran out after ${ms.toFixed(0)} ms`);
    held.release('loaded by A');
    await held.done;
    await expect(b.get('k')).resolves.toBe('loaded by A');
  });

  it('does not wait at all with wait: 0, nor with fleetSingleFlight off', async () => {
    const [a, b, c] = [await instance(), await instance(), await instance({ fleetSingleFlight: false })];
    const held = await holdLease(a, 'k');
    await expect(b.getOrSet('k', async () => 'B', { wait: 0 })).resolves.toBe('B');
    await expect(c.getOrSet('k', async () => 'C')).resolves.toBe('C');
    expect(
      b.stats().fleetWaits + b.stats().fleetWaitTimeouts + c.stats().fleetWaits + c.stats().fleetWaitTimeouts,
    ).toBe(0);
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
      // Woken by the lease's expiry, not by the end of its wait.
      expect(b.stats()).toMatchObject({ fleetWaitTimeouts: 0, loads: 1 });
      console.log(
        `fleet wait: a dead holder's 300 ms lease let the waiter load after ${ms.toFixed(0)} ms (lease TTL 5 s)`,
      );
      await expect(b.get('k')).resolves.toBe('loaded by B');
    } finally {
      await closeRaw(raw);
    }
  });

  it('loads at once, without waiting, when its invalidation channel cannot be had (a Redis user without CLIENT TRACKING)', async () => {
    const a = await instance();
    const raw = rawRedis(testRedisUrl());
    const user = `no-tracking-${process.pid}-${instances.namespace.length}`;
    try {
      await raw.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all', '-client|tracking');
      const url = new URL(testRedisUrl());
      url.username = user;
      url.password = 'secret';
      const bApp = await instances.start(url.toString());
      const b = bApp.main;
      expect(channelOf(bApp).isUp).toBe(false);
      const held = await holdLease(a, 'k');
      const { ms, result } = await timed(() => b.getOrSet('k', async () => 'loaded by B'));
      expect(result).toEqual({ status: 'fulfilled', value: 'loaded by B' });
      expect(b.stats()).toMatchObject({ fleetWaits: 0, fleetWaitTimeouts: 0 });
      console.log(`no channel: the miss loaded after ${ms.toFixed(0)} ms, without waiting for A's lease`);
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

describe('A lease this process could not fill', () => {
  it('is taken over by its next miss instead of being waited for', async () => {
    const { app: bApp, proxy } = await instances.behindProxy();
    const b = bApp.main;
    const gate = deferred<string>();
    const loading = b.getOrSet('k', () => gate.promise);
    await waitFor('the load to start', () => b.stats().loads === 1);
    // The fill fails: Redis is out of reach when the loader returns.
    proxy.cutAll();
    proxy.blackHole();
    gate.resolve('first');
    await expect(loading).resolves.toBe('first');
    proxy.release();
    await waitFor('the channel to come back', () => channelOf(bApp).isUp, 15_000);
    await waitFor('the data connection to come back', () => bApp.redis.isReady, 15_000);
    const { ms, result } = await timed(() => b.getOrSet('k', async () => 'second'));
    expect(result).toEqual({ status: 'fulfilled', value: 'second' });
    // Waited for, the orphan would have run the wait out (a timeout) before loading.
    expect(b.stats().fleetWaitTimeouts).toBe(0);
    expect(b.stats().fleetWaits).toBe(0);
    console.log(`orphaned lease taken over: the next miss loaded after ${ms.toFixed(0)} ms (lease TTL 5 s)`);
    await expect(b.get('k')).resolves.toBe('second');
  }, 40_000);
});
