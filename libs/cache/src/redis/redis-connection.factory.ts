import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { ResolvedRedisOptions } from '../options/resolve-options';
import { parseRedisUrl } from './connection-secrets';

export type RedisConnection = Redis | Cluster;

/**
 * Capped exponential back-off with "equal jitter": instances that lost Redis together do not
 * reconnect in lockstep, and the delay never exceeds the cap (M21: the cap bounds recovery time).
 */
export function reconnectDelay(attempt: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, 50 * 2 ** Math.min(attempt - 1, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * Builds the ioredis connection (not yet connected). The options that keep callers from hanging
 * override anything passed through `ioredis`:
 * - no offline queue: while disconnected a command fails at once instead of queuing without bound
 *   and landing minutes later;
 * - `commandTimeout`: the only bound on a command sent to a hung server;
 * - no automatic resend: a command whose reply was lost is not executed a second time after a
 *   reconnect (a write the caller saw time out must not land later).
 */
export function createRedisConnection(options: ResolvedRedisOptions): RedisConnection {
  const retryStrategy = (attempt: number) => reconnectDelay(attempt, options.maxReconnectDelayMs);
  const connectionOptions: RedisOptions = {
    keepAlive: 30_000,
    // RedisClient coalesces writes itself (see write-coalescer.ts); auto-pipelining would add a
    // setImmediate of latency to every command for less gain.
    enableAutoPipelining: false,
    // ioredis waits this long for a closing socket before destroying it, keeping the process alive.
    disconnectTimeout: 200,
    ...options.ioredis,
    ...definedOnly({ username: options.username, password: options.password, tls: options.tls }),
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    retryStrategy,
  };

  if (options.cluster) {
    return new Cluster(options.cluster.nodes, {
      // A cluster has one socket per node, which the write coalescer does not reach.
      enableAutoPipelining: true,
      ...options.cluster.options,
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      redisOptions: connectionOptions,
    });
  }
  if (options.sentinel) {
    return new Redis({ ...connectionOptions, ...options.sentinel, sentinelRetryStrategy: retryStrategy });
  }
  // ioredis lets URL credentials win over explicit options; explicit ones must win.
  const url = parseRedisUrl(options.url);
  if (options.username !== undefined) url.username = '';
  if (options.password !== undefined) url.password = '';
  return new Redis(url.toString(), connectionOptions);
}

function definedOnly<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}
