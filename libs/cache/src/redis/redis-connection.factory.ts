import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { CacheConfigurationError } from '../cache.errors';
import { messages } from '../cache.messages';
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
  // Lowest to highest precedence: our defaults, the ioredis passthrough, the target, explicit
  // credentials, and last the options that keep callers from hanging.
  const layered = (target: RedisOptions): RedisOptions => ({
    keepAlive: 30_000,
    // RedisClient coalesces writes itself (see write-coalescer.ts); auto-pipelining would add a
    // setImmediate of latency to every command for less gain.
    enableAutoPipelining: false,
    // ioredis waits this long for a closing socket before destroying it, keeping the process alive.
    disconnectTimeout: 200,
    ...options.ioredis,
    ...target,
    ...definedOnly({ username: options.username, password: options.password, tls: options.tls }),
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    retryStrategy,
  });

  if (options.cluster) {
    return new Cluster(options.cluster.nodes, {
      // A cluster has one socket per node, which the write coalescer does not reach.
      enableAutoPipelining: true,
      ...options.cluster.options,
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      redisOptions: layered({}),
    });
  }
  if (options.sentinel) {
    return new Redis({ ...layered({}), ...options.sentinel, sentinelRetryStrategy: retryStrategy });
  }
  // Never the URL string itself: ioredis would read every query parameter as an option, above
  // the options object — `?enableOfflineQueue=true` or `?commandTimeout=` would undo the above.
  return new Redis(layered(urlTarget(parseRedisUrl(options.url))));
}

/** What a `redis://` URL may say besides host, port and database. */
const URL_PARAMETERS: ReadonlySet<string> = new Set(['db', 'username', 'password']);

/**
 * Host, port, database, credentials and TLS of a parsed `redis://` or `rediss://` URL, read as
 * ioredis reads them (user info before query parameters).
 * @throws CacheConfigurationError for any other query parameter, or a database that is not a
 *   whole number.
 */
function urlTarget(url: URL): RedisOptions {
  for (const name of url.searchParams.keys()) {
    if (!URL_PARAMETERS.has(name)) throw new CacheConfigurationError(messages.redisUrlParameter(name));
  }
  const query = url.searchParams;
  const db = url.pathname.length > 1 ? url.pathname.slice(1) : (query.get('db') ?? undefined);
  if (db !== undefined && !/^\d+$/.test(db)) throw new CacheConfigurationError(messages.redisUrlDatabase());
  // The path wins, as in ioredis: a different `?db=` would otherwise be dropped without a word.
  if (url.pathname.length > 1 && query.has('db') && query.getAll('db').some((other) => Number(other) !== Number(db))) {
    throw new CacheConfigurationError(messages.redisUrlTwoDatabases());
  }
  const credentials = url.username || url.password;
  return definedOnly({
    host: url.hostname.replace(/^\[|\]$/g, '') || undefined,
    port: url.port ? Number(url.port) : undefined,
    db: db === undefined ? undefined : Number(db),
    username: credentials ? decodeURIComponent(url.username) : (query.get('username') ?? undefined),
    password: credentials ? decodeURIComponent(url.password) : (query.get('password') ?? undefined),
    tls: url.protocol === 'rediss:' ? {} : undefined,
  });
}

function definedOnly<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}
