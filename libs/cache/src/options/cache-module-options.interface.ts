import type { ClusterNode, ClusterOptions, RedisOptions, SentinelAddress } from 'ioredis';
import type { CacheCodec } from '../codec/codec.interface';
import type { Duration } from './duration.util';

/** Where cache entries live. */
export type CacheStoreKind = 'redis' | 'memory';

/** Settings of one cache domain (`screening`, `subject`, …). */
export interface CacheDomainOptions {
  /** Default time to live of an entry, in seconds (fractions allowed). */
  ttl: Duration;
  /**
   * Key prefix of the domain, placed after the module's `namespace`.
   * @default `${domainName}:`
   */
  prefix?: string;
  /**
   * For cached controller responses: the user or tenant a request belongs to, made part of the
   * key. Requests carrying credentials are cached only when this or the decorator's `scope`
   * returns a value.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Express, Fastify or any request
  scope?: (request: any) => string | undefined;
  /**
   * A near cache of this domain in each instance's memory, in front of Redis: `true` for the
   * defaults, or its settings. Hits cost no round trip and no decode. Kept coherent across
   * instances by Redis client-side tracking; bypassed while that channel is down. Values read
   * from an L1 domain are deeply frozen (see the README's "Near cache").
   * @default false
   */
  l1?: boolean | NearCacheOptions;
  /**
   * Refresh-ahead: a `getOrSet` (or `@Cacheable`) hit in the last `1 - refreshAhead` of its
   * entry's TTL is served at once and refreshed in the background by one instance of the fleet,
   * so hot keys do not expire under load. A fraction above 0 and below 1 (0.8: the last 20%).
   */
  refreshAhead?: number;
  /**
   * Fail-safe: seconds entries are kept past their TTL. A kept (stale) entry is never a hit, but
   * when a `getOrSet` loader fails or outlasts `softTimeout`, or Redis cannot be read and the
   * near cache holds one, the stale value is served (counted in `staleServed`) instead of the
   * error or the wait. Never served past the grace.
   */
  grace?: Duration;
  /**
   * Fail-safe: seconds a loader is waited for while a stale value is at hand; past it the stale
   * value is served and the load goes on in the background. Needs `grace`. Default: no soft
   * timeout (a stale value is served only when the loader fails).
   */
  softTimeout?: Duration;
}

/** Settings of a domain's near cache. Durations in seconds. */
export interface NearCacheOptions {
  /**
   * Most entries kept per instance; the least recently used are evicted first.
   * @default 10000
   */
  maxEntries?: number;
  /**
   * Longest an entry is kept (never longer than its own TTL in Redis).
   * @default 60
   */
  ttl?: Duration;
}

