import { constants as bufferConstants } from 'node:buffer';
import type { RedisOptions } from 'ioredis';
import { CacheConfigurationError } from '../cache.errors';
import { nearMessages, warmingMessages } from '../cache.messages';
import { AutoCodec } from '../codec/auto.codec';
import type { CacheCodec, PerValueCodec } from '../codec/codec.interface';
import { JsonCodec } from '../codec/json.codec';
import { MsgpackCodec } from '../codec/msgpack.codec';
import { DEFAULT_DOMAINS, DEFAULTS } from './cache-defaults';
import type {
  CacheDomainOptions,
  CacheHttpOptions,
  CacheLockOptions,
  CacheModuleOptions,
  CacheStoreKind,
  CacheWarmingOptions,
  NearCacheOptions,
  RedisBreakerOptions,
  RedisConnectionOptions,
} from './cache-module-options.interface';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';
import type { NearCacheSettings } from '../near/near-cache';
import { describe, lockTtlToMs, durationToMs, waitToMs } from './duration.util';
import { assertKnownKeys, assertOptionsObject, keysOf } from './known-keys.util';

export interface ResolvedDomain {
  readonly name: string;
  readonly ttlMs: number;
  readonly prefix: string;
  readonly scope?: CacheDomainOptions['scope'];
  /** The near cache's settings; undefined without one. */
  readonly l1?: NearCacheSettings;
  /** Fraction of the TTL after which a `getOrSet` hit refreshes in the background. */
  readonly refreshAhead?: number;
  /** Whether a miss waits for another instance's load of the key (`fleetSingleFlight`). */
  readonly fleetSingleFlight?: boolean;
  /** Fail-safe: how long entries are kept past their TTL, as fallbacks (0 or absent: not kept). */
  readonly graceMs?: number;
  /** Fail-safe: how long a load is waited for while a stale value is at hand. */
  readonly softTimeoutMs?: number;
}

export interface ResolvedRedisOptions {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly commandTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly writeTimeoutMs: number;
  readonly breaker: ResolvedBreakerOptions;
  readonly connectTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxReconnectDelayMs: number;
  readonly maxInFlight: number;
  readonly tls?: RedisOptions['tls'];
  readonly sentinel?: RedisConnectionOptions['sentinel'];
  readonly cluster?: RedisConnectionOptions['cluster'];
  readonly ioredis: RedisOptions;
}

export interface ResolvedBreakerOptions {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly halfOpenAfterMs: number;
}

export interface ResolvedLockOptions {
  readonly prefix: string;
  readonly defaultTtlMs: number;
  readonly defaultWaitMs: number;
  readonly pollIntervalMs: number;
  readonly replicas: number;
  readonly replicaTimeoutMs: number;
}

export interface ResolvedHttpOptions {
  readonly trustForwardedHost: boolean;
}

export interface ResolvedWarmingOptions {
  readonly await: boolean;
  readonly concurrency: number;
  readonly failOnError: boolean;
  readonly jitter: number;
  readonly fleet: 'skip' | 'wait';
}

/** Options after defaults and validation: what every part of the module reads. */
export interface ResolvedCacheOptions {
  readonly store: CacheStoreKind;
  readonly redis: ResolvedRedisOptions;
  readonly namespace: string;
  readonly domains: ReadonlyMap<string, ResolvedDomain>;
  readonly codec: CacheCodec | PerValueCodec;
  readonly compressionThreshold: number;
  /** Bytes. */
  readonly maxDecompressedSize: number;
  readonly leaseTtlMs: number;
  readonly memoryMaxEntries: number;
  readonly locks: ResolvedLockOptions;
  readonly http: ResolvedHttpOptions;
  readonly warming: ResolvedWarmingOptions;
}

