import type { FactoryProvider } from '@nestjs/common';
import { CacheRegistry } from '../caches/cache.registry';
import { SessionCache } from './session-cache';

/**
 * Makes `SessionCache` injectable (by its class) in the module that lists this provider, on the
 * `domain`'s cache — the built-in `session` domain unless another is named.
 * @example
 * @Module({ providers: [provideSessionCache(), AuthService] })
 */
export function provideSessionCache(domain = 'session'): FactoryProvider<SessionCache<unknown>> {
  return {
    provide: SessionCache,
    useFactory: (registry: CacheRegistry) => new SessionCache(registry.get(domain)),
    inject: [CacheRegistry],
  };
}
