import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CacheHealthIndicator } from '@elile/cache/health';
import { CacheMetricsModule } from '@elile/cache/metrics';
import { Registry } from 'prom-client';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';

/** What operators poll: the health endpoint and the metrics endpoint. */
@Module({
  // A registry per application instance, built when the instance is: tests boot two instances of
  // the demo in one process, and prom-client's global registry would hold the metrics once.
  imports: [TerminusModule, CacheMetricsModule.forRootAsync({ useFactory: () => ({ registry: new Registry() }) })],
  controllers: [HealthController, MetricsController],
  providers: [CacheHealthIndicator],
})
export class OpsModule {}
