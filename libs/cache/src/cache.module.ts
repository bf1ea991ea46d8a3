import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CACHE_OPTIONS, CACHE_STORE, LOCK_BACKEND } from './cache.constants';
import {
  CACHE_MODULE_ASYNC_OPTIONS_TYPE,
  CACHE_MODULE_OPTIONS,
  CACHE_MODULE_OPTIONS_TYPE,
  ConfigurableCacheModule,
} from './cache.module-definition';
import { CacheRegistry } from './caches/cache.registry';
import { getCacheToken } from './caches/cache-token.util';
import { AdviceExplorer } from './interception/advice.explorer';
import { CacheInvalidator } from './invalidation/cache-invalidator';
import { CacheWarming } from './warming/cache-warming.service';
import { WarmerExplorer } from './warming/warmer.explorer';
import { LockService } from './lock/lock.service';
import { MemoryLockBackend } from './lock/memory-lock.backend';
import { RedisLockBackend } from './lock/redis-lock.backend';
import { BUILT_IN_DOMAIN_NAMES } from './options/cache-defaults';
import type { CacheModuleOptions } from './options/cache-module-options.interface';
import { resolveCacheOptions, type ResolvedCacheOptions } from './options/resolve-options';
import { RedisClient } from './redis/redis.client';
import { MemoryStore } from './store/memory.store';
import { RedisStore } from './store/redis.store';
import type { CacheStore } from './store/cache-store.interface';
import { CacheCoherence } from './near/cache-coherence';

/**
 * Holds the per-application machinery (connection, store, registry) once, whatever module
 * injects a cache. Global so that `CacheModule.forFeature()` works in any module.
 */
@Global()
@Module({})
class CacheCoreModule {}

/** Carries the domain tokens of `CacheModule.forFeature()`. */
@Module({})
class CacheFeatureModule {}

const coreProviders: Provider[] = [
  {
    provide: CACHE_OPTIONS,
    useFactory: (options: CacheModuleOptions) => resolveCacheOptions(options),
    inject: [CACHE_MODULE_OPTIONS],
  },
  {
    provide: RedisClient,
    useFactory: (options: ResolvedCacheOptions) =>
      new RedisClient(options.store === 'redis' ? options.redis : undefined),
    inject: [CACHE_OPTIONS],
  },
  {
    provide: CACHE_STORE,
    useFactory: (options: ResolvedCacheOptions, redis: RedisClient) =>
      options.store === 'redis' ? new RedisStore(redis) : new MemoryStore(options.memoryMaxEntries),
    inject: [CACHE_OPTIONS, RedisClient],
  },
  {
    provide: CacheCoherence,
    useFactory: (options: ResolvedCacheOptions, store: CacheStore, redis: RedisClient) =>
      new CacheCoherence(options, store, redis),
    inject: [CACHE_OPTIONS, CACHE_STORE, RedisClient],
  },
  CacheRegistry,
  AdviceExplorer,
  {
    provide: LOCK_BACKEND,
    useFactory: (options: ResolvedCacheOptions, redis: RedisClient) =>
      options.store === 'redis' ? new RedisLockBackend(redis) : new MemoryLockBackend(),
    inject: [CACHE_OPTIONS, RedisClient],
  },
  LockService,
  CacheInvalidator,
  WarmerExplorer,
  CacheWarming,
];

function domainProviders(domains: readonly string[]): Provider[] {
  return [...new Set(domains)].map((domain) => ({
    provide: getCacheToken(domain),
    useFactory: (registry: CacheRegistry) => registry.get(domain),
    inject: [CacheRegistry],
  }));
}

/**
 * The cache module. Import it once at the root with `forRoot()` or `forRootAsync()`; inject
 * domain caches with `@InjectCache(name)`, the connection as `RedisClient` and locks as
 * `LockService`.
 *
 * Domain tokens are known when the module is defined, before async options exist: the built-in
 * domains and those named in `forRoot({ domains })` are registered there; domains that only an
 * async factory configures are registered with `CacheModule.forFeature([...])`.
 */
@Module({})
export class CacheModule extends ConfigurableCacheModule {
  static override forRoot(options: typeof CACHE_MODULE_OPTIONS_TYPE = {}): DynamicModule {
    return withCore(super.forRoot(options), Object.keys(options.domains ?? {}));
  }

  static override forRootAsync(options: typeof CACHE_MODULE_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withCore(super.forRootAsync(options), []);
  }

  /** Makes further domains injectable in the importing module (they must be configured). */
  static forFeature(domains: readonly string[]): DynamicModule {
    const providers = domainProviders(domains);
    return { module: CacheFeatureModule, providers, exports: providers };
  }
}

function withCore(definition: DynamicModule, declaredDomains: readonly string[]): DynamicModule {
  const core: DynamicModule = {
    module: CacheCoreModule,
    global: true,
    imports: [...(definition.imports ?? []), DiscoveryModule],
    providers: [...(definition.providers ?? []), ...coreProviders],
    exports: [RedisClient, CacheRegistry, LockService, CacheInvalidator, CacheWarming],
  };
  const domains = domainProviders([...BUILT_IN_DOMAIN_NAMES, ...declaredDomains]);
  return {
    module: definition.module,
    global: definition.global,
    imports: [core],
    providers: domains,
    exports: domains,
  };
}
