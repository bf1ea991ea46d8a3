import { type RedisServerHandle, startLocalRedisServer } from '../../support/redis-harness';
import { uniqueNamespace } from '../../support/test-redis';
import { type CacheApp, closeRaw, rawRedis, startCacheApp, waitFor } from '../cache-test-app';
import { NEAR, readUntilKept } from './near-cache-conformance';

const servers: RedisServerHandle[] = [];
const apps: CacheApp[] = [];
const namespace = uniqueNamespace('near-attack-replica');

async function instance(url: string): Promise<CacheApp> {
  const app = await startCacheApp({ namespace, redis: { url }, domains: { [NEAR]: { ttl: 60, l1: true } } });
  apps.push(app);
  return app;
}

afterAll(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('An instance whose Redis becomes a replica (a failover demoted it)', () => {
  it("drops what it kept when the new master changes it, and serves the new master's data after the resync", async () => {
    const [primary, demoted] = [await startLocalRedisServer(), await startLocalRedisServer()];
    servers.push(primary, demoted);
    const [a, b] = [await instance(primary.url), await instance(demoted.url)];
    const [onA, onB] = [a.registry.get(NEAR), b.registry.get(NEAR)];
    await onB.set('k', 'only on the demoted server');
    await readUntilKept(onB, 'k');
    await onA.set('k', 'on the new master');

    const raw = rawRedis(demoted.url);
    try {
      await raw.replicaof('127.0.0.1', String(primary.port));
      await waitFor('the resync', async () => /master_link_status:up/.test(await raw.info('replication')), 10_000);
      await waitFor("B to serve the new master's value", async () => (await onB.get('k')) === 'on the new master');
      await readUntilKept(onB, 'k');
      await onA.set('k', 'written on the master after the resync');
      await waitFor(
        'the write to replicate',
        async () =>
          (await raw.get(onA.fullKey('k'))) !== null &&
          (await raw.getBuffer(onA.fullKey('k')))!.includes('after the resync'),
      );
      // Replicated writes are announced by the replica to its own tracking clients.
      await waitFor(
        'B to drop its copy',
        async () => (await onB.get('k')) === 'written on the master after the resync',
      );
    } finally {
      await raw.replicaof('NO', 'ONE').catch(() => undefined);
      await closeRaw(raw);
    }
  }, 40_000);
});
