import { CacheCoherence } from '@elile/cache/near/cache-coherence';
import { EVERY_KEY } from '@elile/cache/near/invalidation-channel';
import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, closeRaw, rawRedis, sleep, startCacheApp, waitFor } from '../cache-test-app';
import { NEAR, readUntilKept } from './near-cache-conformance';
import type Redis from 'ioredis';

// Server-wide commands (SWAPDB, CONFIG SET, ACL, DEBUG, restarts) run on a Redis of this file's own.
let server: RedisServerHandle;
let raw: Redis;
const fileNamespace = uniqueNamespace('near-attack-server');
let testNumber = 0;
let namespace: string;
const apps: CacheApp[] = [];

async function instance(url = server.url): Promise<CacheApp> {
  const app = await startCacheApp({ namespace, redis: { url }, domains: { [NEAR]: { ttl: 60, l1: true } } });
  apps.push(app);
  return app;
}

const channelOf = (app: CacheApp) => app.moduleRef.get(CacheCoherence).coherence!.channel;

beforeAll(async () => {
  server = await startLocalRedisServer();
  raw = rawRedis(server.url);
});

beforeEach(() => {
  testNumber += 1;
  namespace = `${fileNamespace}${testNumber}:`;
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await raw.config('SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60').catch(() => undefined);
  await raw.flushall();
});

afterAll(async () => {
  await closeRaw(raw);
  await server?.stop();
});

describe('Server-wide events', () => {
  it('a restart with an empty dataset: neither instance serves a value from before it', async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'before restart');
    await readUntilKept(onA, 'k');
    await readUntilKept(onB, 'k');
    await server.restart();
    await waitFor('the channels to come back', () => channelOf(a).isUp && channelOf(b).isUp, 15_000);
    await expect(onA.get('k')).resolves.toBeUndefined();
    await expect(onB.get('k')).resolves.toBeUndefined();
  });

  it('SCRIPT FLUSH and FLUSHALL ASYNC: tagged fills still land, and a flush clears every near copy', async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'v1', { tags: ['org:1'] });
    await readUntilKept(onB, 'k');
    await raw.script('FLUSH');
    await onA.invalidateTags(['org:1']);
    await waitFor('B to drop k', async () => (await onB.get('k')) === undefined);
    await expect(onA.getOrSet('k', async () => 'v2', { tags: ['org:1'] })).resolves.toBe('v2');
    await expect(readUntilKept(onB, 'k')).resolves.toBe('v2');
    await raw.flushall('ASYNC');
    await waitFor('B to drop k after the flush', async () => (await onB.get('k')) === undefined);
  });
});

describe('Channel failures on a Redis of its own', () => {
  it('the pub/sub output-buffer limit kills the tracking connection under a flood: no stale value after, L1 back after', async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'old');
    await readUntilKept(onB, 'k');
    const everyKey = { count: 0 };
    channelOf(b).listen((invalidated) => {
      if (invalidated === EVERY_KEY) everyKey.count++;
    });
    await raw.config('SET', 'client-output-buffer-limit', 'pubsub 1kb 1kb 0');
    // A flood of invalidations (B's channel is a pub/sub client), then the write B must hear of.
    const flood = raw.pipeline();
    for (let i = 0; i < 5000; i++) flood.set(`${onA.fullKey('flood')}:${i}:${'x'.repeat(50)}`, 'v');
    await flood.exec();
    await onA.set('k', 'new');
    await waitFor('B to lose and regain its channel', () => everyKey.count >= 2 && channelOf(b).isUp, 15_000);
    await raw.config('SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    await expect(onB.get('k')).resolves.toBe('new');
    await expect(readUntilKept(onB, 'k')).resolves.toBe('new');
  });

  it('an ACL user without client|tracking: the channel stays down, nothing is kept, and it does not reconnect in a loop', async () => {
    await raw.call('ACL', 'SETUSER', 'notrack', 'on', '>pw', '~*', '&*', '+@all', '-client|tracking');
    const url = `redis://notrack:pw@127.0.0.1:${server.port}`;
    const [a, b] = [await instance(), await instance(url)];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    expect(channelOf(b).isUp).toBe(false);
    await onA.set('k', 'old');
    await onB.get('k');
    await onB.get('k');
    expect(onB.stats().l1Hits).toBe(0);
    await onA.set('k', 'new');
    await expect(onB.get('k')).resolves.toBe('new');
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(await raw.info('stats'))![1]);
    const before = await connections();
    await sleep(1500);
    expect((await connections()) - before).toBeLessThanOrEqual(1);
    await raw.call('ACL', 'DELUSER', 'notrack');
  });

  it('an ACL user without PING (the heartbeat): the channel does not reconnect in a loop', async () => {
    await raw.call('ACL', 'SETUSER', 'noping', 'on', '>pw', '~*', '&*', '+@all', '-ping');
    const url = `redis://noping:pw@127.0.0.1:${server.port}`;
    const b = await instance(url);
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(await raw.info('stats'))![1]);
    const before = await connections();
    await sleep(2500);
    const reconnects = (await connections()) - before;
    await raw.call('ACL', 'DELUSER', 'noping');
    expect(channelOf(b).isUp).toBe(false);
    expect(reconnects).toBeLessThanOrEqual(1);
  });

  it('CLIENT KILL TYPE pubsub: B is cleared, serves no old value, and keeps values again once re-armed', async () => {
    const [a, b] = [await instance(), await instance()];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onA.set('k', 'old');
    await readUntilKept(onB, 'k');
    await raw.client('KILL', 'TYPE', 'pubsub');
    await onA.set('k', 'new');
    await waitFor('the channels to come back', () => channelOf(a).isUp && channelOf(b).isUp, 15_000);
    await expect(onB.get('k')).resolves.toBe('new');
    await expect(readUntilKept(onB, 'k')).resolves.toBe('new');
  });
});
