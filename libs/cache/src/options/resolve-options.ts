import type { RedisOptions } from 'ioredis';
import { CacheConfigurationError } from '../cache.errors';
import type { CacheCodec } from '../codec/codec.interface';
import { JsonCodec } from '../codec/json.codec';
import { MsgpackCodec } from '../codec/msgpack.codec';
import { DEFAULT_DOMAINS, DEFAULTS } from './cache-defaults';
import type {
  CacheDomainOptions,
  CacheLockOptions,
  CacheModuleOptions,
  CacheStoreKind,
  RedisConnectionOptions,
} from './cache-module-options.interface';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';
import { describe, lockTtlToMs, secondsToMs, waitToMs } from './duration.util';

export interface ResolvedDomain {
  readonly name: string;
  readonly ttlMs: number;
  readonly prefix: string;
  readonly scope?: CacheDomainOptions['scope'];
}

export interface ResolvedRedisOptions {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxReconnectDelayMs: number;
  readonly tls?: RedisOptions['tls'];
  readonly sentinel?: RedisConnectionOptions['sentinel'];
  readonly cluster?: RedisConnectionOptions['cluster'];
  readonly ioredis: RedisOptions;
}

export interface ResolvedLockOptions {
  readonly prefix: string;
  readonly defaultTtlMs: number;
  readonly defaultWaitMs: number;
  readonly pollIntervalMs: number;
  readonly replicas: number;
  readonly replicaTimeoutMs: number;
}

/** Options after defaults and validation: what every part of the module reads. */
export interface ResolvedCacheOptions {
  readonly store: CacheStoreKind;
  readonly redis: ResolvedRedisOptions;
  readonly namespace: string;
  readonly domains: ReadonlyMap<string, ResolvedDomain>;
  readonly codec: CacheCodec;
  readonly compressionThreshold: number;
  readonly leaseTtlMs: number;
  readonly memoryMaxEntries: number;
  readonly locks: ResolvedLockOptions;
}

const fail = (message: string): never => {
  throw new CacheConfigurationError(message);
};

const seconds = (value: unknown, path: string): number =>
  secondsToMs(value, `CacheModule option "${path}"`, CacheConfigurationError);

function wholeNumber(value: unknown, path: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(`CacheModule option "${path}" must be a whole number >= ${min}, got ${describe(value)}`);
  }
  return value as number;
}

function resolveRedis(options: RedisConnectionOptions = {}): ResolvedRedisOptions {
  const url = options.url ?? DEFAULTS.redis.url;
  if (!/^rediss?:\/\//.test(url)) {
    fail(`CacheModule option "redis.url" must start with redis:// or rediss://, got a value that does not`);
  }
  return {
    url,
    username: options.username,
    password: options.password,
    commandTimeoutMs: seconds(options.commandTimeout ?? DEFAULTS.redis.commandTimeout, 'redis.commandTimeout'),
    connectTimeoutMs: seconds(options.connectTimeout ?? DEFAULTS.redis.connectTimeout, 'redis.connectTimeout'),
    maxConnections: wholeNumber(options.maxConnections ?? DEFAULTS.redis.maxConnections, 'redis.maxConnections', 1),
    maxReconnectDelayMs: seconds(
      options.maxReconnectDelay ?? DEFAULTS.redis.maxReconnectDelay,
      'redis.maxReconnectDelay',
    ),
    tls: options.tls,
    sentinel: options.sentinel,
    cluster: options.cluster,
    ioredis: options.ioredis ?? {},
  };
}

function resolveDomains(overrides: Record<string, Partial<CacheDomainOptions>> = {}): Map<string, ResolvedDomain> {
  const domains = new Map<string, ResolvedDomain>();
  const names = new Set([...Object.keys(DEFAULT_DOMAINS), ...Object.keys(overrides)]);
  for (const name of names) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      fail(`Cache domain name ${JSON.stringify(name)} may only contain letters, digits, "_", "." and "-"`);
    }
    const merged = { ...DEFAULT_DOMAINS[name], ...overrides[name] };
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
    domains.set(name, { name, ttlMs: seconds(merged.ttl, `domains.${name}.ttl`), prefix, scope: merged.scope });
  }
  assertPrefixesDisjoint([...domains.values()]);
  return domains;
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
  const prefix = options.prefix ?? DEFAULTS.locks.prefix;
  if (typeof prefix !== 'string') fail(`CacheModule option "locks.prefix" must be a string`);
  const others = [...[...domains.values()].map((d) => [`domain "${d.name}"`, d.prefix]), ['tag indexes', INTERNAL_KEY_PREFIX]];
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
  const replicaTimeoutMs = seconds(options.replicaTimeout ?? DEFAULTS.locks.replicaTimeout, 'locks.replicaTimeout');
  if (replicas > 0 && replicaTimeoutMs >= redis.commandTimeoutMs) {
    fail(`CacheModule option "locks.replicaTimeout" must be below "redis.commandTimeout" (${redis.commandTimeoutMs / 1000} s)`);
  }
  const option = (path: string) => `CacheModule option "${path}"`;
  return {
    prefix,
    defaultTtlMs: lockTtlToMs(options.defaultTtl ?? DEFAULTS.locks.defaultTtl, option('locks.defaultTtl'), CacheConfigurationError),
    defaultWaitMs: waitToMs(options.defaultWait ?? DEFAULTS.locks.defaultWait, option('locks.defaultWait'), CacheConfigurationError),
    pollIntervalMs: seconds(options.pollInterval ?? DEFAULTS.locks.pollInterval, 'locks.pollInterval'),
    replicas,
    replicaTimeoutMs,
  };
}

function resolveCodec(codec: CacheModuleOptions['codec'] = DEFAULTS.codec): CacheCodec {
  if (codec === 'msgpack') return new MsgpackCodec();
  if (codec === 'json') return new JsonCodec();
  if (!codec || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    return fail(`CacheModule option "codec" must be 'msgpack', 'json' or an object with id, encode and decode`);
  }
  // The id is one byte of every entry; 1 and 2 are the built-in codecs, which must stay readable.
  if (!Number.isInteger(codec.id) || codec.id < 3 || codec.id > 255) {
    return fail(`CacheModule option "codec" needs an id that is a whole number from 3 to 255, got ${describe(codec.id)}`);
  }
  return codec;
}

/** Applies defaults and validates once, at boot; a mistake names the option that holds it. */
export function resolveCacheOptions(options: CacheModuleOptions = {}): ResolvedCacheOptions {
  const store = options.store ?? DEFAULTS.store;
  if (store !== 'redis' && store !== 'memory') {
    fail(`CacheModule option "store" must be 'redis' or 'memory', got ${describe(store)}`);
  }
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string') fail(`CacheModule option "namespace" must be a string`);
  const redis = resolveRedis(options.redis);
  const domains = resolveDomains(options.domains);
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
    leaseTtlMs: seconds(options.leaseTtl ?? DEFAULTS.leaseTtl, 'leaseTtl'),
    memoryMaxEntries: wholeNumber(options.memoryMaxEntries ?? DEFAULTS.memoryMaxEntries, 'memoryMaxEntries', 1),
    locks: resolveLocks(options.locks, namespace, domains, redis),
  };
}
