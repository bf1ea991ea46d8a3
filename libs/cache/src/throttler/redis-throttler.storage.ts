import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';
import { CacheArgumentError, CacheConfigurationError, CacheRedisError } from '../cache.errors';
import { throttlerMessages } from '../cache.messages';
import type { CacheRegistry } from '../caches/cache.registry';
import { describe } from '../options/duration.util';
import type { RedisClient } from '../redis/redis.client';
import { RateLimitedLogger } from '../support/rate-limited-logger';
import { THROTTLE_SCRIPT } from './throttle.script';
import { THROTTLE_KEY_PREFIX, throttleKey } from './throttle-keys.util';
import type {
  RedisThrottlerStorageOptions,
  ThrottlerFailurePolicy,
  ThrottlerStorageStats,
} from './throttler-storage-options.interface';

const POLICIES: readonly ThrottlerFailurePolicy[] = ['local', 'open', 'closed'];
/** The `Retry-After` (seconds) of a request refused because Redis could not decide it. */
const CLOSED_RETRY_AFTER = 1;
/** Longer durations would reach past what the script can hand Redis as a whole number of ms. */
const MAX_DURATION_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

interface ThrottleCommand {
  elileThrottle(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
  ): Promise<[number, number, number, number]>;
}

/** What `increment` answers (the package's index does not export its name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** `@nestjs/throttler`'s in-memory storage, which has a shutdown hook for its sweep timer. */
type LocalStorage = ThrottlerStorage & OnApplicationShutdown;

