import { CacheConfigurationError } from '../cache.errors';
import { DEFAULT_DOMAINS } from './cache-defaults';
import type { CacheDomainOptions, CacheModuleOptions } from './cache-module-options.interface';
import { type Duration, durationToMs } from './duration.util';
import { closestName } from './known-keys.util';

type Env = Record<string, string | undefined>;

/**
 * Every `ELILE_*` variable the module reads, with its meaning; `.env.example` lists the same.
 * Unset variables take the option defaults. Any other name in the module's families
 * (`ELILE_CACHE_*`, `ELILE_REDIS_*`, `ELILE_HTTP_*`) is refused at boot.
 */
export const CACHE_ENV_VARIABLES = {
  ELILE_CACHE_STORE: "'redis' or 'memory'",
  ELILE_REDIS_URL: 'redis:// or rediss:// URL',
  ELILE_REDIS_USERNAME: 'ACL user name',
  ELILE_REDIS_PASSWORD: 'password',
  ELILE_REDIS_MAX_CONNECTIONS: 'whole number >= 1 (no effect: one multiplexed connection)',
  ELILE_REDIS_SOCKET_TIMEOUT: 'seconds, deadline of each command (and default of the read and write deadlines)',
  ELILE_REDIS_READ_TIMEOUT: 'seconds, deadline of a cache read (GET, MGET, peek, breaker probe)',
  ELILE_REDIS_WRITE_TIMEOUT: 'seconds, deadline of a cache write (SET, scripts, UNLINK, locks)',
  ELILE_REDIS_BREAKER_ENABLED: "'true' or 'false', the circuit breaker of the Redis connection",
  ELILE_REDIS_BREAKER_THRESHOLD: 'whole number >= 1, commands in a row that must fail to open the breaker',
  ELILE_REDIS_BREAKER_HALF_OPEN_AFTER: 'seconds (>= 0.01) the breaker stays open before it probes Redis',
  ELILE_REDIS_SOCKET_CONNECT_TIMEOUT: 'seconds, deadline of connecting',
  ELILE_REDIS_MAX_IN_FLIGHT: 'whole number >= 1, most commands outstanding at once; more go to their loader',
  ELILE_CACHE_NAMESPACE: 'prefix of every key',
  ELILE_CACHE_CODEC: "'auto', 'msgpack' or 'json'",
  ELILE_CACHE_COMPRESSION_THRESHOLD: 'bytes, 0 disables compression',
  ELILE_CACHE_MAX_DECOMPRESSED_SIZE: 'bytes (>= 1024), largest size a compressed entry may inflate to',
  ELILE_CACHE_LEASE_TTL: 'seconds a read-through may take to fill',
  ELILE_CACHE_FLEET_SINGLE_FLIGHT: "'true' or 'false', a miss waits for another instance loading the same key",
  ELILE_CACHE_PREFIX_LOCK: 'key prefix of distributed locks',
  ELILE_HTTP_TRUST_FORWARDED_HOST: "'true' or 'false', key cached responses on X-Forwarded-Host (behind a proxy only)",
  ...Object.fromEntries(
    Object.keys(DEFAULT_DOMAINS).flatMap((domain) => [
      [`ELILE_CACHE_TTL_${domain.toUpperCase()}`, `seconds, TTL of the ${domain} domain`],
      [`ELILE_CACHE_PREFIX_${domain.toUpperCase()}`, `key prefix of the ${domain} domain`],
      [`ELILE_CACHE_L1_${domain.toUpperCase()}`, `'true' or 'false', a near cache (L1) for the ${domain} domain`],
      [
        `ELILE_CACHE_L1_MAX_ENTRIES_${domain.toUpperCase()}`,
        `whole number >= 1, most near-cache entries of the ${domain} domain (turns L1 on)`,
      ],
      [
        `ELILE_CACHE_L1_TTL_${domain.toUpperCase()}`,
        `seconds, longest a near-cache entry of the ${domain} domain is kept (turns L1 on)`,
      ],
      [
        `ELILE_CACHE_REFRESH_AHEAD_${domain.toUpperCase()}`,
        `fraction of the TTL (0 < x < 1) after which ${domain} hits refresh in the background`,
      ],
      [
        `ELILE_CACHE_GRACE_${domain.toUpperCase()}`,
        `seconds ${domain} entries are kept past their TTL, served when a reload fails (fail-safe)`,
      ],
      [
        `ELILE_CACHE_SOFT_TIMEOUT_${domain.toUpperCase()}`,
        `seconds a ${domain} reload is waited for while a stale value is at hand (needs the grace)`,
      ],
    ]),
  ),
} as const;

