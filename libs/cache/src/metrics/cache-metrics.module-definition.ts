import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CacheMetricsOptions } from './cache-metrics-options.interface';

export const { ConfigurableModuleClass: CacheMetricsModuleClass, MODULE_OPTIONS_TOKEN: CACHE_METRICS_OPTIONS } =
  new ConfigurableModuleBuilder<CacheMetricsOptions>({ moduleName: 'CacheMetrics' })
    .setClassMethodName('forRoot')
    .build();
