import { sleep, waitFor } from '../cache-test-app';
import { useInstances } from '../near/instances';
import { readUntilKept } from '../near/near-cache-conformance';

const sourceDown = () => Promise.reject(new Error('source down'));
const instances = useInstances('fail-safe-fleet', { domains: { graceful: { ttl: 0.3, grace: 2, l1: true } } });

describe('Fail-safe across instances and outages', () => {
  it("an instance whose reload failed gives the stale entry back, so another instance's failing reload is served it too", async () => {
    const [a, b] = [
      (await instances.start()).registry.get('graceful'),
      (await instances.start()).registry.get('graceful'),
    ];
    await a.set('k', 'stale but usable');
    await sleep(400);
    await expect(a.getOrSet('k', sourceDown)).resolves.toBe('stale but usable');
    await expect(b.getOrSet('k', sourceDown)).resolves.toBe('stale but usable');
    expect(a.stats().staleServed + b.stats().staleServed).toBe(2);
  });

  it('with Redis unreachable, a stale copy in the near cache is served when the loader fails — within the grace only', async () => {
    const { app, proxy } = await instances.behindProxy();
    const cache = app.registry.get('graceful');
    await cache.set('k', 'kept in process');
    await readUntilKept(cache, 'k');
    await sleep(400);
    proxy.blackHole();
    await expect(cache.getOrSet('k', sourceDown)).resolves.toBe('kept in process');
    expect(cache.stats().staleServed).toBe(1);
    // Past the 2 s grace the copy is gone: the loader's error is the caller's.
    await waitFor(
      'the grace to end',
      async () => {
        try {
          await cache.getOrSet('k', sourceDown);
          return false;
        } catch (error) {
          return (error as Error).message === 'source down';
        }
      },
      10_000,
    );
  }, 20_000);
});
