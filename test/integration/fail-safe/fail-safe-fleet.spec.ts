import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, sleep, startCacheApp, waitFor } from '../cache-test-app';
import { readUntilKept } from '../near/near-cache-conformance';

const fileNamespace = uniqueNamespace('fail-safe-fleet');
let testNumber = 0;
let namespace: string;
const apps: CacheApp[] = [];
const proxies: TcpProxy[] = [];
const sourceDown = () => Promise.reject(new Error('source down'));

async function instance(url = testRedisUrl()): Promise<CacheApp> {
  const app = await startCacheApp({
    namespace,
    redis: { url },
    domains: { graceful: { ttl: 0.3, grace: 2, l1: true } },
  });
  apps.push(app);
  return app;
}

beforeEach(() => {
  testNumber += 1;
  namespace = `${fileNamespace}${testNumber}:`;
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

afterAll(async () => {
  await deleteNamespace(testRedisUrl(), fileNamespace);
});

describe('Fail-safe across instances and outages', () => {
  it("an instance whose reload failed gives the stale entry back, so another instance's failing reload is served it too", async () => {
    const [a, b] = [(await instance()).registry.get('graceful'), (await instance()).registry.get('graceful')];
    await a.set('k', 'stale but usable');
    await sleep(400);
    await expect(a.getOrSet('k', sourceDown)).resolves.toBe('stale but usable');
    await expect(b.getOrSet('k', sourceDown)).resolves.toBe('stale but usable');
    expect(a.stats().staleServed + b.stats().staleServed).toBe(2);
  });

  it('with Redis unreachable, a stale copy in the near cache is served when the loader fails — within the grace only', async () => {
    const port = Number(new URL(testRedisUrl()).port);
    const proxy = await startTcpProxy(port);
    proxies.push(proxy);
    const cache = (await instance(`redis://127.0.0.1:${proxy.port}`)).registry.get('graceful');
    await cache.set('k', 'kept in process');
    await readUntilKept(cache, 'k');
    await sleep(400);
    proxy.blackHole();
    await expect(cache.getOrSet('k', sourceDown)).resolves.toBe('kept in process');
    expect(cache.stats().staleServed).toBe(1);
    // Past the 2 s grace the copy is gone: the loader's error is the caller's.
    await waitFor('the grace to end', async () => {
      try {
        await cache.getOrSet('k', sourceDown);
        return false;
      } catch (error) {
        return (error as Error).message === 'source down';
      }
    }, 10_000);
  }, 20_000);
});
