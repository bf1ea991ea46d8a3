import type { Cluster, Redis } from 'ioredis';
import { Histogram, type Registry } from 'prom-client';
import type { RedisConnection } from '../redis/redis-connection.factory';
import { onTimedCall } from './timed-channel';

/** ioredis 5.11+ publishes every command it writes here (`tracePromise`). */
const IOREDIS_COMMAND_CHANNEL = 'ioredis:command';
/** A GET answers in well under a millisecond; the deadlines end at 0.25-1 s. */
const COMMAND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** How often an unknown server address may make a cluster's node list be read again. */
const NODE_REFRESH_MS = 1_000;

/** The part of ioredis's command context this reads. */
interface CommandContext {
  readonly command: string;
  readonly database?: number;
  readonly serverAddress: string;
  readonly serverPort?: number;
}

/** What `registerRedisCommandMetrics` registered, and how to stop feeding it. */
export interface RedisCommandMetrics {
  readonly name: string;
  readonly unsubscribe: () => void;
}

/**
 * Registers `elile_cache_redis_command_duration_seconds`, fed by ioredis's `ioredis:command`
 * tracing channel. The channel's context names the server a command went to, not the client
 * that sent it, so commands are counted when they went to the module's Redis (its host, port and
 * database; a cluster's nodes): those of the module's connections, and of any other ioredis client
 * of the process talking to the same server. `connection` is undefined in memory store mode:
 * nothing is counted.
 */
export function registerRedisCommandMetrics(
  registry: Registry,
  connection: RedisConnection | undefined,
): RedisCommandMetrics {
  const name = 'elile_cache_redis_command_duration_seconds';
  const duration = new Histogram({
    name,
    help: "Redis commands sent to the cache's Redis by this process, from write to reply, by command and outcome (ok, error)",
    labelNames: ['command', 'outcome'],
    buckets: COMMAND_BUCKETS,
    registers: [registry],
  });
  if (!connection) return { name, unsubscribe: () => undefined };
  const isModuleServer = serverMatcher(connection);
  const unsubscribe = onTimedCall<CommandContext>(IOREDIS_COMMAND_CHANNEL, ({ context, seconds, failed }) => {
    if (isModuleServer(context))
      duration.observe({ command: context.command, outcome: failed ? 'error' : 'ok' }, seconds);
  });
  return { name, unsubscribe };
}

/** `host:port`, as ioredis's command context names a server (its own defaults included). */
function addressOf(options: Redis['options']): string {
  if (options.path) return options.path;
  return `${options.host || 'localhost'}:${options.port || 6379}`;
}

function serverMatcher(connection: RedisConnection): (context: CommandContext) => boolean {
  if (!('isCluster' in connection && connection.isCluster)) {
    const redis = connection as Redis;
    const address = addressOf(redis.options);
    const database = redis.options.db ?? 0;
    return (context) => contextAddress(context) === address && (context.database ?? 0) === database;
  }
  const cluster = connection as Cluster;
  // Nodes come and go with resharding and failover: an address not seen yet re-reads the list.
  let nodes = new Set<string>();
  let readAt = -Infinity;
  return (context) => {
    const address = contextAddress(context);
    if (!nodes.has(address) && performance.now() - readAt >= NODE_REFRESH_MS) {
      readAt = performance.now();
      nodes = new Set(cluster.nodes('all').map((node) => addressOf(node.options)));
    }
    return nodes.has(address);
  };
}

function contextAddress({ serverAddress, serverPort }: CommandContext): string {
  return serverPort === undefined ? serverAddress : `${serverAddress}:${serverPort}`;
}
