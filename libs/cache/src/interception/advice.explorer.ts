import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CACHE_OPTIONS } from '../cache.constants';
import { CacheConfigurationError } from '../cache.errors';
import { CacheRegistry } from '../caches/cache.registry';
import { LockService } from '../lock/lock.service';
import type { ResolvedCacheOptions } from '../options/resolve-options';
import { createCacheAdvice } from './cache.advice';
import { cacheManagerDecoratorOn } from './cache-manager-interop';
import { createLockAdvice } from './lock.advice';
import { adviceSpecsOf, dispatcherOf, installAdvised, isAdvised, originalOf } from './method-dispatcher';

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
    private readonly registry: CacheRegistry,
    private readonly locks: LockService,
    @Inject(CACHE_OPTIONS) private readonly options: ResolvedCacheOptions,
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
    const methods = prototype ? decoratedMethods(prototype) : [];
    if (methods.length === 0) return;

    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
      const { className, name } = methods[0];
      throw new CacheConfigurationError(
        `${className}#${name} carries a cache or lock decorator, but ${className} is request-scoped ` +
          `or transient (or depends on a request-scoped provider). Its instances are created after startup ` +
          `and would not be cached or locked: move the method to a singleton provider.`,
      );
    }
    for (const method of methods) {
      refuseCacheManagerDecorator(method);
      if (!isAdvised(instance as object, method.dispatcher)) {
        installAdvised(instance as object, method.dispatcher, this.advise(method));
      }
    }
  }

  /** The lock is taken inside the cache: a hit is answered without waiting for the lock. */
  private advise({ owner, className, name, dispatcher }: DecoratedMethod): Method {
    const specs = adviceSpecsOf(dispatcher)!;
    const undecorated = originalOf(dispatcher)!;
    const returnType = Reflect.getMetadata('design:returntype', owner, name) as { name?: string } | undefined;
    const info = { className, methodName: name, undecorated, returnsObservable: returnType?.name === 'Observable' };
    const lockSpecs = specs.filter((spec) => spec.kind === 'lock');
    const cacheSpecs = specs.filter((spec) => spec.kind !== 'lock');
    const locked = lockSpecs.length
      ? createLockAdvice({ ...info, original: undecorated }, lockSpecs, this.locks)
      : undecorated;
    return cacheSpecs.length
      ? createCacheAdvice({ ...info, original: locked }, cacheSpecs, this.registry, this.options.http)
      : locked;
  }
}

/**
 * A handler cached by this library and also decorated for `@nestjs/cache-manager` would be
 * cached twice, or with a TTL that silently does nothing: the pair is refused, naming the method.
 */
function refuseCacheManagerDecorator({ owner, className, name, dispatcher }: DecoratedMethod): void {
  if (!adviceSpecsOf(dispatcher)!.some((spec) => spec.kind !== 'lock')) return;
  const handler: unknown = Object.getOwnPropertyDescriptor(owner, name)?.value;
  const foreign = typeof handler === 'function' ? cacheManagerDecoratorOn(handler) : undefined;
  if (foreign) {
    throw new CacheConfigurationError(
      `${className}#${name} carries a cache decorator of @elile/cache and ${foreign} of @nestjs/cache-manager: ` +
        `one handler is cached by one of them. Keep @Cacheable (its ttl option sets the TTL), or remove it ` +
        `and let cache-manager's CacheInterceptor cache the handler.`,
    );
  }
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

interface DecoratedMethod {
  /** The prototype that declares the method. */
  readonly owner: object;
  readonly className: string;
  readonly name: string;
  readonly dispatcher: Method;
}

/**
 * Every decorated method along the prototype chain, overridden ones included: a subclass method
 * may call the decorated base method through `super`, which must be advised as well.
 */
function decoratedMethods(prototype: object): DecoratedMethod[] {
  const found: DecoratedMethod[] = [];
  for (
    let owner: object | null = prototype;
    owner && owner !== Object.prototype;
    owner = Object.getPrototypeOf(owner)
  ) {
    const className = (owner.constructor as { name?: string } | undefined)?.name ?? 'anonymous';
    for (const name of Object.getOwnPropertyNames(owner)) {
      const dispatcher = dispatcherOf(Object.getOwnPropertyDescriptor(owner, name)?.value);
      if (dispatcher) found.push({ owner, className, name, dispatcher });
    }
  }
  return found;
}
