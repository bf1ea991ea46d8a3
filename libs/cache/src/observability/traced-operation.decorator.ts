import { traceOperation } from './cache-tracing';

/**
 * Publishes each call of a `CacheService` method on the `elile-cache:operation` tracing channel,
 * named `operation`, with the domain and the call's key (or how many keys or tags it was given).
 */
export function TracedOperation(operation: string): MethodDecorator {
  return (_target, _name, descriptor: PropertyDescriptor) => {
    const method = descriptor.value as (this: { name: string }, ...args: unknown[]) => Promise<unknown>;
    descriptor.value = function (this: { name: string }, ...args: unknown[]) {
      const [first] = args;
      return traceOperation(
        () => ({
          domain: this.name,
          operation,
          key: typeof first === 'string' ? first : undefined,
          count: Array.isArray(first) ? first.length : undefined,
        }),
        () => method.apply(this, args),
      );
    };
    return descriptor;
  };
}
