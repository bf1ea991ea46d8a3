import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CacheHealthIndicator } from '@elile/cache/health';
import { CacheMetricsModule } from '@elile/cache/metrics';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** What operators poll: the health endpoint and the metrics endpoint. */
@Module({
  // prom-client's global registry: the demo has no other metrics to keep apart from the cache's.
  imports: [TerminusModule, CacheMetricsModule.forRoot()],
  controllers: [HealthController, MetricsController],
  providers: [CacheHealthIndicator],
})
export class OpsModule {}
