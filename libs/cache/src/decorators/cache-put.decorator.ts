/* eslint-disable @typescript-eslint/no-explicit-any -- argument lists of arbitrary methods */
import { cacheAdviceDecorator } from './cache-advice.decorator';
import type { CachePutOptions } from './cache-decorator-options';

/**
 * Always runs the method and stores its result under `key` (write-through after an update).
 * @example
 * @CachePut({ cache: 'screening', key: (s: Screening) => s.id })
 * save(s: Screening): Promise<Screening> { … }
 */
export function CachePut<A extends any[] = any[], R = any>(options: CachePutOptions<A, R>): MethodDecorator {
  return cacheAdviceDecorator('CachePut', { kind: 'cache-put', options });
}