const OPTION_KEYS = keysOf<CacheModuleOptions>({
  store: true,
  redis: true,
  namespace: true,
  domains: true,
  codec: true,
  compressionThreshold: true,
  maxDecompressedSize: true,
  leaseTtl: true,
  fleetSingleFlight: true,
  memoryMaxEntries: true,
  locks: true,
  http: true,
  warming: true,
});
const REDIS_KEYS = keysOf<RedisConnectionOptions>({
  url: true,
  username: true,
  password: true,
  commandTimeout: true,
  readTimeout: true,
  writeTimeout: true,
  breaker: true,
  connectTimeout: true,
  maxConnections: true,
  maxReconnectDelay: true,
  maxInFlight: true,
  tls: true,
  sentinel: true,
  cluster: true,
  ioredis: true,
});
const BREAKER_KEYS = keysOf<RedisBreakerOptions>({ enabled: true, threshold: true, halfOpenAfter: true });
const SENTINEL_KEYS = keysOf<NonNullable<RedisConnectionOptions['sentinel']>>({
  name: true,
  sentinels: true,
  sentinelPassword: true,
});
const CLUSTER_KEYS = keysOf<NonNullable<RedisConnectionOptions['cluster']>>({ nodes: true, options: true });
const DOMAIN_KEYS = keysOf<CacheDomainOptions>({
  ttl: true,
  prefix: true,
  scope: true,
  l1: true,
  refreshAhead: true,
  grace: true,
  softTimeout: true,
});
const L1_KEYS = keysOf<NearCacheOptions>({ maxEntries: true, ttl: true });
const LOCK_KEYS = keysOf<CacheLockOptions>({
  prefix: true,
  defaultTtl: true,
  defaultWait: true,
  pollInterval: true,
  replicas: true,
  replicaTimeout: true,
});
const HTTP_KEYS = keysOf<CacheHttpOptions>({ trustForwardedHost: true });
const WARMING_KEYS = keysOf<CacheWarmingOptions>({
  await: true,
  concurrency: true,
  failOnError: true,
  jitter: true,
  fleet: true,
});

const IOREDIS_HINT = `ioredis's own options go in "redis.ioredis"`;

/**
 * ioredis options that `redis.ioredis` cannot set, with where the setting belongs: the connection
 * factory always overrides them (the deadlines and the target), and `keyPrefix` would leave SCAN
 * patterns and tag indexes unprefixed, so `clear()`, patterns and tags would delete nothing.
 */
const IOREDIS_OWNED: Readonly<Record<string, string>> = {
  lazyConnect: 'the module (it connects at init)',
  enableOfflineQueue: 'the module (no offline queue, so calls never wait for a reconnect)',
  autoResendUnfulfilledCommands: 'the module (a timed-out write is never resent)',
  maxRetriesPerRequest: 'the module (one attempt per command)',
  commandTimeout: '"redis.commandTimeout"',
  connectTimeout: '"redis.connectTimeout"',
  retryStrategy: '"redis.maxReconnectDelay"',
  keyPrefix: '"namespace"',
  host: '"redis.url"',
  port: '"redis.url"',
  db: '"redis.url"',
  path: '"redis.url"',
};

/** The same for the Cluster options in `redis.cluster.options`. */
const CLUSTER_OWNED: Readonly<Record<string, string>> = {
  lazyConnect: IOREDIS_OWNED.lazyConnect,
  enableOfflineQueue: IOREDIS_OWNED.enableOfflineQueue,
  clusterRetryStrategy: '"redis.maxReconnectDelay"',
  redisOptions: 'the module (per-node options come from "redis" and "redis.ioredis")',
  keyPrefix: IOREDIS_OWNED.keyPrefix,
};

/** The longest delay Node can arm a timer for; beyond it, setTimeout fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const fail = (message: string): never => {
  throw new CacheConfigurationError(message);
};

const seconds = (value: unknown, path: string): number =>
  durationToMs(value, `CacheModule option "${path}"`, CacheConfigurationError);

/** A duration that arms a Node timer (directly or in ioredis), which would overflow to 1 ms. */
function timerSeconds(value: unknown, path: string, marginMs = 0): number {
  const ms = seconds(value, path);
  if (ms + marginMs > MAX_TIMER_MS) {
    fail(
      `CacheModule option "${path}" must be at most ${Math.floor((MAX_TIMER_MS - marginMs) / 1000)} seconds, got ${describe(value)}`,
    );
  }
  return ms;
}

function assertNoOwnedIoredisOptions(
  options: unknown,
  path: string,
  ownedKeys: Readonly<Record<string, string>> = IOREDIS_OWNED,
): void {
  if (options === undefined) return;
  assertOptionsObject(options, path);
  const owned = Object.keys(options as object).filter((key) => Object.hasOwn(ownedKeys, key));
  if (owned.length === 0) return;
  fail(
    `CacheModule option${owned.length > 1 ? 's' : ''} ${owned.map((key) => `"${path}.${key}"`).join(', ')} ` +
      `cannot be passed to ioredis: ${owned.map((key) => `${key} is set by ${ownedKeys[key]}`).join('; ')}`,
  );
}

