import { CacheCounters } from '@elile/cache/caches/cache-stats';
import { EVERY_KEY, type InvalidationChannel, type Invalidated } from '@elile/cache/near/invalidation-channel';
import { KeyWatches } from '@elile/cache/near/key-watches';
import { NearCache } from '@elile/cache/near/near-cache';

/** A channel whose deliveries the test makes, in the order a race would make them. */
class ScriptedChannel implements InvalidationChannel {
  isUp = true;
  private readonly listeners = new Set<(invalidated: Invalidated) => void>();
  listen(listener: (invalidated: Invalidated) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  deliver(invalidated: Invalidated): void {
    for (const listener of this.listeners) listener(invalidated);
  }
  async sync(): Promise<void> {}
  async start(): Promise<void> {}
  async close(): Promise<void> {}
}

function setup() {
  const channel = new ScriptedChannel();
  const watches = new KeyWatches(channel);
  const counters = new CacheCounters();
  const near = new NearCache<unknown>({ maxEntries: 10, ttlMs: 60_000 }, channel, counters, () => 'decoded');
  const bytes = Buffer.from('entry');
  return { channel, watches, counters, near, bytes };
}

describe('NearCache and KeyWatch: the invalidation wins over a read in flight', () => {
  it('does not keep an answer when its key was invalidated after the read was sent', () => {
    const { channel, watches, near, bytes } = setup();
    const watch = watches.watch('k')!;
    channel.deliver(['k']); // arrives before the (older) answer is handled
    expect(near.keep('k', { v: 'old' }, bytes, undefined, watch)).toEqual({ v: 'old' });
    watch.dispose();
    expect(near.get('k')).toBeUndefined();
  });

  it('keeps it when only other keys changed', () => {
    const { channel, watches, near, bytes } = setup();
    const watch = watches.watch('k')!;
    channel.deliver(['other', 'k2']);
    near.keep('k', { v: 1 }, bytes, undefined, watch);
    watch.dispose();
    expect(near.get('k')?.value).toEqual({ v: 1 });
  });

  it('drops a kept key on its invalidation, and everything on EVERY_KEY', () => {
    const { channel, watches, near, counters, bytes } = setup();
    for (const key of ['a', 'b', 'c']) {
      const watch = watches.watch(key)!;
      near.keep(key, key, bytes, undefined, watch);
      watch.dispose();
    }
    channel.deliver(['a']);
    expect(near.get('a')).toBeUndefined();
    expect(near.get('b')?.value).toBe('b');
    channel.deliver(EVERY_KEY);
    expect(near.size).toBe(0);
    expect(counters.l1Invalidations).toBe(3);
  });

  it('keeps nothing, and takes no watch, while the channel is down', () => {
    const { channel, watches, near, bytes } = setup();
    const before = watches.watch('k')!;
    channel.isUp = false;
    expect(watches.watch('k')).toBeUndefined();
    near.keep('k', 'v', bytes, undefined, before);
    expect(near.get('k')).toBeUndefined();
  });

  it('never keeps past the entry’s own expiry, nor an entry already expired', () => {
    const { watches, near, bytes } = setup();
    const expired = watches.watch('k')!;
    near.keep('k', 'v', bytes, { expiresAt: Date.now() - 1, ttlMs: 1000 }, expired);
    expect(near.get('k')).toBeUndefined();
  });

  it('wakes a waiter at once on a change, and reports false when the wait runs out', async () => {
    const { channel, watches } = setup();
    const woken = watches.watch('k')!;
    const waiting = woken.changedWithin(10_000);
    channel.deliver(['k']);
    await expect(waiting).resolves.toBe(true);
    const idle = watches.watch('k')!;
    await expect(idle.changedWithin(20)).resolves.toBe(false);
    woken.dispose();
    idle.dispose();
    expect(watches.size).toBe(0);
  });

  it('fires the watches of keys this process is about to write (touch)', () => {
    const { watches } = setup();
    const watch = watches.watch('k')!;
    watches.touch(['k']);
    expect(watch.changed).toBe(true);
  });
});
