import { cacheAdviceDecorator } from './cache-advice.decorator';
import type { CachePutOptions } from './cache-decorator-options';

/**
 * Always runs the method and stores its result under `key` (write-through after an update).
 * @example
 * @CachePut({ cache: 'screening', key: (s: Screening) => s.id })
 * save(s: Screening): Promise<Screening> { … }
 */
export function CachePut(options: CachePutOptions): MethodDecorator {
  return cacheAdviceDecorator('CachePut', { kind: 'cache-put', options });
}
