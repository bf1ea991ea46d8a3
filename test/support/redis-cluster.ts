import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { type RedisServerHandle, startLocalRedisServer } from './redis-harness';

const SLOTS = 16_384;

export interface LocalRedisCluster {
  /** The masters, in slot order (the first serves slot 0). */
  readonly nodes: readonly RedisServerHandle[];
  /** Seed addresses for `redis.cluster.nodes`. */
  readonly seeds: ReadonlyArray<{ host: string; port: number }>;
  /** Stops every node and removes their cluster files. */
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` masters without replicas, each a redis-server child of this
 * process (see startLocalRedisServer), the slots split evenly. Resolves once every node reports
 * `cluster_state:ok`.
 */
export async function startLocalRedisCluster(masters = 3, timeoutMs = 15_000): Promise<LocalRedisCluster> {
  // Absolute paths: a relative cluster-config-file would land in the test's working directory.
  const dir = mkdtempSync(join(tmpdir(), 'elile-cluster-'));
  const nodes = await Promise.all(
    Array.from({ length: masters }, (_, i) =>
      startLocalRedisServer({
        extraArgs: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${i}.conf`),
          '--cluster-node-timeout',
          '2000',
        ],
      }),
    ),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const clients = nodes.map((node) => new Redis(node.port, node.host, { maxRetriesPerRequest: 1, lazyConnect: true }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const perNode = Math.ceil(SLOTS / masters);
    await Promise.all(
      clients.map((client, i) =>
        client.call('CLUSTER', 'ADDSLOTSRANGE', String(i * perNode), String(Math.min(SLOTS, (i + 1) * perNode) - 1)),
      ),
    );
    await Promise.all(
      clients.slice(1).map((client) => client.call('CLUSTER', 'MEET', nodes[0].host, String(nodes[0].port))),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
      if (
        infos.every(
          (info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info),
        )
      )
        break;
      if (Date.now() > deadline)
        throw new Error(`the local Redis Cluster did not reach cluster_state:ok in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clients.forEach((client) => client.disconnect());
  }
  return { nodes, seeds: nodes.map(({ host, port }) => ({ host, port })), stop };
}
