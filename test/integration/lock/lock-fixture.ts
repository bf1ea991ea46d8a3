import Redis from 'ioredis';
import type { CacheModuleOptions } from '@elile/cache';
import { LockService } from '../../../libs/cache/src/lock/lock.service';
import type { LockBackend } from '../../../libs/cache/src/lock/lock-backend.interface';
import { lockNames } from '../../../libs/cache/src/lock/lock-names.util';
import { MemoryLockBackend } from '../../../libs/cache/src/lock/memory-lock.backend';
import { RedisLockBackend } from '../../../libs/cache/src/lock/redis-lock.backend';
import { resolveCacheOptions, type ResolvedCacheOptions } from '../../../libs/cache/src/options/resolve-options';
import { RedisClient } from '../../../libs/cache/src/redis/redis.client';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';

/** A LockService wired as CacheModule wires it, on its own key namespace. */
export interface LockFixture {
  readonly service: LockService;
  readonly backend: LockBackend;
  readonly options: ResolvedCacheOptions;
  /** Undefined for the memory backend. */
  readonly client?: RedisClient;
  /** Whether fixtures on one namespace share locks (like instances of an application). */
  readonly shared: boolean;
  /** Channels (Redis) or listener sets (memory) still subscribed to. */
  subscriptions(): number;
  /** Makes the store forget a lock, as Redis does when it restarts without persistence. */
  dropKey(key: string): Promise<void>;
  /** Shuts the service down as the application would, and deletes the namespace's keys. */
  close(): Promise<void>;
}

export type LockFixtureFactory = (options?: CacheModuleOptions) => Promise<LockFixture>;

const fixtures: LockFixture[] = [];

/** Closes every fixture made since the last call (use in afterEach/afterAll). */
export async function closeLockFixtures(): Promise<void> {
  await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
}

export const memoryLocks: LockFixtureFactory = async (options = {}) => {
  const resolved = resolveCacheOptions({ ...options, store: 'memory' });
  const backend = new MemoryLockBackend();
  const service = new LockService(resolved, backend);
  const fixture: LockFixture = {
    service,
    backend,
    options: resolved,
    shared: false,
    subscriptions: () => backend.size.channels,
    dropKey: async (key) => {
      backend['held'].delete(lockNames(resolved.namespace, resolved.locks.prefix, key).lock);
    },
    close: async () => {
      await service.beforeApplicationShutdown();
      await service.onApplicationShutdown();
    },
  };
  fixtures.push(fixture);
  return fixture;
};

/**
 * On the shared test Redis unless `options.redis.url` says otherwise. Fixtures made with the
 * same `namespace` share locks, like instances of one application.
 */
export const redisLocks: LockFixtureFactory = async (options = {}) => {
  const url = options.redis?.url ?? testRedisUrl();
  const namespace = options.namespace ?? uniqueNamespace('locks');
  // A short disconnect timeout: closing a client whose server is gone must not hold jest open.
  const ioredis = { disconnectTimeout: 100, ...options.redis?.ioredis };
  const resolved = resolveCacheOptions({ ...options, namespace, redis: { ...options.redis, url, ioredis } });
  const client = new RedisClient(resolved.redis);
  await client.onModuleInit();
  const backend = new RedisLockBackend(client);
  const service = new LockService(resolved, backend);
  const fixture: LockFixture = {
    service,
    backend,
    options: resolved,
    client,
    shared: true,
    subscriptions: () => backend.subscribedChannels,
    dropKey: async (key) => {
      await client.delete(lockNames(resolved.namespace, resolved.locks.prefix, key).lock);
    },
    close: async () => {
      await service.beforeApplicationShutdown();
      await service.onApplicationShutdown();
      await client.onApplicationShutdown();
      await deleteNamespace(url, namespace).catch(() => undefined);
    },
  };
  fixtures.push(fixture);
  return fixture;
};

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds `promise` takes to settle, and how it settled. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

/** Resolves with the signal's reason once it aborts (at once if it has). */
export function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/**
 * Watches the timers armed from now on: `pending()` counts those that have neither fired nor been
 * cleared. Call `stop()` to restore the real functions.
 */
export function watchTimers(): { pending(): number; stop(): void } {
  const live = new Set<unknown>();
  const realSet = global.setTimeout;
  const realClear = global.clearTimeout;
  const setSpy = jest.spyOn(global, 'setTimeout').mockImplementation(((
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const timer = realSet(
      (...inner: unknown[]) => {
        live.delete(timer);
        callback(...inner);
      },
      ms,
      ...args,
    );
    live.add(timer);
    return timer;
  }) as typeof setTimeout);
  const clearSpy = jest.spyOn(global, 'clearTimeout').mockImplementation((timer) => {
    live.delete(timer);
    realClear(timer);
  });
  return {
    pending: () => live.size,
    stop: () => {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    },
  };
}

/** Polls `check` until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}

const raws: Redis[] = [];

/** A plain ioredis client for inspecting or disturbing a server; closed by `closeRawClients`. */
export function rawClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, disconnectTimeout: 100 });
  client.on('error', () => undefined);
  raws.push(client);
  return client;
}

export async function closeRawClients(): Promise<void> {
  await Promise.all(
    raws.splice(0).map(async (client) => {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else if (client.status !== 'end') client.disconnect();
    }),
  );
}
