/** Resolved, validated options (internal). */
export const CACHE_OPTIONS = Symbol('elile.cache.options');
/** The CacheStore chosen by the options (internal). */
export const CACHE_STORE = Symbol('elile.cache.store');
/** The LockBackend chosen by the options (internal). */
export const LOCK_BACKEND = Symbol('elile.cache.lockBackend');
/** Keys the module keeps for itself (tag indexes) start with this, after the namespace. */
export const INTERNAL_KEY_PREFIX = '__elile:';
/** Metadata key of `@CacheWarmer` on a method: the domain it warms (internal). */
export const CACHE_WARMER_METADATA = 'elile.cache.warmer';
