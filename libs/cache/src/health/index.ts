export { CacheHealthIndicator } from './cache-health.indicator';
export type { CacheHealthCheckOptions } from './cache-health.indicator';