function wholeNumber(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    fail(`CacheModule option "${path}" must be a whole number ${range}, got ${describe(value)}`);
  }
  return value as number;
}

function resolveRedis(options: RedisConnectionOptions = {}): ResolvedRedisOptions {
  assertKnownKeys(options, REDIS_KEYS, 'redis', IOREDIS_HINT);
  assertKnownKeys(options.sentinel, SENTINEL_KEYS, 'redis.sentinel', IOREDIS_HINT);
  assertKnownKeys(
    options.cluster,
    CLUSTER_KEYS,
    'redis.cluster',
    `ioredis's Cluster options go in "redis.cluster.options"`,
  );
  assertNoOwnedIoredisOptions(options.ioredis, 'redis.ioredis');
  assertNoOwnedIoredisOptions(options.cluster?.options, 'redis.cluster.options', CLUSTER_OWNED);
  const url = options.url ?? DEFAULTS.redis.url;
  if (!/^rediss?:\/\//.test(url)) {
    fail(`CacheModule option "redis.url" must start with redis:// or rediss://, got a value that does not`);
  }
  // Given explicitly, commandTimeout remains every command's deadline, as before reads and writes
  // had their own.
  const commandTimeout = options.commandTimeout;
  return {
    url,
    username: options.username,
    password: options.password,
    commandTimeoutMs: timerSeconds(commandTimeout ?? DEFAULTS.redis.commandTimeout, 'redis.commandTimeout'),
    readTimeoutMs: cacheDeadline(options.readTimeout, commandTimeout, DEFAULTS.redis.readTimeout, 'redis.readTimeout'),
    writeTimeoutMs: cacheDeadline(
      options.writeTimeout,
      commandTimeout,
      DEFAULTS.redis.writeTimeout,
      'redis.writeTimeout',
    ),
    breaker: resolveBreaker(options.breaker),
    connectTimeoutMs: timerSeconds(options.connectTimeout ?? DEFAULTS.redis.connectTimeout, 'redis.connectTimeout'),
    maxConnections: wholeNumber(options.maxConnections ?? DEFAULTS.redis.maxConnections, 'redis.maxConnections', 1),
    maxReconnectDelayMs: timerSeconds(
      options.maxReconnectDelay ?? DEFAULTS.redis.maxReconnectDelay,
      'redis.maxReconnectDelay',
    ),
    maxInFlight: wholeNumber(options.maxInFlight ?? DEFAULTS.redis.maxInFlight, 'redis.maxInFlight', 1),
    tls: options.tls,
    sentinel: options.sentinel,
    cluster: options.cluster,
    ioredis: options.ioredis ?? {},
  };
}

/** A probe more often than this would only add load to a Redis that is struggling. */
const MIN_HALF_OPEN_AFTER_MS = 10;
/**
 * Longest read or write deadline, and longest open period, that can be meant in seconds: a cache
 * read waiting longer than a minute is an outage, and a value of 250 or 1000 is a duration given
 * in milliseconds (every duration here is seconds).
 */
const MAX_CACHE_DEADLINE_SECONDS = 60;
const MAX_HALF_OPEN_AFTER_SECONDS = 600;

function atMost(value: unknown, maxSeconds: number, path: string): void {
  if (typeof value === 'number' && value > maxSeconds) {
    fail(
      `CacheModule option "${path}" must be at most ${maxSeconds} seconds, got ${describe(value)} ` +
        `(durations are seconds: ${value} ms would be ${value / 1000})`,
    );
  }
}

/**
 * A read or write deadline: its own value (at most a minute), else an explicit `commandTimeout`
 * (not capped: it was every command's deadline before reads and writes had their own), else its
 * default.
 */
function cacheDeadline(own: unknown, commandTimeout: unknown, fallback: number, path: string): number {
  atMost(own, MAX_CACHE_DEADLINE_SECONDS, path);
  return timerSeconds(own ?? commandTimeout ?? fallback, path);
}

