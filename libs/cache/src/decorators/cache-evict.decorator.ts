/* eslint-disable @typescript-eslint/no-explicit-any -- argument lists of arbitrary methods */
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
export function CacheEvict<A extends any[] = any[], R = any>(options: CacheEvictOptions<A, R>): MethodDecorator {
  return cacheAdviceDecorator('CacheEvict', { kind: 'cache-evict', options });
}
