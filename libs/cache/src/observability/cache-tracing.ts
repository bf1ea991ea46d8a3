import { tracingChannel } from 'node:diagnostics_channel';

/**
 * Node `diagnostics_channel` tracing channels of the module, as ioredis publishes `ioredis:command`:
 * an OpenTelemetry (or any) subscriber can trace cache and lock operations without the module
 * depending on a tracing library. Each channel emits `start`, `end`, `asyncStart`, `asyncEnd` and
 * `error` with one context object per operation (`TracingChannel.tracePromise`). Nothing is
 * built, and no event published, while a channel has no subscriber.
 */
export const TRACING_CHANNELS = {
  /** Every public `CacheService` operation. Context: `CacheOperationContext`. */
  operation: 'elile-cache:operation',
  /** Every run of a loader (read-through miss, refresh-ahead, degraded read). Context: `CacheLoadContext`. */
  load: 'elile-cache:load',
  /** `LockService` acquisitions and lock releases and extensions. Context: `LockOperationContext`. */
  lock: 'elile-cache:lock',
} as const;

export interface CacheOperationContext {
  readonly domain: string;
  readonly operation: string;
  /** The caller's key (not the Redis key), when the operation has one. */
  readonly key?: string;
  /** How many keys or tags, for the many-key operations. */
  readonly count?: number;
}

export interface CacheLoadContext {
  readonly domain: string;
  /** The Redis key the load is for. */
  readonly redisKey: string;
  /** Why the loader runs: a miss, a refresh ahead of expiry, or a read the cache could not serve. */
  readonly reason: 'miss' | 'refresh' | 'unavailable';
}

export interface LockOperationContext {
  readonly operation: 'acquire' | 'tryAcquire' | 'release' | 'extend';
  /** The lock's name as the caller gave it. */
  readonly key: string;
}

const operationChannel = tracingChannel<unknown, CacheOperationContext & object>(TRACING_CHANNELS.operation);
const loadChannel = tracingChannel<unknown, CacheLoadContext & object>(TRACING_CHANNELS.load);
const lockChannel = tracingChannel<unknown, LockOperationContext & object>(TRACING_CHANNELS.lock);

function traced<C extends object, T>(
  channel: ReturnType<typeof tracingChannel<unknown, C>>,
  context: () => C,
  work: () => Promise<T>,
): Promise<T> {
  // `hasSubscribers` first: on a hit answered from memory, building a context would cost more
  // than the read itself.
  if (!channel.hasSubscribers) return work();
  return channel.tracePromise(work, context());
}

/** Whether anyone traces cache operations: the hot path asks before it builds anything. */
export function operationsTraced(): boolean {
  return operationChannel.hasSubscribers;
}

export function traceOperation<T>(context: () => CacheOperationContext, work: () => Promise<T>): Promise<T> {
  return traced(operationChannel, context, work);
}

export function traceLoad<T>(context: () => CacheLoadContext, work: () => Promise<T>): Promise<T> {
  return traced(loadChannel, context, work);
}

export function traceLock<T>(context: () => LockOperationContext, work: () => Promise<T>): Promise<T> {
  return traced(lockChannel, context, work);
}