/** How the module reaches Redis. All durations are in seconds. */
export interface RedisConnectionOptions {
  /**
   * `redis://[user:password@]host:port/db` or `rediss://` for TLS.
   * @default 'redis://localhost:6379/0'
   */
  url?: string;
  /** ACL user name; overrides the one in `url`. */
  username?: string;
  /** Password; overrides the one in `url`. Never logged. */
  password?: string;
  /**
   * Deadline of every command that `readTimeout` and `writeTimeout` do not cover (SCAN, CONFIG,
   * commands sent on `RedisClient.connection` directly, the connection's ready check), and, when
   * given, the default of both. A command that passes it rejects with `CacheTimeoutError`.
   * @default 1
   */
  commandTimeout?: Duration;
  /**
   * Deadline of a cache read (GET, MGET, the `exists` peek, the breaker's probe). A read that
   * passes it rejects with `CacheTimeoutError`, and the cache serves the loader. At most 60.
   * @default `commandTimeout` when that is given, else 0.25
   */
  readTimeout?: Duration;
  /**
   * Deadline of a cache write (SET, the lease and fill scripts, UNLINK, lock scripts). A write
   * that passes it rejects with `CacheTimeoutError`; its outcome is unknown. At most 60.
   * @default `commandTimeout` when that is given, else 0.5
   */
  writeTimeout?: Duration;
  /**
   * The connection's circuit breaker: after `threshold` commands in a row failed or timed out,
   * commands are not sent for `halfOpenAfter` seconds (reads go to their loader, writes are
   * skipped, locks refuse), then one probe (PING) decides whether it closes.
   */
  breaker?: RedisBreakerOptions;
  /**
   * Deadline of establishing a connection (TCP, TLS, AUTH, ready check).
   * @default 5
   */
  connectTimeout?: Duration;
  /**
   * The sketch's pool size. ioredis multiplexes every command over one connection, so there is
   * no pool to size; the value is validated and a non-default value is reported at boot.
   * @default 50
   */
  maxConnections?: number;
  /**
   * Upper bound of the reconnect back-off; each delay is jittered.
   * @default 2
   */
  maxReconnectDelay?: Duration;
  /**
   * Most commands the connection may have outstanding at once. A call that would exceed it does
   * not reach Redis: it goes to its loader, as when Redis is down, and is counted, so a slow or
   * stalled server cannot pile up unbounded memory in this process.
   * @default 5000
   */
  maxInFlight?: number;
  /** TLS options for the socket (CA, client certificate, servername). `rediss://` enables TLS. */
  tls?: RedisOptions['tls'];
  /** Connect through Sentinel instead of `url`'s host: the master group `name` and sentinels. */
  sentinel?: { name: string; sentinels: Array<Partial<SentinelAddress>>; sentinelPassword?: string };
  /** Connect to a Redis Cluster through these seed nodes instead of `url`. */
  cluster?: { nodes: ClusterNode[]; options?: Omit<ClusterOptions, 'redisOptions'> };
  /**
   * Further ioredis options, passed through. The options that keep callers from hanging
   * (`enableOfflineQueue`, `commandTimeout`, `autoResendUnfulfilledCommands`, `retryStrategy`)
   * are always the module's own.
   */
  ioredis?: RedisOptions;
}

/** The circuit breaker of the Redis connection (`redis.breaker`). Durations are in seconds. */
export interface RedisBreakerOptions {
  /**
   * `false` sends every command whatever happened before (each then waits for its deadline
   * while Redis hangs).
   * @default true
   */
  enabled?: boolean;
  /**
   * Commands in a row that must fail (not sent, or past their deadline) to open the breaker; a
   * successful reply resets the count, and an error reply (Redis answered) counts neither way.
   * A whole number >= 1.
   * @default 5
   */
  threshold?: number;
  /**
   * How long the breaker stays open before a probe (PING, within `readTimeout`) is sent; a
   * failed probe keeps it open this long again. From 0.01 to 600.
   * @default 1
   */
  halfOpenAfter?: Duration;
}

/** Distributed locks (`LockService`). All durations are in seconds. */
export interface CacheLockOptions {
  /**
   * Prefix of lock keys, after `namespace` (the sketch's `cache_prefix_lock`). It must not overlap
   * a domain prefix, or invalidating that domain by pattern could delete held locks.
   * @default 'lock:'
   */
  prefix?: string;
  /**
   * TTL of a lock when the call gives none (at least 0.01).
   * @default 30
   */
  defaultTtl?: Duration;
  /**
   * How long `acquire` and `using` wait for a held lock when the call gives no `wait`; `0` tries
   * once.
   * @default 5
   */
  defaultWait?: Duration;
  /**
   * Longest pause between two attempts of a waiting acquire when no release announcement
   * arrives (jittered; shorter when the holder's TTL ends sooner). Releases wake waiters at once;
   * this only covers announcements lost while the subscriber connection was down.
   * @default 0.5
   */
  pollInterval?: Duration;
  /**
   * Replicas that must acknowledge each acquisition (Redis `WAIT`); fewer within
   * `replicaTimeout` release the lock and throw `LockReplicationError`. `0` skips the check.
   * Not supported with `redis.cluster`.
   * @default 0
   */
  replicas?: number;
  /**
   * How long to wait for those acknowledgements; below `redis.commandTimeout` when `replicas > 0`.
   * @default 0.2
   */
  replicaTimeout?: Duration;
}

/** How cached controller responses read the request. */
export interface CacheHttpOptions {
  /**
   * Key responses on the first `X-Forwarded-Host` value instead of `Host`. Enable only behind a
   * proxy that sets the header: otherwise any client chooses the host its response is cached
   * under.
   * @default false
   */
  trustForwardedHost?: boolean;
}

