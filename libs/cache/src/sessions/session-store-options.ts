import { CacheConfigurationError } from '../cache.errors';
import { sessionMessages } from '../cache.messages';
import type { CacheRegistry } from '../caches/cache.registry';
import type { RedisClient } from '../redis/redis.client';
import type { RedisConnection } from '../redis/redis-connection.factory';

/** The options of connect-redis's `RedisStore` that put express-session's sessions in a domain. */
export interface SessionStoreOptions {
  /** The module's ioredis connection (with its deadlines; connect-redis sends its commands itself). */
  readonly client: RedisConnection;
  /** `namespace + the domain's prefix`, as every cache key of the domain starts. */
  readonly prefix: string;
  /** The domain's TTL in seconds: how long a session lives after its last request. */
  readonly ttl: number;
}

const PROBE = 'x';

/**
 * Options for `new RedisStore(...)` of connect-redis 7, so that express-session keeps its
 * sessions on the module's connection, under the `domain`'s prefix and for its TTL.
 * @example
 * app.use(session({ store: new RedisStore(sessionStoreOptions(redis, registry)), secret, resave: false,
 *   saveUninitialized: false, rolling: true }));
 * @throws CacheConfigurationError when the prefix holds a glob character (connect-redis's
 *   `clear()`, `all()`, `ids()` and `length()` SCAN for `prefix + '*'` unescaped, and would reach
 *   other keys) or the TTL is not a whole number of seconds (connect-redis writes it with `EX`).
 */
export function sessionStoreOptions(
  redis: RedisClient,
  registry: CacheRegistry,
  domain = 'session',
): SessionStoreOptions {
  const cache = registry.get(domain);
  // fullKey is namespace + prefix + key for a plain key; the prefix is what precedes the key.
  const prefix = cache.fullKey(PROBE).slice(0, -PROBE.length);
  if (/[*?[\]\\]/.test(prefix)) throw new CacheConfigurationError(sessionMessages.badStorePrefix(prefix));
  const ttl = cache.defaultTtl;
  if (!Number.isInteger(ttl)) throw new CacheConfigurationError(sessionMessages.badStoreTtl(ttl));
  return { client: redis.connection, prefix, ttl };
}
