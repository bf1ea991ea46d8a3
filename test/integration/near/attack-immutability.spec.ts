import type { CacheService } from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, startCacheApp } from '../cache-test-app';
import { NEAR, readUntilKept } from './near-cache-conformance';

type Cache = CacheService<unknown>;

const fileNamespace = uniqueNamespace('near-attack-immutable');
let testNumber = 0;
const apps: CacheApp[] = [];
let near: Cache;

beforeEach(async () => {
  testNumber += 1;
  const app = await startCacheApp({
    namespace: `${fileNamespace}${testNumber}:`,
    redis: { url: testRedisUrl() },
    domains: { [NEAR]: { ttl: 60, l1: true } },
  });
  apps.push(app);
  near = app.registry.get(NEAR);
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), fileNamespace);
});

describe('What a near-cached domain freezes, and what it must not', () => {
  it('never freezes the value a caller passed to set, nor what the loader returned, however often it is read', async () => {
    const written = { list: [1], at: new Date(0), seen: new Map([['a', 1]]) };
    await near.set('w', written);
    await readUntilKept(near, 'w');
    await near.get('w');
    written.list.push(2);
    written.at.setTime(5);
    written.seen.set('b', 2);
    expect(Object.isFrozen(written)).toBe(false);

    const loaded = { list: [1], seen: new Set(['x']) };
    const first = await near.getOrSet('l', async () => loaded);
    expect(first).toBe(loaded);
    await readUntilKept(near, 'l');
    loaded.list.push(2);
    loaded.seen.add('y');
    await expect(near.get('l')).resolves.toEqual({ list: [1], seen: new Set(['x']) });
  });

  it('getMany answers from L1 with the same immutable values as get', async () => {
    await near.set('a', { n: 1, at: new Date(0) });
    await readUntilKept(near, 'a');
    const [hit] = (await near.getMany(['a'])) as Array<{ n: number; at: Date }>;
    expect(() => {
      hit.n = 2;
    }).toThrow(TypeError);
    expect(() => hit.at.setTime(1)).toThrow(TypeError);
    await expect(near.get('a')).resolves.toEqual({ n: 1, at: new Date(0) });
  });

  it('getMany of the same key twice, then get: one kept value, unchanged', async () => {
    await near.set('a', { n: 1 });
    const values = (await near.getMany(['a', 'a'])) as Array<{ n: number }>;
    for (const value of values) {
      try {
        value.n = 2;
      } catch {
        // frozen when kept
      }
    }
    await expect(readUntilKept(near, 'a')).resolves.toEqual({ n: 1 });
  });
});
