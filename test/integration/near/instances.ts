import type { CacheModuleOptions } from '@elile/cache';
import { CacheCoherence } from '@elile/cache/near/cache-coherence';
import type { InvalidationChannel } from '@elile/cache/near/invalidation-channel';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, startCacheApp } from '../cache-test-app';

/** Application instances of one test, sharing its namespace, closed after it. */
export interface Instances {
  /** A new instance on the test's namespace; `url` lets it reach Redis through a proxy. */
  start(url?: string, overrides?: Partial<CacheModuleOptions>): Promise<CacheApp>;
  /** A new instance whose connections (data and invalidation channel) go through a proxy. */
  behindProxy(overrides?: Partial<CacheModuleOptions>): Promise<{ app: CacheApp; proxy: TcpProxy }>;
  /** Closes the test's instances and proxies now (before a server of the test's own stops). */
  close(): Promise<void>;
  /** The test's namespace. */
  readonly namespace: string;
}

/**
 * Registers the hooks of a spec whose tests boot several instances on one Redis: a namespace per
 * test below the file's, every instance and proxy closed after each test, the keys deleted after
 * the file.
 */
export function useInstances(label: string, options: Omit<CacheModuleOptions, 'namespace'>): Instances {
  const fileNamespace = uniqueNamespace(label);
  const apps: CacheApp[] = [];
  const proxies: TcpProxy[] = [];
  let testNumber = 0;
  let namespace = '';

  beforeEach(() => {
    testNumber += 1;
    namespace = `${fileNamespace}${testNumber}:`;
  });

  const close = async (): Promise<void> => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  };

  afterEach(close);

  afterAll(async () => {
    await deleteNamespace(testRedisUrl(), fileNamespace);
  });

  const start = async (url = testRedisUrl(), overrides: Partial<CacheModuleOptions> = {}): Promise<CacheApp> => {
    const app = await startCacheApp({
      ...options,
      ...overrides,
      namespace,
      redis: { ...options.redis, ...overrides.redis, url },
    });
    apps.push(app);
    return app;
  };
  return {
    start,
    close,
    async behindProxy(overrides) {
      const proxy = await startTcpProxy(Number(new URL(testRedisUrl()).port));
      proxies.push(proxy);
      return { app: await start(`redis://127.0.0.1:${proxy.port}`, overrides), proxy };
    },
    get namespace() {
      return namespace;
    },
  };
}

/** The invalidation channel of an instance. */
export const channelOf = (app: CacheApp): InvalidationChannel => app.moduleRef.get(CacheCoherence).coherence!.channel;
