import type { CacheService } from '@elile/cache';
import { deferred } from '../../support/deferred';
import { sleep, waitFor } from '../cache-test-app';
import { useInstances } from './instances';

type Cache = CacheService<unknown>;

/** Refreshed in the last half of a 2 s TTL, with 0.5 s leases. */
const REFRESHED = 'refreshed';
const instances = useInstances('near-attack-refresh', {
  leaseTtl: 0.5,
  domains: { [REFRESHED]: { ttl: 2, l1: true, refreshAhead: 0.5 } },
});
const instance = async (): Promise<Cache> => (await instances.start()).registry.get(REFRESHED);

/** Fills `key` through getOrSet, then waits until it is in its refresh window (past 1 s of 2 s). */
async function filledAndInWindow(cache: Cache, key: string, value: unknown, tags?: string[]): Promise<void> {
  await cache.getOrSet(key, async () => value, { tags });
  await sleep(1100);
}

describe('Refresh-ahead under attack', () => {
  it('two instances hit the window at once: one loader run for the fleet', async () => {
    const [a, b] = [await instance(), await instance()];
    await filledAndInWindow(a, 'k', 'v1');
    const gate = deferred<string>();
    const loader = jest.fn(() => gate.promise);
    await Promise.all([
      a.getOrSet('k', loader),
      b.getOrSet('k', loader),
      a.getOrSet('k', loader),
      b.getOrSet('k', loader),
    ]);
    await waitFor('one refresh to start', () => loader.mock.calls.length === 1);
    await sleep(100);
    gate.resolve('v2');
    await waitFor('the refresh', () => a.stats().refreshes + b.stats().refreshes === 1);
    expect(loader).toHaveBeenCalledTimes(1);
    await waitFor('B to see the refreshed value', async () => (await b.get('k')) === 'v2');
  });

  it('a tag invalidated while the refresh loads: the refreshed value is refused', async () => {
    const a = await instance();
    await filledAndInWindow(a, 'k', 'v1', ['org:1']);
    const gate = deferred<string>();
    await a.getOrSet('k', () => gate.promise, { tags: ['org:1'] });
    await waitFor('the refresh to load', () => a.stats().loads === 2);
    await a.invalidateTags(['org:1']);
    gate.resolve('loaded before the invalidation');
    await waitFor('the refresh to end', () => a.stats().staleFillsDiscarded === 1);
    await expect(a.get('k')).resolves.toBeUndefined();
  });

  it('an entry deleted while the refresh loads stays deleted', async () => {
    const a = await instance();
    await filledAndInWindow(a, 'k', 'v1');
    const gate = deferred<string>();
    await a.getOrSet('k', () => gate.promise);
    await waitFor('the refresh to load', () => a.stats().loads === 2);
    await a.delete('k');
    gate.resolve('refreshed');
    await waitFor('the refresh to end', () => a.stats().staleFillsDiscarded === 1);
    await expect(a.get('k')).resolves.toBeUndefined();
  });

  it('a scoped entry is refreshed in its own scope, and no other scope sees the refreshed value', async () => {
    const a = await instance();
    await a.getOrSet('k', async () => 'acme v1', { scope: 'acme' });
    await a.getOrSet('k', async () => 'globex v1', { scope: 'globex' });
    await sleep(1100);
    await a.getOrSet('k', async () => 'acme v2', { scope: 'acme' });
    await waitFor('the refresh', () => a.stats().refreshes === 1);
    await expect(a.get('k', { scope: 'acme' })).resolves.toBe('acme v2');
    await expect(a.get('k', { scope: 'globex' })).resolves.toBe('globex v1');
    await expect(a.get('k')).resolves.toBeUndefined();
  });
});
