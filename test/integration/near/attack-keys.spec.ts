import type { CacheService } from '@elile/cache';
import { waitFor } from '../cache-test-app';
import { useInstances } from './instances';
import { NEAR, readUntilKept } from './near-cache-conformance';

type Cache = CacheService<unknown>;

const instances = useInstances('near-attack-keys', { domains: { [NEAR]: { ttl: 60, l1: true } } });
const instance = async (): Promise<Cache> => (await instances.start()).registry.get(NEAR);

/**
 * Waits until B has heard of every write A made so far: A writes a sentinel key B holds, and
 * invalidations reach B in the order Redis ran the writes.
 */
async function caughtUp(a: Cache, b: Cache): Promise<void> {
  await a.set('sentinel', 'v0');
  await readUntilKept(b, 'sentinel');
  await a.set('sentinel', 'v1');
  await waitFor('B to drop the sentinel', async () => (await b.get('sentinel')) === 'v1');
}

/** Once A's writes reached B, B reads `key` twice (a near cache that keeps it answers the second). */
async function readTwice(a: Cache, b: Cache, key: string): Promise<void> {
  await caughtUp(a, b);
  await expect(b.get(key)).resolves.toBe('v1');
  await expect(b.get(key)).resolves.toBe('v1');
}

// A JS string with a lone surrogate is sent to Redis as UTF-8, where the surrogate becomes U+FFFD;
// Redis names the key that way in its invalidations. A near cache keyed by the JS string would
// never hear of changes to that key (a JSON body can carry "\ud800" into a key function).
describe('Keys that are not well-formed UTF-16', () => {
  const KEY = 'org-\ud800-rules';

  it("a write on A reaches B's near copy", async () => {
    const [a, b] = [await instance(), await instance()];
    await a.set(KEY, 'v1');
    await readTwice(a, b, KEY);
    await a.set(KEY, 'v2');
    await caughtUp(a, b);
    await expect(b.get(KEY)).resolves.toBe('v2');
  });

  it("a tag invalidation on A reaches B's near copy", async () => {
    const [a, b] = [await instance(), await instance()];
    await a.set(KEY, 'v1', { tags: ['org:1'] });
    await readTwice(a, b, KEY);
    await a.invalidateTags(['org:1']);
    await caughtUp(a, b);
    await expect(b.get(KEY)).resolves.toBeUndefined();
  });

  it('two spellings of one Redis key are one near entry: a write under one is seen under the other', async () => {
    const [a, b] = [await instance(), await instance()];
    const other = 'org-\udc00-rules'; // another lone surrogate: the same Redis key
    await a.set(KEY, 'v1');
    await readTwice(a, b, other);
    await a.set(KEY, 'v2');
    await caughtUp(a, b);
    await expect(b.get(other)).resolves.toBe('v2');
  });

  it('a miss on such a key does not wait for a wake-up that cannot come: it loads while A still holds the lease', async () => {
    const [a, b] = [await instance(), await instance()];
    let release!: (value: string) => void;
    const held = a.getOrSet(KEY, () => new Promise<string>((resolve) => (release = resolve)));
    await waitFor('A to hold the lease', () => a.stats().loads === 1);
    await expect(b.getOrSet(KEY, async () => 'loaded by B', { wait: 5 })).resolves.toBe('loaded by B');
    expect(b.stats().fleetWaitTimeouts).toBe(0);
    release('loaded by A');
    await held;
  });
});

describe('Hostile keys and scopes in the near cache', () => {
  it('scoped keys that differ only past 200 characters stay apart on every instance, and a write to one drops only it', async () => {
    const [a, b] = [await instance(), await instance()];
    const long = 'x'.repeat(250);
    const [one, two] = [`${long}-1`, `${long}-2`];
    await a.set(one, 'acme 1', { scope: 'acme' });
    await a.set(two, 'acme 2', { scope: 'acme' });
    await a.set(one, 'globex 1', { scope: 'globex' });
    await caughtUp(a, b);
    for (const [key, scope, value] of [
      [one, 'acme', 'acme 1'],
      [two, 'acme', 'acme 2'],
      [one, 'globex', 'globex 1'],
    ] as const) {
      await expect(readUntilKept(b, key, { scope })).resolves.toBe(value);
    }
    await expect(b.get(one)).resolves.toBeUndefined();
    await a.set(one, 'acme 1 v2', { scope: 'acme' });
    await caughtUp(a, b);
    await expect(b.get(one, { scope: 'acme' })).resolves.toBe('acme 1 v2');
    const hits = b.stats().l1Hits;
    await expect(b.get(two, { scope: 'acme' })).resolves.toBe('acme 2');
    await expect(b.get(one, { scope: 'globex' })).resolves.toBe('globex 1');
    expect(b.stats().l1Hits).toBe(hits + 2);
  });

  it('a pattern invalidation with glob characters in an id removes only that id, here and on B', async () => {
    const [a, b] = [await instance(), await instance()];
    await a.set('org:*:rules', 'star org');
    await a.set('org:acme:rules', 'acme');
    await caughtUp(a, b);
    await readUntilKept(b, 'org:*:rules');
    await readUntilKept(b, 'org:acme:rules');
    await a.invalidatePattern('org:\\*:*');
    await caughtUp(a, b);
    await expect(b.get('org:*:rules')).resolves.toBeUndefined();
    const hits = b.stats().l1Hits;
    await expect(b.get('org:acme:rules')).resolves.toBe('acme');
    expect(b.stats().l1Hits).toBe(hits + 1);
  });

  it("an unscoped key spelled like a scoped entry is refused, so it cannot reach a tenant's near copy", async () => {
    const b = await instance();
    await b.set('k', 'acme secret', { scope: 'acme' });
    await readUntilKept(b, 'k', { scope: 'acme' });
    const scopedKey = b.fullKey('k', 'acme').slice(b.fullKey('x').length - 1);
    await expect(b.get(scopedKey)).rejects.toThrow();
    await expect(b.getMany([scopedKey])).rejects.toThrow();
  });
});
