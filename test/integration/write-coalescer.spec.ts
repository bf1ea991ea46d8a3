import type { Redis } from 'ioredis';
import type { Socket } from 'node:net';
import type { CacheService } from '@elile/cache';
import { deleteNamespace, testRedisUrl, uniqueNamespace } from '../support/test-redis';
import { type CacheApp, startCacheApp } from './cache-test-app';

const namespace = uniqueNamespace('coalesce');
let app: CacheApp;
let cache: CacheService<unknown>;
let socket: Socket;

beforeAll(async () => {
  app = await startCacheApp({ store: 'redis', namespace, redis: { url: testRedisUrl() } });
  cache = app.registry.get('screening');
  socket = (app.redis.connection as Redis).stream as Socket;
});

afterAll(async () => {
  await app?.close();
  await deleteNamespace(testRedisUrl(), namespace);
});

/** Counts the writes that reach the real socket (each one a system call), whatever their size. */
async function socketWritesDuring(work: () => Promise<unknown>): Promise<number> {
  const counted = socket as unknown as { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
  const { _write, _writev } = counted;
  let writes = 0;
  counted._write = function (...args: unknown[]) {
    writes++;
    return _write.apply(this, args);
  };
  counted._writev = function (...args: unknown[]) {
    writes++;
    return _writev.apply(this, args);
  };
  try {
    await work();
  } finally {
    counted._write = _write;
    counted._writev = _writev;
  }
  return writes;
}

describe('write coalescing', () => {
  it('sends the commands issued in one turn of the event loop in a single socket write', async () => {
    await cache.set('a', { n: 1 });
    const writes = await socketWritesDuring(() => Promise.all(Array.from({ length: 100 }, () => cache.get('a'))));
    expect(writes).toBe(1);
  });

  it('answers every coalesced command, in order', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, i)));
    const values = await Promise.all(Array.from({ length: 50 }, (_, i) => cache.get(`k${i}`)));
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('does not hold back a command issued in a later turn', async () => {
    const writes = await socketWritesDuring(async () => {
      for (let i = 0; i < 5; i++) await cache.get('a');
    });
    // One write per turn: nothing waits for a batch that is never completed.
    expect(writes).toBe(5);
  });
});
