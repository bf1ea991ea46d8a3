import type { CacheService } from '@elile/cache';
import { liveHeapBytes } from '../../support/heap';
import { testRedisUrl } from '../../support/test-redis';
import { closeRaw, rawRedis, waitFor } from '../cache-test-app';
import { useInstances } from './instances';
import { NEAR, readUntilKept } from './near-cache-conformance';

type Cache = CacheService<unknown>;

const instances = useInstances('near-attack-coherence', {});
const instance = async (maxEntries = 10_000): Promise<Cache> =>
  (await instances.start(undefined, { domains: { [NEAR]: { ttl: 60, l1: { maxEntries, ttl: 60 } } } })).registry.get(
    NEAR,
  );

/** B has heard of every write made so far: a sentinel written after them has been dropped on B. */
async function caughtUp(a: Cache, b: Cache): Promise<void> {
  await a.set('sentinel', 'v0');
  await readUntilKept(b, 'sentinel');
  await a.set('sentinel', 'v1');
  await waitFor('B to drop the sentinel', async () => (await b.get('sentinel')) === 'v1');
}

describe('Coherence races', () => {
  it("read-your-writes under overlapping reads: no read sent before this process's write keeps its older answer", async () => {
    const b = await instance();
    await b.set('k', 0);
    const stragglers: Array<Promise<unknown>> = [];
    for (let version = 1; version <= 200; version++) {
      for (let read = 0; read < 3; read++) stragglers.push(b.get('k'));
      if (version % 2 === 0) stragglers.push(b.getMany(['k', 'other']));
      await b.set('k', version);
      await expect(b.get('k')).resolves.toBe(version);
      await expect(b.getMany(['k'])).resolves.toEqual([version]);
    }
    await Promise.all(stragglers);
    await expect(b.get('k')).resolves.toBe(200);
  });

  it("another program's writes, deletes, EXPIRE and RENAME onto a kept key all reach B", async () => {
    const [a, b] = [await instance(), await instance()];
    const raw = rawRedis(testRedisUrl());
    try {
      await a.set('k', 'v1');
      await a.set('source', 'renamed in');
      await readUntilKept(b, 'k');
      await raw.rename(a.fullKey('source'), a.fullKey('k'));
      await caughtUp(a, b);
      await expect(b.get('k')).resolves.toBe('renamed in');
      await readUntilKept(b, 'k');
      await raw.pexpire(a.fullKey('k'), 1);
      await caughtUp(a, b);
      await expect(b.get('k')).resolves.toBeUndefined();
    } finally {
      await closeRaw(raw);
    }
  });

  it('setMany and fillAbsent on A drop the copies B kept', async () => {
    const [a, b] = [await instance(), await instance()];
    await a.setMany([
      { key: 'x', value: 'x1' },
      { key: 'y', value: 'y1' },
    ]);
    await readUntilKept(b, 'x');
    await readUntilKept(b, 'y');
    await a.setMany([{ key: 'x', value: 'x2' }]);
    await a.delete('y');
    await a.fillAbsent(['y'], async () => ['y2']);
    await caughtUp(a, b);
    await expect(b.getMany(['x', 'y'])).resolves.toEqual(['x2', 'y2']);
  });

  it('20,000 distinct keys read through a 500-entry L1: it stays at 500, and the heap does not keep the rest', async () => {
    const b = await instance(500);
    const read = async (from: number) => {
      const keys = Array.from({ length: 1000 }, (_, i) => `k${from + i}`);
      await b.setMany(keys.map((key) => ({ key, value: { key, pad: 'x'.repeat(200) } })));
      await b.getMany(keys);
      await b.getMany(keys);
    };
    await read(0);
    const before = await liveHeapBytes();
    for (let from = 1000; from < 20_000; from += 1000) await read(from);
    const grown = (await liveHeapBytes()) - before;
    const { l1Evictions } = b.stats();
    expect(l1Evictions).toBeGreaterThanOrEqual(19_000);
    console.log(
      `L1 of 500: heap grew ${(grown / 1024).toFixed(0)} KiB over 19,000 more keys, ${l1Evictions} evictions`,
    );
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);
});