/**
 * `@nestjs/throttler` storage on the module's Redis connection, so that every instance of the
 * application counts against the same limits. Each request is one Lua script on one key (a
 * Redis Cluster is fine), sent through `RedisClient` with its deadline and bulkhead. The
 * semantics of `ttl`, `limit`, `blockDuration` and the throttler name are those of
 * `@nestjs/throttler` 6.7's in-memory storage (a sliding log of hits; see throttle.script.ts).
 *
 * Records live under `namespace + '__elile:#throttle:'`, apart from every cache domain, tag
 * index and lock. When Redis cannot answer, `whenUnavailable` decides (counted in `stats()` and
 * logged, rate-limited). With `store: 'memory'` every limit is per instance (said at boot).
 *
 * @example
 * ThrottlerModule.forRootAsync({
 *   inject: [RedisClient, CacheRegistry],
 *   useFactory: (redis: RedisClient, registry: CacheRegistry) => ({
 *     throttlers: [{ ttl: seconds(60), limit: 10 }],
 *     storage: new RedisThrottlerStorage(redis, registry),
 *   }),
 * })
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('ElileCache:Throttler');
  private readonly log = new RateLimitedLogger(this.logger);
  private readonly keyPrefix: string;
  private readonly policy: ThrottlerFailurePolicy;
  private readonly script?: ThrottleCommand;
  private local?: Promise<LocalStorage>;
  private decided = 0;
  private unavailable = 0;

  /**
   * @throws CacheConfigurationError for an unknown `whenUnavailable`.
   */
  constructor(
    private readonly redis: RedisClient,
    registry: CacheRegistry,
    options: RedisThrottlerStorageOptions = {},
  ) {
    const policy = options.whenUnavailable ?? 'local';
    if (!POLICIES.includes(policy)) {
      throw new CacheConfigurationError(throttlerMessages.badPolicy(describe(policy), POLICIES));
    }
    this.policy = policy;
    this.keyPrefix = registry.namespace + THROTTLE_KEY_PREFIX;
    const connection = redisConnection(redis);
    if (connection) {
      if (!('elileThrottle' in connection)) {
        connection.defineCommand('elileThrottle', { numberOfKeys: 1, lua: THROTTLE_SCRIPT });
      }
      this.script = connection as unknown as ThrottleCommand;
    } else {
      this.logger.log(throttlerMessages.inProcess());
    }
  }

  /**
   * Counts one request of `throttlerName` for `key` and says whether it is over the limit.
   * `ttl` and `blockDuration` are milliseconds, as `@nestjs/throttler` passes them.
   * @throws CacheArgumentError for a `ttl` that is not a positive number, a `limit` that is not a
   *   finite number ≥ 0, a negative `blockDuration`, either duration beyond ~285 years, an empty
   *   throttler name or a key that is not a string: mistakes of configuration, which no policy
   *   should hide.
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    checkArguments(key, ttl, limit, blockDuration, throttlerName);
    const recordKey = throttleKey(this.keyPrefix, throttlerName, key);
    const script = this.script;
    if (!script) return (await this.localStorage()).increment(recordKey, ttl, limit, blockDuration, throttlerName);
    let reply: [number, number, number, number];
    try {
      reply = await this.redis.run('evalsha', () => script.elileThrottle(recordKey, ttl, limit, blockDuration));
    } catch (error) {
      if (!(error instanceof CacheRedisError)) throw error;
      return this.whenUnavailable(error, recordKey, ttl, limit, blockDuration, throttlerName);
    }
    this.decided++;
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = reply;
    return { totalHits, timeToExpire, isBlocked: isBlocked === 1, timeToBlockExpire };
  }

  /** Requests decided by Redis and by the `whenUnavailable` policy since this storage was built. */
  stats(): ThrottlerStorageStats {
    return { decided: this.decided, unavailable: this.unavailable };
  }

  async onApplicationShutdown(): Promise<void> {
    const local = this.local;
    this.local = undefined;
    (await local)?.onApplicationShutdown();
  }

  private async whenUnavailable(
    error: CacheRedisError,
    recordKey: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    this.unavailable++;
    this.log.warn('unavailable', throttlerMessages.unavailable(this.policy, error.message));
    switch (this.policy) {
      case 'local':
        return (await this.localStorage()).increment(recordKey, ttl, limit, blockDuration, throttlerName);
      case 'open':
        return { totalHits: 0, timeToExpire: Math.ceil(ttl / 1000), isBlocked: false, timeToBlockExpire: 0 };
      case 'closed':
        return {
          totalHits: limit + 1,
          timeToExpire: CLOSED_RETRY_AFTER,
          isBlocked: true,
          timeToBlockExpire: CLOSED_RETRY_AFTER,
        };
    }
  }

  /**
   * Loaded on first use, so that importing the library does not need `@nestjs/throttler`
   * installed: only applications that throttle do.
   */
  private localStorage(): Promise<LocalStorage> {
    this.local ??= import('@nestjs/throttler').then(({ ThrottlerStorageService }) => new ThrottlerStorageService());
    return this.local;
  }
}

/** The connection to run the script on, or undefined when the module uses the memory store. */
function redisConnection(redis: RedisClient): Redis | undefined {
  try {
    return redis.connection as Redis;
  } catch (error) {
    if (error instanceof CacheConfigurationError) return undefined;
    throw error;
  }
}

function checkArguments(key: unknown, ttl: unknown, limit: unknown, blockDuration: unknown, name: unknown): void {
  const problem =
    typeof key !== 'string'
      ? `a string key, got ${describe(key)}`
      : typeof name !== 'string' || name === ''
        ? `a non-empty throttler name, got ${describe(name)}`
        : !isFinite(ttl) || ttl <= 0 || ttl > MAX_DURATION_MS
          ? `a ttl that is a positive number of milliseconds up to ${MAX_DURATION_MS}, got ${describe(ttl)}`
          : !isFinite(limit) || limit < 0
            ? `a limit that is a finite number ≥ 0, got ${describe(limit)}`
            : !isFinite(blockDuration) || blockDuration < 0 || blockDuration > MAX_DURATION_MS
              ? `a blockDuration that is a number of milliseconds from 0 to ${MAX_DURATION_MS}, got ${describe(blockDuration)}`
              : undefined;
  if (problem) throw new CacheArgumentError(throttlerMessages.badArgument(problem));
}

function isFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
