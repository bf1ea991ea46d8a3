import { CacheInvalidator, type CacheService, invalidationTags } from '@elile/cache';
import { testRedisUrl } from '../../support/test-redis';
import { closeRaw, rawRedis, sleep, waitFor } from '../cache-test-app';
import { channelOf, useInstances } from './instances';
import { NEAR, readUntilKept } from './near-cache-conformance';

type Cache = CacheService<unknown>;

const instances = useInstances('near-coherence', {
  domains: {
    [NEAR]: { ttl: 60, l1: true },
    subject: { ttl: 60, l1: true },
    screening: { ttl: 60, l1: true },
  },
});
const instance = () => instances.start();
const behindProxy = () => instances.behindProxy();

/** Resolves once `cache` has dropped at least one more kept entry than `before`. */
async function dropped(cache: Cache, before: number): Promise<void> {
  await waitFor('the invalidation to reach the other instance', () => cache.stats().l1Invalidations > before);
}

describe('Near caches of two instances on one Redis', () => {
  it('a write on A drops the copy B kept, and once that invalidation is delivered B never serves the old value', async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('rules', { version: 1 });
    await expect(readUntilKept(onB, 'rules')).resolves.toEqual({ version: 1 });

    for (let version = 2; version <= 20; version++) {
      const before = onB.stats().l1Invalidations;
      await onA.set('rules', { version });
      await dropped(onB, before);
      // Delivered: from here on, every read on B sees the write.
      for (let read = 0; read < 5; read++) await expect(onB.get('rules')).resolves.toEqual({ version });
    }
    expect(onB.stats().l1Hits).toBeGreaterThan(19);
  });

  it.each([
    ['delete', (cache: Cache) => cache.delete('k')],
    ['deleteMany', (cache: Cache) => cache.deleteMany(['k', 'other'])],
    ['invalidateTags', (cache: Cache) => cache.invalidateTags(['org:1'])],
    ['invalidatePattern', (cache: Cache) => cache.invalidatePattern('k*')],
    ['clear', (cache: Cache) => cache.clear()],
  ])('%s on A drops the copy on B', async (_name, invalidate) => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'v', { tags: ['org:1'] });
    await readUntilKept(onB, 'k');
    const before = onB.stats().l1Invalidations;
    await invalidate(onA);
    await dropped(onB, before);
    await expect(onB.get('k')).resolves.toBeUndefined();
  });

  it("A's read-through fill replaces what B had, and a write by another program drops it too", async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'first');
    await readUntilKept(onB, 'k');
    const raw = rawRedis(testRedisUrl());
    try {
      const before = onB.stats().l1Invalidations;
      await raw.del(onA.fullKey('k'));
      await dropped(onB, before);
      await expect(onA.getOrSet('k', async () => 'filled by A')).resolves.toBe('filled by A');
      await expect(readUntilKept(onB, 'k')).resolves.toBe('filled by A');

      const beforeFlush = onB.stats().l1Invalidations;
      await raw.flushdb();
      await dropped(onB, beforeFlush);
      await expect(onB.get('k')).resolves.toBeUndefined();
    } finally {
      await closeRaw(raw);
    }
  });

  it('a CacheInvalidator rule run on A drops the entries it removes from B', async () => {
    const [a, b] = [await instance(), await instance()];
    const subjectOnB = b.registry.get('subject');
    const screeningOnB = b.registry.get('screening');
    await a.registry.get('subject').set('7', { name: 'Ada' });
    await a.registry.get('screening').set('s-1', { status: 'clear' }, { tags: [invalidationTags.subject('7')] });
    await a.registry.get('screening').set('s-2', { status: 'clear' }, { tags: [invalidationTags.subject('8')] });
    for (const [cache, key] of [
      [subjectOnB, '7'],
      [screeningOnB, 's-1'],
      [screeningOnB, 's-2'],
    ] as const) {
      await readUntilKept(cache, key);
    }
    const before = screeningOnB.stats().l1Invalidations;
    await a.moduleRef.get(CacheInvalidator).invalidateSubject('7');
    await dropped(screeningOnB, before);
    await waitFor('the subject entry to be dropped on B', async () => (await subjectOnB.get('7')) === undefined);
    await expect(screeningOnB.get('s-1')).resolves.toBeUndefined();
    await expect(screeningOnB.get('s-2')).resolves.toEqual({ status: 'clear' });
  });
});

describe('When B loses its invalidation channel', () => {
  it('a cut connection clears B at once, and B serves no old value while it reconnects', async () => {
    const a = await instance();
    const { app: b, proxy } = await behindProxy();
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'old');
    await readUntilKept(onB, 'k');

    proxy.cutAll();
    await waitFor('B to notice', () => !channelOf(b).isUp);
    await onA.set('k', 'new');
    const seen = new Set<unknown>();
    const until = performance.now() + 1500;
    while (performance.now() < until) {
      seen.add(await onB.get('k'));
      await sleep(10);
    }
    expect(seen.has('old')).toBe(false);

    await waitFor('the channel to come back', () => channelOf(b).isUp, 10_000);
    await expect(readUntilKept(onB, 'k')).resolves.toBe('new');
  });

  it('a hung connection is noticed by the heartbeat: B stops serving its copy, and never serves it after', async () => {
    const a = await instance();
    const { app: b, proxy } = await behindProxy();
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'old');
    await readUntilKept(onB, 'k');

    proxy.blackHole();
    await onA.set('k', 'new');
    // B cannot hear of the write: until its heartbeat fails it may serve its copy, never after.
    let oldAfterDown = 0;
    let servedOld = 0;
    const until = performance.now() + 5000;
    while (performance.now() < until) {
      const wasDown = !channelOf(b).isUp;
      const value = await onB.get('k');
      if (value === 'old') {
        servedOld++;
        if (wasDown) oldAfterDown++;
      }
      if (wasDown) break;
      await sleep(20);
    }
    expect(channelOf(b).isUp).toBe(false);
    expect(oldAfterDown).toBe(0);
    console.log(`near cache, hung channel: B served its copy ${servedOld} times before the heartbeat failed`);

    proxy.release();
    await waitFor('the channel to come back', () => channelOf(b).isUp, 15_000);
    await expect(readUntilKept(onB, 'k')).resolves.toBe('new');
  }, 40_000);
});
