import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { type CacheLoadContext, type CacheOperationContext, TRACING_CHANNELS } from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, startCacheApp } from '../cache-test-app';

const namespace = uniqueNamespace('tracing');
let app: CacheApp;

beforeAll(async () => {
  app = await startCacheApp({ namespace, redis: { url: testRedisUrl() } });
});

afterAll(async () => {
  await app.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

/** Records the events of one tracing channel while `work` runs. */
async function recording<C extends object>(name: string, work: () => Promise<unknown>) {
  const events: Array<{ event: string; context: C; error?: unknown }> = [];
  const channel = tracingChannel<unknown, C>(name);
  const handlers = {
    start: (context: C) => events.push({ event: 'start', context }),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: (context: C) => events.push({ event: 'asyncEnd', context }),
    error: (context: C & { error?: unknown }) => events.push({ event: 'error', context, error: context.error }),
  };
  channel.subscribe(handlers);
  try {
    await work();
  } finally {
    channel.unsubscribe(handlers);
  }
  return events;
}

describe('diagnostics_channel tracing', () => {
  it('publishes each CacheService operation with its domain and key, start to end', async () => {
    const cache = app.main;
    const events = await recording<CacheOperationContext>(TRACING_CHANNELS.operation, async () => {
      await cache.set('k', 1);
      await cache.get('k');
      await cache.getMany(['k', 'other']);
      await cache.invalidateTags(['t1', 't2']);
    });
    const started = events.filter(({ event }) => event === 'start').map(({ context }) => context);
    expect(started).toEqual([
      expect.objectContaining({ domain: cache.name, operation: 'set', key: 'k' }),
      expect.objectContaining({ domain: cache.name, operation: 'get', key: 'k' }),
      expect.objectContaining({ domain: cache.name, operation: 'getMany', count: 2 }),
      expect.objectContaining({ domain: cache.name, operation: 'invalidateTags', count: 2 }),
    ]);
    expect(events.filter(({ event }) => event === 'asyncEnd')).toHaveLength(4);
  });

  it('publishes each loader run, and its error, on the load channel', async () => {
    const cache = app.main;
    const events = await recording<CacheLoadContext>(TRACING_CHANNELS.load, async () => {
      await cache.getOrSet('loaded', async () => 'v');
      await cache.getOrSet('loaded', async () => 'not run: a hit');
      await cache.getOrSet('failing', async () => Promise.reject(new Error('source down'))).catch(() => undefined);
    });
    const starts = events.filter(({ event }) => event === 'start').map(({ context }) => context);
    expect(starts).toEqual([
      expect.objectContaining({ domain: cache.name, redisKey: cache.fullKey('loaded'), reason: 'miss' }),
      expect.objectContaining({ domain: cache.name, redisKey: cache.fullKey('failing'), reason: 'miss' }),
    ]);
    const errors = events.filter(({ event }) => event === 'error');
    expect(errors).toHaveLength(1);
    expect((errors[0].error as Error).message).toBe('source down');
  });

  it('costs nothing and changes nothing without a subscriber', async () => {
    const seen: unknown[] = [];
    const listener = (message: unknown) => seen.push(message);
    // A plain subscriber of an unrelated sub-channel name must not receive tracing events.
    subscribe(`${TRACING_CHANNELS.operation}:other`, listener);
    try {
      await app.main.set('quiet', 1);
      await expect(app.main.get('quiet')).resolves.toBe(1);
    } finally {
      unsubscribe(`${TRACING_CHANNELS.operation}:other`, listener);
    }
    expect(seen).toEqual([]);
    expect(tracingChannel(TRACING_CHANNELS.operation).hasSubscribers).toBe(false);
  });
});