/**
 * Name prefixes that belong to the module, one per options section (`ELILE_CACHE_` for the top
 * level, domains and locks). A name in them that the module does not read is a typo or a stale
 * setting, refused rather than ignored; other `ELILE_*` names (the application's own, such as the
 * demo's `ELILE_DEMO_DATABASE`) are not the module's business.
 */
const OWN_FAMILIES = ['ELILE_CACHE_', 'ELILE_REDIS_', 'ELILE_HTTP_'] as const;

const PER_DOMAIN = /^ELILE_CACHE_(TTL|PREFIX|L1|L1_MAX_ENTRIES|L1_TTL|REFRESH_AHEAD|GRACE|SOFT_TIMEOUT)_/;

function assertKnownNames(env: Env): void {
  const known = Object.keys(CACHE_ENV_VARIABLES);
  const unknown = Object.keys(env).filter(
    (name) =>
      env[name] !== undefined && OWN_FAMILIES.some((family) => name.startsWith(family)) && !known.includes(name),
  );
  if (unknown.length === 0) return;
  const named = unknown.map((name) => {
    const suggestion = closestName(name, known);
    if (suggestion !== undefined) return `${name} (did you mean ${suggestion}?)`;
    if (PER_DOMAIN.test(name)) {
      const builtIn = Object.keys(DEFAULT_DOMAINS)
        .map((domain) => domain.toUpperCase())
        .join(', ');
      return `${name} (per-domain variables exist for the built-in domains ${builtIn} only; configure other domains in code)`;
    }
    return name;
  });
  throw new CacheConfigurationError(
    `Unknown cache variable${unknown.length > 1 ? 's' : ''} ${named.join(', ')}: ` +
      `${OWN_FAMILIES.map((family) => `${family}*`).join(', ')} names belong to the cache module, ` +
      `which reads only those that .env.example lists`,
  );
}

function invalid(name: string, expected: string, raw: string): never {
  throw new CacheConfigurationError(`${name} must be ${expected}, got ${JSON.stringify(raw)}`);
}

/** A duration: seconds as a number (`300`), or with its unit (`300ms`, `5m`, `2h`). */
function positiveNumber(env: Env, name: string): Duration | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (Number.isFinite(value) && value > 0) return value;
  try {
    durationToMs(raw, name);
  } catch {
    invalid(name, "a positive number of seconds, or a duration with its unit ('300ms', '5m', '2h')", raw);
  }
  return raw as Duration;
}

function wholeNumber(env: Env, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) invalid(name, `a whole number >= ${min}`, raw);
  return value;
}

function fraction(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!(value > 0 && value < 1)) invalid(name, 'a fraction above 0 and below 1', raw);
  return value;
}

/** The near cache of a domain: off, on with defaults, or on with the settings given. */
function nearCache(env: Env, upper: string): CacheDomainOptions['l1'] {
  const enabled = flag(env, `ELILE_CACHE_L1_${upper}`);
  const settings = withoutUndefined({
    maxEntries: wholeNumber(env, `ELILE_CACHE_L1_MAX_ENTRIES_${upper}`, 1),
    ttl: positiveNumber(env, `ELILE_CACHE_L1_TTL_${upper}`),
  });
  if (enabled === false) return false;
  if (Object.keys(settings).length > 0) return settings;
  return enabled;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!allowed.includes(raw as T)) invalid(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, raw);
  return raw as T;
}

