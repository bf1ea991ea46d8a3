import { cacheAdviceDecorator } from './cache-advice.decorator';
import type { CacheableOptions } from './cache-decorator-options';

/**
 * Read-through caching of a method's result (value, Promise, or Observable): a hit skips the
 * method; concurrent calls with the same key run it once. Works on any provider and on
 * controller handlers (it brings its `CacheInterceptor` along; adding one yourself is harmless).
 * A synchronous method becomes asynchronous: declare it as returning a Promise.
 * @example
 * @Cacheable({ cache: 'screening', key: (id: string) => id, ttl: 60 })
 * findScreening(id: string): Promise<Screening> { … }
 */
export function Cacheable(options: CacheableOptions): MethodDecorator {
  return cacheAdviceDecorator('Cacheable', { kind: 'cacheable', options });
}
