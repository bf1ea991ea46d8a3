export { CacheModule } from './cache.module';
export {
  CacheArgumentError,
  CacheCircuitOpenError,
  CacheCommandError,
  CacheConfigurationError,
  CacheDecodeError,
  CacheError,
  CacheInvalidationError,
  CacheInvalidationIncompleteError,
  CacheOverloadedError,
  CacheRedisError,
  CacheSerializationError,
  CacheTimeoutError,
  CacheUnavailableError,
  CacheWarmingError,
  LockError,
  LockLostError,
  LockNotAcquiredError,
  LockReplicationError,
  LockUnavailableError,
} from './cache.errors';
export type { InvalidationFailure } from './cache.errors';
export type {
  CacheDomainOptions,
  CacheHttpOptions,
  CacheLockOptions,
  CacheModuleOptions,
  CacheStoreKind,
  CacheWarmingOptions,
  RedisConnectionOptions,
} from './options/cache-module-options.interface';
export { DEFAULT_DOMAINS } from './options/cache-defaults';
export { CACHE_ENV_VARIABLES, cacheOptionsFromEnv } from './options/env-config';
export { cacheConfig } from './options/cache-config';
export type { CacheConfigFactory } from './options/cache-config';
export { RedisClient } from './redis/redis.client';
export type { CommandKind } from './redis/redis.client';
export type { BreakerState, BreakerStatus } from './redis/connection-breaker';
export type { RedisConnection } from './redis/redis-connection.factory';
export { escapeGlob } from './redis/glob.util';
export type { CacheCodec } from './codec/codec.interface';
export { JsonCodec } from './codec/json.codec';
export { MsgpackCodec } from './codec/msgpack.codec';
export { CacheService } from './caches/cache.service';
export type {
  CacheEntry,
  FillAbsentOptions,
  FillAbsentResult,
  GetOrSetOptions,
  SetOptions,
  TagSource,
} from './caches/cache.service';
export type { CacheStats } from './caches/cache-stats';
export type { CacheErrorKind } from './caches/cache-error-kind';
export { ElileKeyvStore } from './keyv/elile-keyv.store';
export type { ElileKeyvEntry } from './keyv/elile-keyv.store';
export { CacheRegistry } from './caches/cache.registry';
export { getCacheToken } from './caches/cache-token.util';
export { InjectCache } from './caches/inject-cache.decorator';
export { Cacheable } from './decorators/cacheable.decorator';
export { CacheEvict } from './decorators/cache-evict.decorator';
export { CachePut } from './decorators/cache-put.decorator';
export type { CacheableOptions, CacheEvictOptions, CachePutOptions } from './decorators/cache-decorator-options';
export { CacheInterceptor } from './interception/cache.interceptor';
export { LockService } from './lock/lock.service';
export type { Lock } from './lock/lock';
export type { LockStats } from './lock/lock-stats';
export type { AcquireOptions, TryAcquireOptions, UsingOptions } from './lock/lock-options.interface';
export { WithLock } from './decorators/with-lock.decorator';
export type { WithLockOptions } from './decorators/with-lock.decorator';
export { currentLock } from './lock/current-lock';
export { LockInterceptor } from './interception/lock.interceptor';
export { CacheInvalidator } from './invalidation/cache-invalidator';
export type { InvalidationBatch, InvalidationPart, InvalidationRuleOptions } from './invalidation/cache-invalidator';
export { invalidationTag, invalidationTags } from './invalidation/invalidation-tags';
export { CacheWarmer } from './decorators/cache-warmer.decorator';
export type { Warmup } from './warming/warmup.interface';
export { CacheWarming } from './warming/cache-warming.service';
export type { WarmingOutcome, WarmingReport } from './warming/cache-warming.service';
export { RedisThrottlerStorage } from './throttler/redis-throttler.storage';
export type {
  RedisThrottlerStorageOptions,
  ThrottlerFailurePolicy,
  ThrottlerStorageStats,
} from './throttler/throttler-storage-options.interface';
export { SessionCache } from './sessions/session-cache';
export type { SessionCacheStats } from './sessions/session-cache';
export { provideSessionCache } from './sessions/session-cache.provider';
export { sessionStoreOptions } from './sessions/session-store-options';
export type { SessionStoreOptions } from './sessions/session-store-options';
export { TRACING_CHANNELS } from './observability/cache-tracing';
export type { CacheLoadContext, CacheOperationContext, LockOperationContext } from './observability/cache-tracing';
export type { NearCacheOptions } from './options/cache-module-options.interface';
