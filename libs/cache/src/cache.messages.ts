/**
 * Every sentence the library logs or throws about its connection lives here, and this is the one
 * place secrets are removed. ioredis errors carry the AUTH arguments in `command.args`, so nothing
 * from a connection reaches a log or an error without `redact`; connection targets are built
 * from parsed options and never hold a password (see redis/connection-secrets.ts).
 */

/**
 * Replaces each secret that occurs in `text` (longest first: give them sorted). Secrets shorter
 * than 3 characters are left alone: masking every "a" of a message would garble it and, by the
 * gaps, print the password all the same. No sentence is built from a secret, so this only guards
 * text that comes from Redis and ioredis.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 3) result = result.split(secret).join('***');
  }
  return result;
}

export const messages = {
  connected: (target: string) => `Redis ready at ${target}`,
  connectionLost: (target: string) => `Redis connection to ${target} lost; reconnecting in the background`,
  initialConnectFailed: (target: string, reason: string) =>
    `Could not connect to Redis at ${target} during startup (${reason}); cache calls fail fast and ` +
    `degrade to their loaders until it is reachable`,
  connectionError: (reason: string) => `Redis connection error: ${reason}`,
  redisUrlInvalid: () =>
    `CacheModule option "redis.url" (ELILE_REDIS_URL) is not a valid URL (not repeated here: it may ` +
    `hold a password); in the user name and password write "/" as %2F, "?" as %3F and "#" as %23`,
  redisUrlMisread: () =>
    `CacheModule option "redis.url" (ELILE_REDIS_URL) has an "@" after its host (not repeated here: ` +
    `it may hold a password), so ioredis would read part of the user name or password as host, port ` +
    `or database; percent-encode "/" (%2F), "?" (%3F), "#" (%23) and "@" (%40) in the user name, ` +
    `the password and the query`,
  redisUrlBadEscape: () =>
    `The user name or password in CacheModule option "redis.url" (ELILE_REDIS_URL) has a "%" that ` +
    `starts no percent-escape (not repeated here: it may hold a password); write "%" as %25`,
  maxConnectionsIgnored: (value: number) =>
    `redis.maxConnections (ELILE_REDIS_MAX_CONNECTIONS) is ${value}, but ioredis multiplexes all ` +
    `commands over one connection: there is no pool to size, so the value has no effect`,
  memoryStore: () => 'Caches use the in-process memory store (entries are not shared between instances)',
  redisDisabled: () =>
    `RedisClient is not available: CacheModule is configured with store 'memory'. ` +
    `Configure store 'redis' to use it.`,
  notConnected: (command: string) => `Redis is not connected; "${command}" was not sent`,
  redisUrlParameter: (name: string) =>
    `CacheModule option "redis.url" (ELILE_REDIS_URL) has the query parameter ${JSON.stringify(name)}; ` +
    `only db, username and password are read from the URL (give other ioredis settings as ` +
    `"redis.ioredis" options, where the module's own deadlines still apply)`,
  redisUrlDatabase: () =>
    `CacheModule option "redis.url" (ELILE_REDIS_URL) names a database that is not a whole number`,
  redisUrlTwoDatabases: () =>
    `CacheModule option "redis.url" (ELILE_REDIS_URL) names a database both in its path and in its ` +
    `"db" query parameter, and they differ; keep one (the path would win)`,
  overloaded: (command: string, maxInFlight: number) =>
    `${maxInFlight} Redis commands are already outstanding (redis.maxInFlight); "${command}" was not sent`,
  connectionHung: (target: string, timeouts: number) =>
    `Redis at ${target} answered none of the last ${timeouts} commands within their deadline; ` +
    `reconnecting, and failing commands fast until it answers`,
  circuitOpen: (command: string) =>
    `The Redis circuit breaker is open (Redis failed or timed out repeatedly); "${command}" was not sent`,
  breakerOpened: (target: string, threshold: number, reason: string) =>
    `Redis circuit breaker opened: ${threshold} commands in a row to ${target} failed or timed out ` +
    `(last: ${reason}); until a probe answers, reads go to their loaders, writes are skipped and locks refuse`,
  breakerHalfOpen: (target: string) =>
    `Redis circuit breaker half-open: probing ${target} (further failed probes of this outage are not logged)`,
  breakerClosed: (target: string, openMs: number, probes: number) =>
    `Redis circuit breaker closed: ${target} answered after ${(openMs / 1000).toFixed(1)} s open ` +
    `(${probes} probe${probes === 1 ? '' : 's'}); commands are sent again`,
  timedOut: (command: string, timeoutMs: number) =>
    `Redis did not answer "${command}" within ${timeoutMs} ms; its outcome is unknown`,
  commandFailed: (command: string, reason: string) => `Redis rejected "${command}": ${reason}`,
  cacheDegraded: (domain: string, operation: string, reason: string) =>
    `Cache "${domain}" ${operation} failed (${reason}); served from the source instead`,
  cacheWriteFailed: (domain: string, operation: string, reason: string) =>
    `Cache "${domain}" ${operation} failed (${reason}); nothing was cached`,
  cacheWorkFailed: (domain: string, operation: string, reason: string) =>
    `Cache "${domain}" ${operation} failed (${reason}); the method's own result was returned`,
  tagMarkerNotRecorded: (deleted: number) =>
    `Redis is out of memory: the tagged entries were deleted (${deleted}), but the invalidation could ` +
    `not be recorded, so a read-through that began before it may still store what it loaded`,
  corruptEntry: (domain: string, reason: string) =>
    `Cache "${domain}" found an entry it cannot decode (${reason}); deleted it and treated it as a miss`,
  configPackageMissing: () =>
    `cacheConfig reads ELILE_* variables through @nestjs/config, which is not installed: ` +
    `run \`npm i @nestjs/config\`, or pass CacheModule.forRoot options in code (cacheOptionsFromEnv() ` +
    `reads the same variables without it)`,
};

/** Sentences of the health indicator (`@elile/cache/health`). */
export const healthMessages = {
  redisDown: (reason: string) => `Redis did not answer PING: ${reason}`,
};

