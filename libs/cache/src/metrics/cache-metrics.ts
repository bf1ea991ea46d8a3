import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { register, type Registry } from 'prom-client';
import { CacheConfigurationError } from '../cache.errors';
import { metricsMessages } from '../cache.messages';
import { CacheRegistry } from '../caches/cache.registry';
import { LockService } from '../lock/lock.service';
import { RedisClient } from '../redis/redis.client';
import type { RedisConnection } from '../redis/redis-connection.factory';
import { registerChannelMetrics } from './channel-metrics';
import type { CacheMetricsOptions } from './cache-metrics-options.interface';
import { CACHE_METRICS_OPTIONS } from './cache-metrics.module-definition';
import { registerRedisCommandMetrics } from './redis-command-metrics';
import { registerStatsMetrics } from './stats-metrics';

/**
 * The cache's Prometheus metrics (`elile_cache_*`), on the registry given to
 * `CacheMetricsModule.forRoot` (prom-client's global one by default): registered at module init,
 * removed and unsubscribed at application shutdown, so a second application in the same process
 * can register them again. Serve `registry.metrics()` from a controller.
 */
@Injectable()
export class CacheMetrics implements OnModuleInit, OnApplicationShutdown {
  /** The registry the metrics are on. */
  readonly registry: Registry;
  private names: string[] = [];
  private unsubscribes: Array<() => void> = [];

  constructor(
    @Inject(CACHE_METRICS_OPTIONS) private readonly options: CacheMetricsOptions,
    private readonly caches: CacheRegistry,
    private readonly locks: LockService,
    private readonly redis: RedisClient,
  ) {
    this.registry = options.registry ?? register;
  }

  /**
   * @throws CacheConfigurationError when the registry already holds the metrics: prom-client
   *   would refuse the first duplicate name, with the others registered already.
   */
  onModuleInit(): void {
    if (this.registry.getSingleMetric('elile_cache_hits_total'))
      throw new CacheConfigurationError(metricsMessages.registryTaken());
    const stats = registerStatsMetrics(this.registry, { caches: this.caches, locks: this.locks, redis: this.redis });
    const channels = registerChannelMetrics(this.registry);
    this.names = [...stats, ...channels.names];
    this.unsubscribes = [channels.unsubscribe];
    if (this.options.redisCommands ?? true) {
      const commands = registerRedisCommandMetrics(this.registry, this.connection());
      this.names.push(commands.name);
      this.unsubscribes.push(commands.unsubscribe);
    }
  }

  onApplicationShutdown(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    for (const name of this.names.splice(0)) this.registry.removeSingleMetric(name);
  }

  /** The module's Redis connection; undefined with the memory store, which has none. */
  private connection(): RedisConnection | undefined {
    try {
      return this.redis.connection;
    } catch (error) {
      if (error instanceof CacheConfigurationError) return undefined;
      throw error;
    }
  }
}
