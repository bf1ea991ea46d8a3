import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { cacheConfig, CacheModule, type CacheModuleOptions } from '@elile/cache';
import { CacheHealthIndicator } from '@elile/cache/health';
import { run } from './catalog.js';

/**
 * An app with @nestjs/config and @nestjs/terminus: every option from ELILE_* variables through
 * `cacheConfig`, and the cache's health from `@elile/cache/health`.
 */
const cacheModule = () =>
  CacheModule.forRootAsync({
    imports: [ConfigModule.forFeature(cacheConfig)],
    inject: [cacheConfig.KEY],
    useFactory: (options: CacheModuleOptions) => options,
  });

async function health(): Promise<string> {
  @Module({ imports: [TerminusModule, cacheModule()], providers: [CacheHealthIndicator] })
  class HealthModule {}

  const app = await NestFactory.createApplicationContext(HealthModule, { logger: ['error', 'warn'] });
  try {
    return (await app.get(CacheHealthIndicator).isHealthy('cache')).cache.status;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const report = await run(cacheModule());
  process.stdout.write(`${JSON.stringify({ ...report, configError: 'not tried', health: await health() })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
