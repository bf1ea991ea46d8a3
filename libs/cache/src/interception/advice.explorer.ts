import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CacheConfigurationError } from '../cache.errors';
import { CacheRegistry } from '../caches/cache.registry';
import { createCacheAdvice } from './cache.advice';
import { type AdviceSpec, adviceSpecsOf, installAdvised, isAdvised, originalOf } from './method-dispatcher';

/**
 * Finds, at module init, every provider and controller method carrying the module's method
 * decorators, and installs its advised version for that instance. It wires and nothing else:
 * the behaviour lives in the advice, the metadata in the dispatcher.
 *
 * Aliases (`useExisting`) are skipped, since their target is wrapped already; installation is
 * idempotent per instance. Request-scoped and transient providers are refused at boot, naming the
 * method: their instances are created per request or per consumer, after this runs, so they
 * would silently go uncached.
 */
@Injectable()
export class AdviceExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: CacheRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      this.explore(wrapper);
    }
  }

  private explore(wrapper: InstanceWrapper): void {
    if (wrapper.isAlias) return;
    const instance: unknown = wrapper.instance;
    const prototype: object | null | undefined =
      instance && typeof instance === 'object' ? Object.getPrototypeOf(instance) : wrapper.metatype?.prototype;
    if (!prototype) return;
    const methods = this.scanner
      .getAllMethodNames(prototype)
      .map((name) => ({ name, specs: adviceSpecsOf((prototype as Record<string, unknown>)[name]) }))
      .filter((method): method is { name: string; specs: readonly AdviceSpec[] } => method.specs !== undefined);
    if (methods.length === 0) return;

    const className = (prototype.constructor as { name?: string })?.name ?? String(wrapper.name);
    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
      throw new CacheConfigurationError(
        `${className}#${methods[0].name} carries a cache or lock decorator, but ${className} is request-scoped ` +
          `or transient (or depends on a request-scoped provider). Its instances are created after startup ` +
          `and would not be cached or locked: move the method to a singleton provider.`,
      );
    }
    for (const { name, specs } of methods) {
      if (isAdvised(instance as object, name)) continue;
      const original = originalOf((prototype as Record<string, unknown>)[name])!;
      const returnType = Reflect.getMetadata('design:returntype', prototype, name) as { name?: string } | undefined;
      const advised = createCacheAdvice(
        { className, methodName: name, original, returnsObservable: returnType?.name === 'Observable' },
        specs,
        this.registry,
      );
      installAdvised(instance as object, name, advised);
    }
  }
}
