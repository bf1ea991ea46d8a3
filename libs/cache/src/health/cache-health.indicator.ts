import { Injectable } from '@nestjs/common';
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { CacheConfigurationError } from '../cache.errors';
import { healthMessages } from '../cache.messages';
import { durationToMs } from '../options/duration.util';
import { RedisClient } from '../redis/redis.client';

/** Options of one health check. */
export interface CacheHealthCheckOptions {
  /**
   * Seconds Redis has to answer PING; past it the check is `down`. Short, so that a hung Redis
   * (which keeps its TCP connection open) answers the health endpoint quickly too.
   * @default 0.5
   */
  timeout?: number;
}

const DEFAULT_TIMEOUT_SECONDS = 0.5;

/**
 * A `@nestjs/terminus` health indicator of the cache's Redis: `up` when it answers PING within
 * the check's timeout (with the round trip in ms and the circuit breaker's state), `down`
 * otherwise (unreachable, hung, or refusing). The PING goes past the circuit breaker, so the check
 * tells whether Redis answers now, not what the breaker last concluded. With the memory store
 * there is no Redis to reach: `up`, `store: 'memory'`.
 *
 * Import it from `@elile/cache/health` (it needs `@nestjs/terminus`; the main entry does not) and
 * provide it next to `TerminusModule`.
 * @example
 * @Controller('health')
 * export class HealthController {
 *   constructor(private readonly health: HealthCheckService, private readonly cache: CacheHealthIndicator) {}
 *
 *   @Get()
 *   @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.cache.isHealthy('cache')]);
 *   }
 * }
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisClient,
  ) {}

  /**
   * The health of the cache's Redis under `key`.
   * @throws CacheArgumentError for a timeout that is not a positive number of seconds.
   */
  async isHealthy<const Key extends string>(
    key: Key,
    options: CacheHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = durationToMs(options.timeout ?? DEFAULT_TIMEOUT_SECONDS, 'Cache health check timeout');
    const indicator = this.indicators.check(key);
    const breaker = this.redis.breakerStatus().state;
    try {
      const latencyMs = await this.redis.ping(timeoutMs);
      return indicator.up({ store: 'redis', latencyMs: Math.round(latencyMs * 10) / 10, breaker });
    } catch (error) {
      if (error instanceof CacheConfigurationError) return indicator.up({ store: 'memory' });
      return indicator.down({
        store: 'redis',
        breaker,
        message: healthMessages.redisDown(error instanceof Error ? error.message : String(error)),
      });
    }
  }
}
