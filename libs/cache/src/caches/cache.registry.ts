import { Inject, Injectable, Logger } from '@nestjs/common';
import { CACHE_OPTIONS, CACHE_STORE } from '../cache.constants';
import { CacheConfigurationError } from '../cache.errors';
import { messages } from '../cache.messages';
import { EntryCodec } from '../codec/entry-codec';
import type { ResolvedCacheOptions } from '../options/resolve-options';
import { CacheCoherence } from '../near/cache-coherence';
import type { CacheStore } from '../store/cache-store.interface';
import { CacheService } from './cache.service';

/** Every configured domain's `CacheService`, by name — for code that picks a domain at run time. */
@Injectable()
export class CacheRegistry {
  private readonly caches = new Map<string, CacheService<unknown>>();
  /** The module's `namespace` option: the start of every key the module writes. */
  readonly namespace: string;

  constructor(
    @Inject(CACHE_OPTIONS) options: ResolvedCacheOptions,
    @Inject(CACHE_STORE) store: CacheStore,
    { coherence }: CacheCoherence,
  ) {
    this.namespace = options.namespace;
    const entries = new EntryCodec(options.codec, options.compressionThreshold, options.maxDecompressedSize);
    for (const domain of options.domains.values()) {
      const cache = new CacheService(domain, options.namespace, store, entries, options.leaseTtlMs, coherence);
      this.caches.set(domain.name, cache);
    }
    if (options.store === 'memory') {
      new Logger('ElileCache').log(messages.memoryStore());
    }
  }

  /** @throws CacheConfigurationError naming the domain when it is not configured. */
  get<T = unknown>(domain: string): CacheService<T> {
    const cache = this.caches.get(domain);
    if (!cache) {
      throw new CacheConfigurationError(
        `Cache domain "${domain}" is not configured: add it to CacheModule options as domains.${domain} ` +
          `(with a ttl), or use one of: ${[...this.caches.keys()].join(', ')}`,
      );
    }
    return cache as CacheService<T>;
  }

  /** Names of the configured domains. */
  names(): string[] {
    return [...this.caches.keys()];
  }
}
