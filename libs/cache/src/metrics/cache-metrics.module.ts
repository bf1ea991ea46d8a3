import { type DynamicModule, Module } from '@nestjs/common';
import { CacheMetrics } from './cache-metrics';
import type { CacheMetricsOptions } from './cache-metrics-options.interface';
import { CacheMetricsModuleClass } from './cache-metrics.module-definition';

/**
 * Prometheus metrics of the cache (`elile_cache_*`, with prom-client) for an application that
 * imports `CacheModule`: `CacheMetricsModule.forRoot()` (prom-client's global registry) or
 * `forRoot({ registry })`, and `forRootAsync`. Inject `CacheMetrics` to serve its registry.
 * @example
 * @Controller('metrics')
 * export class MetricsController {
 *   constructor(private readonly metrics: CacheMetrics) {}
 *
 *   @Get()
 *   async scrape(@Res() response: Response) {
 *     response.setHeader('Content-Type', this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
 *   }
 * }
 */
@Module({ providers: [CacheMetrics], exports: [CacheMetrics] })
export class CacheMetricsModule extends CacheMetricsModuleClass {
  /** Every option has a default, so the argument may be left out. */
  static override forRoot(options: CacheMetricsOptions = {}): DynamicModule {
    return super.forRoot(options);
  }
}
