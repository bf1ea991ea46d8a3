import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { CacheHealthIndicator } from '@elile/cache/health';

/**
 * `GET /health`: 200 while the cache's Redis answers PING within half a second, 503 when it does
 * not (down, hung, refusing), with the round trip and the circuit breaker's state either way.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: CacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy('cache', { timeout: 0.5 })]);
  }
}
