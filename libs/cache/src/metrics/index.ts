export { CacheMetricsModule } from './cache-metrics.module';
export { CacheMetrics } from './cache-metrics';
export type { CacheMetricsOptions } from './cache-metrics-options.interface';