function resolveBreaker(options: RedisBreakerOptions = {}): ResolvedBreakerOptions {
  assertKnownKeys(options, BREAKER_KEYS, 'redis.breaker');
  const enabled = options.enabled ?? DEFAULTS.redis.breaker.enabled;
  if (typeof enabled !== 'boolean') {
    fail(`CacheModule option "redis.breaker.enabled" must be true or false, got ${describe(enabled)}`);
  }
  const halfOpenAfter = options.halfOpenAfter ?? DEFAULTS.redis.breaker.halfOpenAfter;
  atMost(halfOpenAfter, MAX_HALF_OPEN_AFTER_SECONDS, 'redis.breaker.halfOpenAfter');
  const halfOpenAfterMs = timerSeconds(halfOpenAfter, 'redis.breaker.halfOpenAfter');
  if (halfOpenAfterMs < MIN_HALF_OPEN_AFTER_MS) {
    fail(
      `CacheModule option "redis.breaker.halfOpenAfter" must be at least ${MIN_HALF_OPEN_AFTER_MS / 1000} seconds, got ${describe(halfOpenAfter)}`,
    );
  }
  return {
    enabled,
    threshold: wholeNumber(options.threshold ?? DEFAULTS.redis.breaker.threshold, 'redis.breaker.threshold', 1),
    halfOpenAfterMs,
  };
}

function resolveDomains(
  overrides: Record<string, Partial<CacheDomainOptions>> = {},
  fleetSingleFlight: boolean,
): Map<string, ResolvedDomain> {
  // Domain names are the application's; only each domain's settings have known keys.
  assertOptionsObject(overrides, 'domains');
  const domains = new Map<string, ResolvedDomain>();
  const names = new Set([...Object.keys(DEFAULT_DOMAINS), ...Object.keys(overrides)]);
  for (const name of names) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      fail(`Cache domain name ${JSON.stringify(name)} may only contain letters, digits, "_", "." and "-"`);
    }
    assertKnownKeys(overrides[name], DOMAIN_KEYS, `domains.${name}`);
    // An `undefined` setting is an unset one: it must not erase a built-in domain's default.
    const set = Object.entries(overrides[name] ?? {}).filter(([, value]) => value !== undefined);
    const merged: Partial<CacheDomainOptions> = { ...DEFAULT_DOMAINS[name], ...Object.fromEntries(set) };
    if (merged.ttl === undefined) fail(`Cache domain "${name}" needs a ttl (seconds): set domains.${name}.ttl`);
    const prefix = merged.prefix ?? `${name}:`;
    if (typeof prefix !== 'string') fail(`CacheModule option "domains.${name}.prefix" must be a string`);
    // Either way round: a prefix such as "_" would let clear() and patterns reach the tag indexes.
    if (prefix.startsWith(INTERNAL_KEY_PREFIX) || INTERNAL_KEY_PREFIX.startsWith(prefix)) {
      fail(
        `Cache domain "${name}" and the tag indexes have overlapping prefixes "${prefix}" and ` +
          `"${INTERNAL_KEY_PREFIX}" (reserved)`,
      );
    }
    if (merged.scope !== undefined && typeof merged.scope !== 'function') {
      fail(`CacheModule option "domains.${name}.scope" must be a function of the request`);
    }
    domains.set(name, {
      name,
      ttlMs: seconds(merged.ttl, `domains.${name}.ttl`),
      prefix,
      scope: merged.scope,
      l1: resolveL1(merged.l1, name),
      refreshAhead: resolveRefreshAhead(merged.refreshAhead, name),
      fleetSingleFlight,
      ...resolveFailSafe(merged, name),
    });
  }
  assertPrefixesDisjoint([...domains.values()]);
  return domains;
}

function resolveL1(l1: CacheDomainOptions['l1'], domain: string): NearCacheSettings | undefined {
  if (l1 === undefined || l1 === false) return undefined;
  const settings: NearCacheOptions = l1 === true ? {} : l1;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings))
    fail(nearMessages.badL1(domain, describe(l1)));
  assertKnownKeys(settings, L1_KEYS, `domains.${domain}.l1`);
  return {
    // lru-cache allocates its index for `max` up front (measured: 50 million took 1.1 GB of RSS at boot).
    maxEntries: wholeNumber(
      settings.maxEntries ?? DEFAULTS.l1.maxEntries,
      `domains.${domain}.l1.maxEntries`,
      1,
      10_000_000,
    ),
    ttlMs: timerSeconds(settings.ttl ?? DEFAULTS.l1.ttl, `domains.${domain}.l1.ttl`),
  };
}