/** Sentences of the Prometheus metrics (`@elile/cache/metrics`). */
export const metricsMessages = {
  registryTaken: () =>
    `The elile_cache_* metrics are already registered on this prom-client registry (a second ` +
    `application in this process, or CacheMetricsModule imported twice): give each application ` +
    `its own, e.g. CacheMetricsModule.forRoot({ registry: new Registry() })`,
};

/** Sentences about distributed locks (`LockService`). Keys are the caller's, never full Redis keys. */
export const lockMessages = {
  notAcquired: (key: string, waitMs: number) =>
    waitMs === 0
      ? `Lock "${key}" is held by another owner`
      : `Lock "${key}" is held by another owner; not acquired within ${waitMs / 1000} s`,
  lostExpired: (key: string) => `Lock "${key}" was lost: its validity ran out before an extension returned`,
  lostRefused: (key: string) =>
    `Lock "${key}" was lost: Redis no longer holds it for this owner (it expired, another owner took ` +
    `it, or Redis lost its data)`,
  lostExtendFailed: (key: string, reason: string) => `Lock "${key}" was lost: extending it failed (${reason})`,
  lostAtShutdown: (key: string) => `Lock "${key}" was released because the application is shutting down`,
  lostInCallback: (reason: string, callbackError: string) => `${reason}; the callback then failed: ${callbackError}`,
  alreadyReleased: (key: string) => `Lock "${key}" was already released`,
  circuitOpen: (key: string) =>
    `Lock "${key}" was not acquired: the Redis circuit breaker is open (Redis failed or timed out ` +
    `repeatedly), so Redis was not asked; nothing is held`,
  notReplicated: (key: string, acknowledged: number, required: number, timeoutMs: number) =>
    `Lock "${key}" reached ${acknowledged} of ${required} required replicas within ${timeoutMs} ms; ` +
    `released it, because a failover could hand it to a second owner`,
  releaseFailed: (key: string, reason: string) =>
    `Releasing lock "${key}" failed (${reason}); it will expire at the end of its TTL`,
  replicatedConnectionFailed: (reason: string) =>
    `The connection for replicated lock acquisitions failed (${reason}); they fail until it is back`,
  notificationsUnavailable: (reason: string) =>
    `Lock release notifications are unavailable (${reason}); waiting acquires poll until they are back`,
  unsafeEvictionPolicy: (policy: string) =>
    `Locks and tag invalidation are not safe on this Redis: maxmemory-policy is "${policy}", so under ` +
    `memory pressure Redis may evict a held lock's key and let a second owner take it, or evict a ` +
    `tag's index so that invalidateTags misses entries still cached under the tag. Set ` +
    `maxmemory-policy to noeviction on this Redis, or keep locks and tagged entries on one that has it.`,
  evictionPolicyUnverified: (reason: string) =>
    `Could not verify that Redis keeps lock keys under memory pressure (CONFIG GET maxmemory-policy ` +
    `failed: ${reason}); make sure its maxmemory-policy is noeviction`,
  inProcess: () => `Locks are held in this process only (memory store): they exclude nothing across instances`,
};

