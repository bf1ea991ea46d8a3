import 'reflect-metadata';
import { CacheConfigurationError } from '../cache.errors';

/** What one of the module's method decorators asks for; read by the explorer at init. */
export interface AdviceSpec {
  readonly kind: 'cacheable' | 'cache-evict' | 'cache-put' | 'lock';
  readonly options: unknown;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
// Keyed by dispatcher, not by name: a subclass override and the base method it calls through
// `super` are different dispatchers under one name, each with its own advice.
type AdvisedMethods = Map<Method, Method>;

const SPECS = Symbol('elile.advice.specs');
const ORIGINAL = Symbol('elile.advice.original');
const ADVISED = Symbol('elile.advice.advised');

interface Dispatcher extends Method {
  [SPECS]: AdviceSpec[];
  [ORIGINAL]: Method;
}

/**
 * Records a decorator's advice on a method. The first of our decorators on a method replaces it
 * with an inert dispatcher that, on every call, runs the advised version installed for that
 * instance at module init — or the original when there is none.
 *
 * The dispatcher is in place from decoration time, so code that captures the method before our
 * init (Nest's router, `@Cron`, `@OnEvent` explorers) still goes through it. It keeps the
 * original's `name`, `length` and metadata (own keys copied; the original is its prototype, so
 * `Reflect.getMetadata` finds keys added to the original later), so other decorators on the same
 * method keep working whatever their order.
 */
export function recordAdvice(
  decorator: string,
  target: object,
  propertyKey: string | symbol,
  descriptor: PropertyDescriptor,
  spec: AdviceSpec,
): void {
  if (typeof descriptor.value !== 'function') {
    throw new CacheConfigurationError(
      `@${decorator} can only decorate methods (${describeMember(target, propertyKey)})`,
    );
  }
  const dispatcher = isDispatcher(descriptor.value)
    ? descriptor.value
    : createDispatcher(descriptor.value, propertyKey);
  dispatcher[SPECS].push(spec);
  descriptor.value = dispatcher;
}

/**
 * Our dispatcher behind a method — itself, or the one another library's wrapper was built on (found
 * through the function's prototype chain) — or undefined when none of our decorators is on it.
 */
export function dispatcherOf(method: unknown): Method | undefined {
  for (let fn = method; typeof fn === 'function'; fn = Object.getPrototypeOf(fn)) {
    if (isDispatcher(fn)) return fn;
  }
  return undefined;
}

/** The advice recorded on a method, or undefined when none of our decorators is on it. */
export function adviceSpecsOf(method: unknown): readonly AdviceSpec[] | undefined {
  const dispatcher = dispatcherOf(method);
  return dispatcher && (dispatcher as Dispatcher)[SPECS];
}

/** The undecorated method behind a dispatcher. */
export function originalOf(method: unknown): Method | undefined {
  const dispatcher = dispatcherOf(method);
  return dispatcher && (dispatcher as Dispatcher)[ORIGINAL];
}

/** Installs the advised version of one dispatcher for one instance. */
export function installAdvised(instance: object, dispatcher: Method, advised: Method): void {
  let table = (instance as { [ADVISED]?: AdvisedMethods })[ADVISED];
  if (!table) {
    table = new Map();
    Object.defineProperty(instance, ADVISED, { value: table, enumerable: false });
  }
  table.set(dispatcher, advised);
}

export function isAdvised(instance: object, dispatcher: Method): boolean {
  return (instance as { [ADVISED]?: AdvisedMethods })[ADVISED]?.has(dispatcher) ?? false;
}

export function describeMember(target: object, propertyKey: string | symbol): string {
  const owner = typeof target === 'function' ? target : target.constructor;
  return `${owner?.name ?? 'anonymous'}#${String(propertyKey)}`;
}

function isDispatcher(method: unknown): method is Dispatcher {
  return typeof method === 'function' && Object.prototype.hasOwnProperty.call(method, ORIGINAL);
}

function createDispatcher(original: Method, propertyKey: string | symbol): Dispatcher {
  const dispatcher = function (this: unknown, ...args: unknown[]): unknown {
    const advised = (this as { [ADVISED]?: AdvisedMethods } | undefined)?.[ADVISED]?.get(dispatcher);
    if (advised) return advised.apply(this, args);
    if (dispatcher[SPECS].some((spec) => spec.kind === 'lock')) {
      // Running a locked method without its lock would be silently wrong; refuse instead (as a
      // rejection: a locked method is asynchronous).
      return Promise.reject(
        new CacheConfigurationError(
          `${describeMember(this ?? {}, propertyKey)} carries @WithLock but was not prepared by CacheModule: ` +
            `call it on the instance Nest created (not one made with "new"), in an application that imports CacheModule`,
        ),
      );
    }
    return original.apply(this, args);
  } as Dispatcher;
  Object.defineProperty(dispatcher, 'name', { value: original.name, configurable: true });
  Object.defineProperty(dispatcher, 'length', { value: original.length, configurable: true });
  Object.setPrototypeOf(dispatcher, original);
  for (const key of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), dispatcher);
  }
  Object.defineProperty(dispatcher, SPECS, { value: [], enumerable: false });
  Object.defineProperty(dispatcher, ORIGINAL, { value: original, enumerable: false });
  return dispatcher;
}