function resolveFailSafe(
  { grace, softTimeout }: Partial<CacheDomainOptions>,
  domain: string,
): Pick<ResolvedDomain, 'graceMs' | 'softTimeoutMs'> {
  if (grace === undefined) {
    if (softTimeout !== undefined)
      fail(
        `CacheModule option "domains.${domain}.softTimeout" needs "domains.${domain}.grace": without stale values there is nothing to serve when a load is slow`,
      );
    return {};
  }
  const graceMs = timerSeconds(grace, `domains.${domain}.grace`);
  return {
    graceMs,
    softTimeoutMs: softTimeout === undefined ? undefined : timerSeconds(softTimeout, `domains.${domain}.softTimeout`),
  };
}

function resolveRefreshAhead(ratio: number | undefined, domain: string): number | undefined {
  if (ratio === undefined) return undefined;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) {
    fail(nearMessages.badRefreshAhead(`CacheModule option "domains.${domain}.refreshAhead"`, describe(ratio)));
  }
  return ratio;
}

/** Two domains whose prefixes nest would invalidate each other's entries through patterns. */
function assertPrefixesDisjoint(domains: ResolvedDomain[]): void {
  for (const a of domains) {
    for (const b of domains) {
      if (a !== b && b.prefix.startsWith(a.prefix)) {
        fail(`Cache domains "${a.name}" and "${b.name}" have overlapping prefixes "${a.prefix}" and "${b.prefix}"`);
      }
    }
  }
}

function resolveLocks(
  options: CacheLockOptions = {},
  namespace: string,
  domains: ReadonlyMap<string, ResolvedDomain>,
  redis: ResolvedRedisOptions,
): ResolvedLockOptions {
  assertKnownKeys(options, LOCK_KEYS, 'locks');
  const prefix = options.prefix ?? DEFAULTS.locks.prefix;
  if (typeof prefix !== 'string') fail(`CacheModule option "locks.prefix" must be a string`);
  const others = [
    ...[...domains.values()].map((d) => [`domain "${d.name}"`, d.prefix]),
    ['tag indexes', INTERNAL_KEY_PREFIX],
  ];
  for (const [owner, other] of others) {
    if (other.startsWith(prefix) || prefix.startsWith(other)) {
      fail(`CacheModule option "locks.prefix" ("${prefix}") overlaps the prefix "${other}" of ${owner}`);
    }
  }
  // Lock names are `${namespace}${prefix}{key}…`: a `{}` where Redis looks for the hash tag
  // leaves it empty, and a lock's names would then spread over several cluster slots.
  const tagStart = `${namespace}${prefix}`.indexOf('{');
  if (tagStart >= 0 && `${namespace}${prefix}`[tagStart + 1] === '}') {
    fail(`CacheModule options "namespace" and "locks.prefix" must not form an empty hash tag "{}"`);
  }
  const replicas = wholeNumber(options.replicas ?? DEFAULTS.locks.replicas, 'locks.replicas', 0);
  if (replicas > 0 && redis.cluster) fail(`CacheModule option "locks.replicas" is not supported with "redis.cluster"`);
  const replicaTimeoutMs = timerSeconds(
    options.replicaTimeout ?? DEFAULTS.locks.replicaTimeout,
    'locks.replicaTimeout',
  );
  if (replicas > 0 && replicaTimeoutMs >= redis.commandTimeoutMs) {
    fail(
      `CacheModule option "locks.replicaTimeout" must be below "redis.commandTimeout" (${redis.commandTimeoutMs / 1000} s)`,
    );
  }
  const option = (path: string) => `CacheModule option "${path}"`;
  return {
    prefix,
    defaultTtlMs: lockTtlToMs(
      options.defaultTtl ?? DEFAULTS.locks.defaultTtl,
      option('locks.defaultTtl'),
      CacheConfigurationError,
    ),
    defaultWaitMs: waitToMs(
      options.defaultWait ?? DEFAULTS.locks.defaultWait,
      option('locks.defaultWait'),
      CacheConfigurationError,
    ),
    pollIntervalMs: timerSeconds(options.pollInterval ?? DEFAULTS.locks.pollInterval, 'locks.pollInterval'),
    replicas,
    replicaTimeoutMs,
  };
}

function resolveHttp(options: CacheHttpOptions = {}): ResolvedHttpOptions {
  assertKnownKeys(options, HTTP_KEYS, 'http');
  const trustForwardedHost = options.trustForwardedHost ?? DEFAULTS.http.trustForwardedHost;
  if (typeof trustForwardedHost !== 'boolean') {
    fail(`CacheModule option "http.trustForwardedHost" must be true or false, got ${describe(trustForwardedHost)}`);
  }
  return { trustForwardedHost };
}

