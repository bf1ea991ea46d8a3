import type { MemoryStore } from '../store/memory.store';
import type { InvalidationChannel, Invalidated } from './invalidation-channel';

/**
 * The invalidation channel of the memory store: its own change feed, delivered as each change
 * happens, so it is always up and always in sync. With it, the near cache and fleet waits run on
 * the memory store with the semantics they have on Redis (one conformance suite for both).
 */
export class StoreChangesChannel implements InvalidationChannel {
  readonly isUp = true;

  constructor(private readonly store: MemoryStore) {}

  listen(listener: (invalidated: Invalidated) => void): () => void {
    return this.store.onChange(listener);
  }

  async sync(): Promise<void> {
    // Changes are delivered synchronously, inside the call that makes them.
  }

  async start(): Promise<void> {
    // Nothing to connect.
  }

  async close(): Promise<void> {
    // Nothing to disconnect.
  }
}
