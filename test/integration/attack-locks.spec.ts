import type Redis from 'ioredis';
import { LockService } from '@elile/cache';
import { type RedisServerHandle, startLocalRedisServer } from '../support/redis-harness';
import { within } from '../support/settles-within';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, waitFor } from './cache-test-app';

/** Lock keys tampered with by another program, and a hung Redis under tryAcquire. */
let server: RedisServerHandle;
let app: CacheApp;
let locks: LockService;
let raw: Redis;

beforeAll(async () => {
  server = await startLocalRedisServer();
  app = await startCacheApp({ namespace: 'atkl:', redis: { url: server.url, commandTimeout: 0.3 } });
  locks = app.moduleRef.get(LockService);
  raw = rawRedis(server.url);
});

afterAll(async () => {
  await app?.close();
  await closeRaw(raw);
  await server?.stop();
});

it('a held lock whose key another program overwrote is lost at its next extension, and release leaves the key alone', async () => {
  const lock = await locks.acquire('overwritten', { ttl: 0.3, autoExtend: true });
  const name = 'atkl:lock:{overwritten}';
  await expect(raw.exists(name)).resolves.toBe(1);
  await raw.set(name, 'someone else', 'PX', 60_000);
  await waitFor('the loss', () => lock.signal.aborted, 2_000);
  expect(lock.isHeld).toBe(false);
  await lock.release().catch(() => false);
  await expect(raw.get(name)).resolves.toBe('someone else');
  await raw.del(name);
});

it('a lock key deleted by another program: the holder learns it at its next extension', async () => {
  const lock = await locks.acquire('deleted', { ttl: 0.3, autoExtend: true });
  await raw.del('atkl:lock:{deleted}');
  await waitFor('the loss', () => lock.signal.aborted, 2_000);
});

it('tryAcquire against a SIGSTOPped Redis settles within a few deadlines', async () => {
  await server.pause();
  try {
    const outcome = await within(
      locks.tryAcquire('hung').then(
        (lock) => lock,
        (error: unknown) => error,
      ),
      3_000,
    );
    expect(outcome).not.toBe('timed out');
    expect(outcome).toBeInstanceOf(Error);
  } finally {
    await server.resume();
  }
});
