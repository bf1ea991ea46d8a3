import { operationsTraced, traceOperation } from './cache-tracing';

/**
 * Publishes each call of a `CacheService` method on the `elile-cache:operation` tracing channel,
 * named `operation`, with the domain and the call's key (or how many keys or tags it was given).
 */
export function TracedOperation(operation: string): MethodDecorator {
  return (_target, _name, descriptor: PropertyDescriptor) => {
    const method = descriptor.value as (this: { name: string }, ...args: unknown[]) => Promise<unknown>;
    // Three parameters at most (key, value or loader, options) and no rest array: this wraps
    // every cache call, and an L1 hit costs about half a microsecond in all.
    descriptor.value = function (this: { name: string }, first: unknown, second: unknown, third: unknown) {
      if (!operationsTraced()) return method.call(this, first, second, third);
      return traceOperation(
        () => ({
          domain: this.name,
          operation,
          key: typeof first === 'string' ? first : undefined,
          count: Array.isArray(first) ? first.length : undefined,
        }),
        () => method.call(this, first, second, third),
      );
    };
    return descriptor;
  };
}