/** Cache warming at bootstrap (`@CacheWarmer`, `CacheWarming`). */
export interface CacheWarmingOptions {
  /**
   * Await the warm-up at bootstrap, so that `app.init()` (and `listen`) resolve once it is done;
   * otherwise it runs in the background and `CacheWarming.ready` tells when it ended.
   * @default false
   */
  await?: boolean;
  /**
   * Most load batches of one domain's warmers in flight at once.
   * @default 4
   */
  concurrency?: number;
  /**
   * Fail the boot with `CacheWarmingError` when warming had errors (a warmer or its loader threw,
   * or the cache failed). Needs `await: true`; otherwise errors are counted and logged.
   * @default false
   */
  failOnError?: boolean;
  /**
   * Spread of the TTLs of warmed entries, as a fraction: each lives `ttl × (1 ± jitter)`, drawn
   * uniformly, so that a warmed set does not expire all at once. From 0 to below 1.
   * @default 0.1
   */
  jitter?: number;
  /**
   * What an instance does when another one is warming a domain (one warm-up per fleet, under a
   * lock): `'skip'` it, or `'wait'` until that warm-up ends (then skip it, as it is fresh).
   * @default 'skip'
   */
  fleet?: 'skip' | 'wait';
}

/**
 * Options of `CacheModule.forRoot()` / `forRootAsync()`. A key the module does not know, at any
 * level it owns, is refused at boot with `CacheConfigurationError`; the objects passed through to
 * ioredis (`redis.ioredis`, `redis.tls`, `redis.cluster.options`, sentinel addresses) are ioredis's
 * to check.
 */
export interface CacheModuleOptions {
  /**
   * `'redis'` connects to Redis; `'memory'` keeps entries in this process (demo, unit tests).
   * The module never falls back from one to the other by itself.
   * @default 'redis'
   */
  store?: CacheStoreKind;
  /** Redis connection, used when `store` is `'redis'`. */
  redis?: RedisConnectionOptions;
  /**
   * Prefix of every key the module writes, before the domain prefix (e.g. `'elile:'`), so that
   * several applications or test runs can share a database.
   * @default ''
   */
  namespace?: string;
  /**
   * Cache domains by name. The built-in domains (`screening`, `subject`, `org`, `compliance`,
   * `session`) always exist; entries here override their settings or declare new domains.
   */
  domains?: Record<string, Partial<CacheDomainOptions>>;
  /**
   * Value encoding: `'auto'` (JSON for values JSON holds exactly, MessagePack for rich types; the
   * fastest reads of both), `'msgpack'` (rich types, compact), `'json'` (readable in redis-cli;
   * only JSON types), or your own codec.
   * @default 'auto'
   */
  codec?: 'auto' | 'msgpack' | 'json' | CacheCodec;
  /**
   * Compress encoded values of at least this many bytes (deflate). `0` disables compression.
   * @default 0
   */
  compressionThreshold?: number;
  /**
   * Largest size in bytes a compressed entry may inflate to (at least 1024); an entry that would
   * inflate beyond it is treated as corrupt instead of filling memory.
   * @default 16777216 (16 MiB)
   */
  maxDecompressedSize?: number;
  /**
   * How long a read-through (`getOrSet`) may take between its miss and its fill, in seconds.
   * A fill that arrives later is discarded, because an invalidation may have passed it.
   * @default 10
   */
  leaseTtl?: Duration;
  /**
   * Fleet-wide single flight: a miss on a key that another instance is loading waits for that
   * load (woken when it lands, at most `leaseTtl` or the call's `wait`) instead of running the
   * loader too. Uses the invalidation channel (Redis client-side tracking on a connection of its
   * own); while the channel is down, misses load at once. Not on a Redis Cluster yet.
   * @default true
   */
  fleetSingleFlight?: boolean;
  /**
   * Most entries the memory store keeps (least recently used are evicted first).
   * @default 10000
   */
  memoryMaxEntries?: number;
  /** Distributed locks: key prefix, default TTL and wait, replication check. */
  locks?: CacheLockOptions;
  /** How cached controller responses read the request (`CacheInterceptor`). */
  http?: CacheHttpOptions;
  /** Cache warming: awaited or in the background, concurrency, errors, TTL jitter, fleet. */
  warming?: CacheWarmingOptions;
}
