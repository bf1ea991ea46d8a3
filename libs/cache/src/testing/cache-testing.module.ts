import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { CACHE_OPTIONS, CACHE_STORE } from '../cache.constants';
import { CacheConfigurationError } from '../cache.errors';
import { CacheModule } from '../cache.module';
import type { CacheModuleOptions } from '../options/cache-module-options.interface';
import type { ResolvedCacheOptions } from '../options/resolve-options';
import { CacheProbe } from './cache-probe';
import { RecordingStore } from './recording.store';

/** Options of `CacheTestingModule.forRoot()`: the module's, without a store or a connection. */
export type CacheTestingOptions = Omit<CacheModuleOptions, 'store' | 'redis'>;

/**
 * `CacheModule` for unit tests of the code that uses it: the in-process memory store and
 * in-process locks (no Redis), with everything else as in production — domains, codecs, TTLs,
 * `@Cacheable`/`@CacheEvict`/`@CachePut`/`@WithLock` wrapped at init, `CacheInvalidator`,
 * warming — plus an injectable {@link CacheProbe} to look at entries and counters.
 *
 * Global by default (`isGlobal: true`), so the feature modules under test find their caches.
 * Each compiled testing module has its own store: entries never leak between apps.
 *
 * @example
 * const moduleRef = await Test.createTestingModule({
 *   imports: [CacheTestingModule.forRoot({ domains: { reports: { ttl: 60 } } })],
 *   providers: [ReportsService],
 * }).compile();
 * await moduleRef.init(); // wraps the decorated methods
 * const probe = moduleRef.get(CacheProbe);
 */
@Module({})
export class CacheTestingModule {
  static forRoot(options: CacheTestingOptions = {}): DynamicModule {
    const cacheModule = CacheModule.forRoot({ isGlobal: true, ...options, store: 'memory' });
    const core = findStoreOwner(cacheModule);
    if (!core) {
      throw new CacheConfigurationError('CacheTestingModule could not find the cache store provider of CacheModule');
    }
    core.providers = [
      ...core.providers.filter((provider) => !isStoreProvider(provider)),
      {
        provide: CACHE_STORE,
        useFactory: (resolved: ResolvedCacheOptions) => new RecordingStore(resolved.memoryMaxEntries),
        inject: [CACHE_OPTIONS],
      },
      CacheProbe,
    ];
    core.exports = [...(core.exports ?? []), CacheProbe];
    return { module: CacheTestingModule, imports: [cacheModule], exports: [cacheModule] };
  }
}

function isStoreProvider(provider: Provider): boolean {
  return typeof provider === 'object' && 'provide' in provider && provider.provide === CACHE_STORE;
}

/** The module of `CacheModule.forRoot()`'s tree that provides the store (its global core). */
function findStoreOwner(module: DynamicModule): (DynamicModule & { providers: Provider[] }) | undefined {
  if (module.providers?.some(isStoreProvider)) return module as DynamicModule & { providers: Provider[] };
  for (const imported of module.imports ?? []) {
    if (typeof imported === 'object' && imported !== null && 'module' in imported) {
      const owner = findStoreOwner(imported as DynamicModule);
      if (owner) return owner;
    }
  }
  return undefined;
}