function resolveWarming(options: CacheWarmingOptions = {}): ResolvedWarmingOptions {
  assertKnownKeys(options, WARMING_KEYS, 'warming');
  const flag = (name: 'await' | 'failOnError'): boolean => {
    const value = options[name] ?? DEFAULTS.warming[name];
    if (typeof value !== 'boolean')
      fail(`CacheModule option "warming.${name}" must be true or false, got ${describe(value)}`);
    return value;
  };
  const jitter = options.jitter ?? DEFAULTS.warming.jitter;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
    fail(`CacheModule option "warming.jitter" must be a number from 0 to below 1, got ${describe(jitter)}`);
  }
  const fleet = options.fleet ?? DEFAULTS.warming.fleet;
  if (fleet !== 'skip' && fleet !== 'wait') {
    fail(`CacheModule option "warming.fleet" must be 'skip' or 'wait', got ${describe(fleet)}`);
  }
  const resolved = {
    await: flag('await'),
    concurrency: wholeNumber(options.concurrency ?? DEFAULTS.warming.concurrency, 'warming.concurrency', 1),
    failOnError: flag('failOnError'),
    jitter,
    fleet,
  };
  if (resolved.failOnError && !resolved.await) fail(warmingMessages.failOnErrorInBackground());
  return resolved;
}

function resolveCodec(codec: CacheModuleOptions['codec'] = DEFAULTS.codec): CacheCodec | PerValueCodec {
  if (codec === 'auto') return new AutoCodec();
  if (codec === 'msgpack') return new MsgpackCodec();
  if (codec === 'json') return new JsonCodec();
  if (!codec || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    return fail(`CacheModule option "codec" must be 'auto', 'msgpack', 'json' or an object with id, encode and decode`);
  }
  // The id is one byte of every entry; 1 and 2 are the built-in codecs, which must stay readable.
  if (!Number.isInteger(codec.id) || codec.id < 3 || codec.id > 255) {
    return fail(
      `CacheModule option "codec" needs an id that is a whole number from 3 to 255, got ${describe(codec.id)}`,
    );
  }
  return codec;
}

/** Applies defaults and validates once, at boot; a mistake names the option that holds it. */
export function resolveCacheOptions(options: CacheModuleOptions = {}): ResolvedCacheOptions {
  assertKnownKeys(options, OPTION_KEYS, '');
  const store = options.store ?? DEFAULTS.store;
  if (store !== 'redis' && store !== 'memory') {
    fail(`CacheModule option "store" must be 'redis' or 'memory', got ${describe(store)}`);
  }
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string') fail(`CacheModule option "namespace" must be a string`);
  const redis = resolveRedis(options.redis);
  const fleetSingleFlight = options.fleetSingleFlight ?? DEFAULTS.fleetSingleFlight;
  if (typeof fleetSingleFlight !== 'boolean') {
    fail(`CacheModule option "fleetSingleFlight" must be true or false, got ${describe(fleetSingleFlight)}`);
  }
  const domains = resolveDomains(options.domains, fleetSingleFlight);
  const nearOnCluster =
    store === 'redis' && redis.cluster ? [...domains.values()].find((domain) => domain.l1) : undefined;
  if (nearOnCluster) fail(nearMessages.l1OnCluster(nearOnCluster.name));
  return {
    store,
    redis,
    namespace,
    domains,
    codec: resolveCodec(options.codec),
    compressionThreshold: wholeNumber(
      options.compressionThreshold ?? DEFAULTS.compressionThreshold,
      'compressionThreshold',
      0,
    ),
    // zlib refuses an output limit above the largest Buffer, and would then fail every inflate.
    maxDecompressedSize: wholeNumber(
      options.maxDecompressedSize ?? DEFAULTS.maxDecompressedSize,
      'maxDecompressedSize',
      1024,
      bufferConstants.MAX_LENGTH,
    ),
    // The margin is single-flight's: a shared load is released 100 ms after its lease expires.
    leaseTtlMs: timerSeconds(options.leaseTtl ?? DEFAULTS.leaseTtl, 'leaseTtl', 100),
    memoryMaxEntries: wholeNumber(options.memoryMaxEntries ?? DEFAULTS.memoryMaxEntries, 'memoryMaxEntries', 1),
    locks: resolveLocks(options.locks, namespace, domains, redis),
    http: resolveHttp(options.http),
    warming: resolveWarming(options.warming),
  };
}