function flag(env: Env, name: string): boolean | undefined {
  const raw = oneOf(env, name, ['true', 'false'] as const);
  return raw === undefined ? undefined : raw === 'true';
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function redisUrl(env: Env): string | undefined {
  const raw = text(env, 'ELILE_REDIS_URL');
  if (raw === undefined) return undefined;
  let valid = false;
  try {
    valid = /^rediss?:$/.test(new URL(raw).protocol);
  } catch {
    valid = false;
  }
  // The raw value may hold a password, so the message does not repeat it.
  if (!valid) throw new CacheConfigurationError('ELILE_REDIS_URL must be a redis:// or rediss:// URL');
  return raw;
}

/** Drops unset settings and empty sections, so env options merge over options from code. */
function withoutUndefined<T extends object>(record: T): T {
  const isEmptySection = (value: unknown) =>
    typeof value === 'object' && value !== null && Object.keys(value).length === 0;
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => value !== undefined && !isEmptySection(value)),
  ) as T;
}

/**
 * Reads the module's options from `ELILE_*` variables, validating each: a bad value, or a name in
 * the module's families that it does not read, throws a `CacheConfigurationError` naming the
 * variable and what it expects.
 */
export function cacheOptionsFromEnv(env: Env = process.env): CacheModuleOptions {
  assertKnownNames(env);
  const domains: Record<string, Partial<CacheDomainOptions>> = {};
  for (const domain of Object.keys(DEFAULT_DOMAINS)) {
    const upper = domain.toUpperCase();
    const settings = withoutUndefined({
      ttl: positiveNumber(env, `ELILE_CACHE_TTL_${upper}`),
      prefix: text(env, `ELILE_CACHE_PREFIX_${upper}`),
      l1: nearCache(env, upper),
      refreshAhead: fraction(env, `ELILE_CACHE_REFRESH_AHEAD_${upper}`),
      grace: positiveNumber(env, `ELILE_CACHE_GRACE_${upper}`),
      softTimeout: positiveNumber(env, `ELILE_CACHE_SOFT_TIMEOUT_${upper}`),
    });
    if (Object.keys(settings).length > 0) domains[domain] = settings;
  }
  return withoutUndefined({
    store: oneOf(env, 'ELILE_CACHE_STORE', ['redis', 'memory'] as const),
    namespace: text(env, 'ELILE_CACHE_NAMESPACE'),
    codec: oneOf(env, 'ELILE_CACHE_CODEC', ['auto', 'msgpack', 'json'] as const),
    compressionThreshold: wholeNumber(env, 'ELILE_CACHE_COMPRESSION_THRESHOLD', 0),
    maxDecompressedSize: wholeNumber(env, 'ELILE_CACHE_MAX_DECOMPRESSED_SIZE', 1024),
    leaseTtl: positiveNumber(env, 'ELILE_CACHE_LEASE_TTL'),
    fleetSingleFlight: flag(env, 'ELILE_CACHE_FLEET_SINGLE_FLIGHT'),
    domains,
    locks: withoutUndefined({ prefix: text(env, 'ELILE_CACHE_PREFIX_LOCK') }),
    redis: withoutUndefined({
      url: redisUrl(env),
      username: text(env, 'ELILE_REDIS_USERNAME'),
      password: text(env, 'ELILE_REDIS_PASSWORD'),
      maxConnections: wholeNumber(env, 'ELILE_REDIS_MAX_CONNECTIONS', 1),
      commandTimeout: positiveNumber(env, 'ELILE_REDIS_SOCKET_TIMEOUT'),
      connectTimeout: positiveNumber(env, 'ELILE_REDIS_SOCKET_CONNECT_TIMEOUT'),
      maxInFlight: wholeNumber(env, 'ELILE_REDIS_MAX_IN_FLIGHT', 1),
      readTimeout: positiveNumber(env, 'ELILE_REDIS_READ_TIMEOUT'),
      writeTimeout: positiveNumber(env, 'ELILE_REDIS_WRITE_TIMEOUT'),
      breaker: withoutUndefined({
        enabled: flag(env, 'ELILE_REDIS_BREAKER_ENABLED'),
        threshold: wholeNumber(env, 'ELILE_REDIS_BREAKER_THRESHOLD', 1),
        halfOpenAfter: positiveNumber(env, 'ELILE_REDIS_BREAKER_HALF_OPEN_AFTER'),
      }),
    }),
    http: withoutUndefined({ trustForwardedHost: flag(env, 'ELILE_HTTP_TRUST_FORWARDED_HOST') }),
  });
}