/** Sentences about encoding values and decoding entries (codecs and the entry header). */
export const codecMessages = {
  undefinedValue: () =>
    `Cannot cache undefined (it would read back as a miss); cache null to remember "nothing", or skip the write`,
  functionValue: () => `Cannot cache a function`,
  circularValue: () => `Cannot cache a circular (or extremely deep) structure`,
  unencodable: (reason: string) => `Cannot cache this value: ${reason}`,
  unencodableAsJson: (reason: string) => `Cannot cache this value as JSON: ${reason}`,
  notJson: (kind: string, key: string) => `The JSON codec cannot represent ${kind}${key ? ` (at "${key}")` : ''}`,
  loneSurrogate: () => `Cannot cache a string holding a lone UTF-16 surrogate (invalid Unicode)`,
  dangerousKey: (key: string) =>
    `Cannot cache an object with an own "${key}" key: reads strip it (a deep merge of it would ` +
    `pollute prototypes), so a hit would not return what was stored`,
  noHeader: () => `Entry has no cache header (written by another program, or truncated)`,
  lengthMismatch: () => `Entry length does not match its header (truncated or corrupted)`,
  unknownFlags: (flags: number) => `Entry header has unknown flags 0x${flags.toString(16)}`,
  unknownCodec: (id: number) => `Entry was written with unknown codec id ${id}`,
  malformedLease: () => `Entry carries the lease codec id but is not a lease (wrong length or flags)`,
  inflatesTooLarge: (limit: number) => `Entry inflates to more than maxDecompressedSize (${limit} bytes)`,
  holdsUndefined: () => `Entry holds undefined, which the cache does not store (written by an older version)`,
  doesNotDecode: (reason: string) => `Entry does not decode: ${reason}`,
};

/** Sentences about `CacheInvalidator` rules and the tags they use. */
export const invalidationMessages = {
  badTagKind: (got: string) => `An invalidation tag kind must be letters, digits, "_", "." or "-" (no ":"), got ${got}`,
  badId: (got: string) => `Invalidation ids must be non-empty strings, got ${got}`,
  badTag: (got: string) => `Invalidation tags must be non-empty strings, got ${got}`,
  badIdList: (field: string, got: string) => `invalidateBatch needs "${field}" to be an array of ids, got ${got}`,
  failed: (rule: string, parts: readonly string[], total: number) =>
    `Cache invalidation ${rule} did not complete; these may still be cached until their TTL: ` +
    `${parts.join('; ')}${total > parts.length ? `; and ${total - parts.length} more` : ''}`,
  failedPart: (domain: string, what: string, reason: string) => `${domain} ${what} (${reason})`,
  items: (kind: 'keys' | 'tags' | 'patterns', shown: readonly string[], more: number) =>
    `${kind === 'patterns' ? 'keys matching' : kind} ${shown.map((item) => JSON.stringify(item)).join(', ')}` +
    (more > 0 ? ` and ${more} more` : ''),
};

/** Sentences about cache warming (`CacheWarming`, `@CacheWarmer`). */
export const warmingMessages = {
  badDomain: (got: string) => `@CacheWarmer needs a cache domain name, got ${got}`,
  badJitter: (got: string) => `Warming jitter must be a number from 0 to below 1, got ${got}`,
  misalignedValues: (expected: number, got: number | string) =>
    `A warmer's load was given ${expected} keys and returned ${typeof got === 'number' ? `${got} values` : got}; ` +
    `it must return an array of one value per key, in order`,
  badWarmup: (warmer: string, got: string) => `${warmer} must return { keys: string[], load(keys) }, got ${got}`,
  classWithoutDomain: (warmer: string, got: string) =>
    `${warmer} has a cacheWarmup() method, so it is a CacheWarmer, but its cacheDomain is ${got}: ` +
    `give it the name of the domain it warms`,
  scopedWarmer: (warmer: string) =>
    `${warmer} is a cache warmer, but its provider is request-scoped or transient (or depends on a ` +
    `request-scoped provider): warming runs at startup, outside any request. Move it to a singleton provider.`,
  progress: (domain: string, done: number, total: number, perSecond: number) =>
    `Warming "${domain}": ${done}/${total} entries, ${Math.round(perSecond)} entries/s`,
  done: (domain: string, total: number, perSecond: number, seconds: number, detail: string) =>
    `Warmed "${domain}": ${total}/${total} entries in ${seconds.toFixed(1)} s, ${Math.round(perSecond)} entries/s (${detail})`,
  detail: (filled: number, present: number, refused: number, skipped: number, errors: number) =>
    `${filled} filled, ${present} already cached, ${refused} kept newer state, ${skipped} not found, ${errors} errors`,
  warmerFailed: (domain: string, warmer: string, keys: number, reason: string) =>
    `Warming "${domain}": ${warmer} failed for ${keys} entr${keys === 1 ? 'y' : 'ies'} (${reason}); they are loaded on first read instead`,
  noWarmer: (domain: string, known: readonly string[]) =>
    `No cache warmer warms domain ${domain}; domains with warmers: ${known.length ? known.join(', ') : 'none'}`,
  skippedRecent: (domain: string) => `Warming "${domain}" skipped: the fleet warmed it recently`,
  skippedLocked: (domain: string) => `Warming "${domain}" skipped: another instance is warming it`,
  waiting: (domain: string) => `Warming "${domain}": waiting for another instance to finish warming it`,
  lockUnavailable: (domain: string, reason: string) =>
    `Warming "${domain}" skipped: the fleet's warm-up lock could not be taken (${reason})`,
  lockLost: (domain: string) =>
    `Warming "${domain}" stopped early: its warm-up lock was lost (another instance may warm it now)`,
  markerFailed: (domain: string, reason: string) =>
    `Warming "${domain}": could not record that it was warmed (${reason}); other instances may warm it again`,
  bootFailed: (summary: string) => `Cache warming failed at startup (warming.failOnError): ${summary}`,
  failOnErrorInBackground: () =>
    `CacheModule option "warming.failOnError" needs "warming.await: true": a warm-up running in the ` +
    `background cannot fail the boot`,
};

