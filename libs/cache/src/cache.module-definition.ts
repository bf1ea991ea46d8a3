import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CacheModuleOptions } from './options/cache-module-options.interface';

export const {
  ConfigurableModuleClass: ConfigurableCacheModule,
  MODULE_OPTIONS_TOKEN: CACHE_MODULE_OPTIONS,
  OPTIONS_TYPE: CACHE_MODULE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: CACHE_MODULE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<CacheModuleOptions>({ moduleName: 'ElileCache' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createCacheOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
