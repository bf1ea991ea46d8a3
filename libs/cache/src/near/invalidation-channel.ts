/** Every key at once: the dataset was flushed, or the channel went down or came back. */
export const EVERY_KEY = Symbol('elile.cache.every-key');

/** What one invalidation names: full keys changed in the store, or every key. */
export type Invalidated = readonly string[] | typeof EVERY_KEY;

/**
 * Tells this process which keys other writers (and its own) changed in the shared store, so that
 * copies kept in process (the near cache) are dropped and waiters for a fill are woken.
 *
 * Implementations: Redis client-side tracking (tracking.channel.ts) and the memory store's own
 * change feed (store-changes.channel.ts).
 */
export interface InvalidationChannel {
  /**
   * Whether invalidations are being delivered. While false nothing may be kept in process or
   * waited for: a change made now would not be heard of.
   */
  readonly isUp: boolean;
  /** Calls `listener` with every invalidation until the returned function is called. */
  listen(listener: (invalidated: Invalidated) => void): () => void;
  /**
   * Resolves once every invalidation caused by a command already answered has been delivered;
   * rejects (and the channel counts as down) when that cannot be known in time.
   */
  sync(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}