export const nearMessages = {
  channelUp: (prefixes: number) =>
    `Invalidation channel ready (Redis client-side tracking of ${prefixes} key prefix${prefixes === 1 ? '' : 'es'}): near caches and fleet-wide single flight are on`,
  channelDown: (reason: string) =>
    `Invalidation channel down (${reason}): near caches are cleared and bypassed, and misses load without waiting for other instances, until it is back`,
  channelRefused: (reason: string) =>
    `Redis refused client-side tracking (${reason}): near caches stay bypassed and misses do not wait for other instances. ` +
    `The module's Redis user needs CLIENT ID, CLIENT TRACKING, SUBSCRIBE and PING, and the channel __redis__:invalidate`,
  heartbeatMissed: (timeoutMs: number) => `no answer to a heartbeat within ${timeoutMs} ms`,
  connectionClosed: () => 'its connection closed',
  l1OnCluster: (domain: string) =>
    `Cache domain "${domain}" asks for a near cache (l1), which needs a standalone or Sentinel Redis for now: ` +
    `on a Redis Cluster, invalidations would have to be tracked on every master`,
  badL1: (domain: string, got: string) =>
    `CacheModule option "domains.${domain}.l1" must be true, false or { maxEntries, ttl }, got ${got}`,
  badRefreshAhead: (where: string, got: string) =>
    `${where} must be a fraction of the TTL above 0 and below 1 (e.g. 0.8 refreshes in the last 20%), got ${got}`,
  refreshTimedOut: (leaseTtlMs: number) => `the loader did not settle within the lease TTL (${leaseTtlMs} ms)`,
  refreshFailed: (domain: string, reason: string) =>
    `Refresh-ahead of a "${domain}" entry failed (${reason}); the cached value is served until its TTL ends`,
};

/** Sentences about `RedisThrottlerStorage`. */
export const throttlerMessages = {
  badPolicy: (got: string, known: readonly string[]) =>
    `RedisThrottlerStorage option "whenUnavailable" must be one of ${known.map((p) => `'${p}'`).join(', ')}, got ${got}`,
  badArgument: (problem: string) => `RedisThrottlerStorage.increment needs ${problem}`,
  inProcess: () =>
    `Throttler limits are counted in this process (CacheModule uses the memory store): each instance ` +
    `allows the full limit`,
  unavailable: (policy: string, reason: string) =>
    `Throttler could not reach Redis (${reason}); ` +
    (policy === 'local'
      ? `counting requests in this process until it answers (each instance allows the full limit)`
      : policy === 'open'
        ? `letting requests through uncounted until it answers (whenUnavailable: 'open')`
        : `refusing requests until it answers (whenUnavailable: 'closed')`),
};

/** Sentences about `SessionCache`. Session ids are bearer secrets: never part of a sentence. */
export const sessionMessages = {
  badId: (got: string) =>
    `Session ids must be non-empty strings of at most 256 characters outside the reserved "__elile:" space, got ${got}`,
  refusedId: (domain: string) =>
    `Cache "${domain}" was asked for a session under an id it cannot hold (empty, too long or in the ` +
    `reserved "__elile:" space); answered as no session`,
  badStorePrefix: (prefix: string) =>
    `The session store prefix ${JSON.stringify(prefix)} holds a Redis glob character (* ? [ ] \\): ` +
    `connect-redis's clear(), all(), ids() and length() would match other keys; choose a namespace and ` +
    `session prefix without them`,
  badStoreTtl: (ttl: number) =>
    `connect-redis sets TTLs in whole seconds (EX); the session domain's ttl is ${ttl} s: give it a whole number of seconds`,
};
