import { cacheAdviceDecorator } from './cache-advice.decorator';
import type { CacheEvictOptions } from './cache-decorator-options';

/**
 * Evicts entries after the method succeeds (nothing is evicted when it throws), or before it
 * runs with `beforeInvocation: true`. Name what to evict with `key`, `keys`, `tags` or
 * `allEntries`.
 * @example
 * @CacheEvict({ cache: 'screening', key: (id: string) => id })
 * updateStatus(id: string, status: Status): Promise<void> { … }
 */
export function CacheEvict(options: CacheEvictOptions): MethodDecorator {
  return cacheAdviceDecorator('CacheEvict', { kind: 'cache-evict', options });
}
