import 'reflect-metadata';

/**
 * `@nestjs/cache-manager`'s metadata keys (its `CACHE_KEY_METADATA`, set by `@CacheKey`, and
 * `CACHE_TTL_METADATA`, set by `@CacheTTL`), repeated here because the library does not depend on
 * that package; its tests pin them to the package's own behaviour.
 */
const CACHE_MANAGER_KEY_METADATA = 'cache_module:cache_key';
const CACHE_MANAGER_TTL_METADATA = 'cache_module:cache_ttl';

/**
 * The key this library gives cache-manager for its handlers: none. cache-manager's
 * `CacheInterceptor` calls a key factory found in the handler's metadata and, when the key is
 * empty, runs the handler without caching it.
 */
function noCacheManagerKey(): undefined {
  return undefined;
}

/**
 * Hands a handler carrying our cache advice to this library alone: `@nestjs/cache-manager`'s
 * `CacheInterceptor` — which, registered globally, caches every GET handler by URL — passes it
 * by. Without this, both would cache its response: two entries with two TTLs, and our
 * `@CacheEvict` would leave cache-manager's copy to be served stale.
 *
 * A handler that already carries `@CacheKey` keeps it, so the explorer can refuse the pair.
 */
export function passByCacheManager(handler: object): void {
  if (Reflect.getMetadata(CACHE_MANAGER_KEY_METADATA, handler) === undefined) {
    Reflect.defineMetadata(CACHE_MANAGER_KEY_METADATA, noCacheManagerKey, handler);
  }
}

/** The `@nestjs/cache-manager` decorator on a handler (not its class), if any. */
export function cacheManagerDecoratorOn(handler: object): '@CacheKey' | '@CacheTTL' | undefined {
  const key: unknown = Reflect.getMetadata(CACHE_MANAGER_KEY_METADATA, handler);
  if (key !== undefined && key !== noCacheManagerKey) return '@CacheKey';
  if (Reflect.getMetadata(CACHE_MANAGER_TTL_METADATA, handler) !== undefined) return '@CacheTTL';
  return undefined;
}
