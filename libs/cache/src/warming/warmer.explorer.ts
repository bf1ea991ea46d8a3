import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CACHE_WARMER_METADATA } from '../cache.constants';
import { CacheConfigurationError } from '../cache.errors';
import { warmingMessages } from '../cache.messages';
import { CacheRegistry } from '../caches/cache.registry';
import { describe } from '../options/duration.util';
import type { CacheWarmer } from '../decorators/cache-warmer.decorator';
import type { Warmup } from './warmup.interface';

/** A warmer found at init: its domain, a name for logs, and how to ask it for its entries. */
export interface FoundWarmer {
  readonly domain: string;
  /** `Class#method`, or the class name for a `CacheWarmer` class. */
  readonly name: string;
  warmup(): Warmup | Promise<Warmup>;
}

/**
 * Finds, at module init, every provider method marked `@CacheWarmer(domain)` and every provider
 * implementing `CacheWarmer`, and checks that each names a configured domain. It finds and
 * nothing else; `CacheWarming` runs them.
 *
 * Aliases (`useExisting`) are skipped, since their target is found already. Request-scoped and
 * transient providers are refused at boot, naming the warmer: warming runs outside any request,
 * so their warmers would silently never run.
 */
@Injectable()
export class WarmerExplorer implements OnModuleInit {
  private found: FoundWarmer[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: CacheRegistry,
  ) {}

  /** The warmers, in the order providers were registered. */
  get warmers(): readonly FoundWarmer[] {
    return this.found;
  }

  onModuleInit(): void {
    this.found = this.discovery.getProviders().flatMap((wrapper) => this.explore(wrapper));
  }

  private explore(wrapper: InstanceWrapper): FoundWarmer[] {
    if (wrapper.isAlias) return [];
    const instance: unknown = wrapper.instance;
    const prototype: object | null | undefined =
      instance && typeof instance === 'object' ? Object.getPrototypeOf(instance) : wrapper.metatype?.prototype;
    if (!prototype) return [];
    const className = (prototype.constructor as { name?: string } | undefined)?.name ?? String(wrapper.name);
    const found: Array<{ domain: string; name: string; method: string }> = [];
    for (const method of this.scanner.getAllMethodNames(prototype)) {
      const domain: unknown = Reflect.getMetadata(
        CACHE_WARMER_METADATA,
        (prototype as Record<string, unknown>)[method] as object,
      );
      if (typeof domain === 'string') found.push({ domain, name: `${className}#${method}`, method });
    }
    const isClassWarmer = typeof (prototype as Partial<CacheWarmer>).cacheWarmup === 'function';
    if (found.length === 0 && !isClassWarmer) return [];
    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
      throw new CacheConfigurationError(warmingMessages.scopedWarmer(found[0]?.name ?? className));
    }
    if (isClassWarmer) {
      const domain = (instance as Partial<CacheWarmer>).cacheDomain;
      if (typeof domain !== 'string' || domain === '') {
        throw new CacheConfigurationError(warmingMessages.classWithoutDomain(className, describe(domain)));
      }
      found.push({ domain, name: className, method: 'cacheWarmup' });
    }
    return found.map(({ domain, name, method }) => {
      // Throws at boot, naming the domain, when it is not configured.
      this.registry.get(domain);
      const target = instance as Record<string, () => Warmup | Promise<Warmup>>;
      return { domain, name, warmup: () => target[method]() };
    });
  }
}
