import { UseInterceptors } from '@nestjs/common';
import { passByCacheManager } from '../interception/cache-manager-interop';
import { CacheInterceptor } from '../interception/cache.interceptor';
import { type AdviceSpec, recordAdvice } from '../interception/method-dispatcher';

/**
 * Shared body of the caching decorators: record the advice, attach the interceptor that gives it
 * HTTP semantics when the method is a controller handler (inert on other providers), and keep
 * `@nestjs/cache-manager`'s interceptor off the handler, so that only one of the two caches it.
 */
export function cacheAdviceDecorator(name: string, spec: AdviceSpec): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    recordAdvice(name, target, propertyKey, descriptor, spec);
    UseInterceptors(CacheInterceptor)(target, propertyKey, descriptor);
    passByCacheManager(descriptor.value as object);
  };
}
