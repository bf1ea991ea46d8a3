import { SetMetadata } from '@nestjs/common';
import { CACHE_WARMER_METADATA } from '../cache.constants';
import { CacheConfigurationError } from '../cache.errors';
import { warmingMessages } from '../cache.messages';
import { describe } from '../options/duration.util';
import type { Warmup } from '../warming/warmup.interface';

/**
 * Marks a provider method as a warmer of a cache domain: at bootstrap (and on
 * `CacheWarming.warm()`) it is called and the entries it returns are preloaded, once per fleet.
 * The method returns a `Warmup` (keys and a loader), or a Promise of one. Metadata only: the
 * method itself is unchanged.
 * @throws CacheConfigurationError for a domain that is not a non-empty string.
 * @example
 * @CacheWarmer('org')
 * warmOrganizations(): Warmup<Organization> {
 *   return { keys: this.allIds(), load: (ids) => this.findMany(ids) };
 * }
 */
export function CacheWarmer(domain: string): MethodDecorator {
  if (typeof domain !== 'string' || domain === '') {
    throw new CacheConfigurationError(warmingMessages.badDomain(describe(domain)));
  }
  return SetMetadata(CACHE_WARMER_METADATA, domain);
}

/**
 * A provider class that warms a cache domain, as an alternative to `@CacheWarmer` on a method:
 * any singleton provider with both members is found at bootstrap.
 * @example
 * @Injectable()
 * export class ComplianceWarmer implements CacheWarmer<RuleSet> {
 *   readonly cacheDomain = 'compliance';
 *   cacheWarmup(): Warmup<RuleSet> { … }
 * }
 */
export interface CacheWarmer<T = unknown> {
  /** The domain this warmer preloads. */
  readonly cacheDomain: string;
  /** The entries to preload; called at every warm-up. */
  cacheWarmup(): Warmup<T> | Promise<Warmup<T>>;
}
