import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Coherence } from '../caches/cache.service';
import type { ResolvedCacheOptions } from '../options/resolve-options';
import type { RedisClient } from '../redis/redis.client';
import type { CacheStore } from '../store/cache-store.interface';
import { MemoryStore } from '../store/memory.store';
import type { InvalidationChannel } from './invalidation-channel';
import { KeyWatches } from './key-watches';
import { StoreChangesChannel } from './store-changes.channel';
import { TrackingChannel } from './tracking.channel';

/** How often the tracking connection proves that it still delivers invalidations. */
const HEARTBEAT_MS = 500;

/**
 * The module's invalidation channel and key watches, when any domain needs them: one with a near
 * cache (`l1`), or any domain when misses wait for other instances (`fleetSingleFlight`). Only
 * the prefixes of those domains are tracked, so writes to the others cost the channel nothing.
 */
export class CacheCoherence implements OnModuleInit, OnApplicationShutdown {
  readonly coherence?: Coherence;
  private readonly channel?: InvalidationChannel;

  constructor(options: ResolvedCacheOptions, store: CacheStore, redis: RedisClient) {
    const domains = [...options.domains.values()].filter((domain) => domain.l1 || domain.fleetSingleFlight);
    if (domains.length === 0) return;
    if (store instanceof MemoryStore) {
      this.channel = new StoreChangesChannel(store);
    } else if (!options.redis.cluster) {
      const prefixes = domains.map((domain) => options.namespace + domain.prefix);
      this.channel = new TrackingChannel(redis, prefixes, HEARTBEAT_MS, options.redis.commandTimeoutMs);
    } else {
      // Tracking is per node on a cluster; until it is tracked on every master, no channel.
      return;
    }
    this.coherence = { channel: this.channel, watches: new KeyWatches(this.channel) };
  }

  async onModuleInit(): Promise<void> {
    await this.channel?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.channel?.close();
  }
}
