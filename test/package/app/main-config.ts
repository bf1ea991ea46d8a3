import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { cacheConfig, CacheModule, type CacheModuleOptions } from '@elile/cache';
import { CacheHealthIndicator } from '@elile/cache/health';
import { CacheMetrics, CacheMetricsModule } from '@elile/cache/metrics';
import { run } from './catalog.js';

/**
 * An app with every optional peer: options from ELILE_* variables through `cacheConfig`
 * (@nestjs/config), the cache's health from `@elile/cache/health` (@nestjs/terminus) and its
 * Prometheus metrics from `@elile/cache/metrics` (prom-client).
 */
const cacheModule = () =>
  CacheModule.forRootAsync({
    imports: [ConfigModule.forFeature(cacheConfig)],
    inject: [cacheConfig.KEY],
    useFactory: (options: CacheModuleOptions) => options,
  });

async function optionalEntries(): Promise<{ health: string; metrics: string }> {
  @Module({ imports: [TerminusModule, cacheModule(), CacheMetricsModule.forRoot()], providers: [CacheHealthIndicator] })
  class OpsModule {}

  const app = await NestFactory.createApplicationContext(OpsModule, { logger: ['error', 'warn'] });
  try {
    const health = (await app.get(CacheHealthIndicator).isHealthy('cache')).cache.status;
    const scraped = await app.get(CacheMetrics).registry.metrics();
    return { health, metrics: scraped.includes('elile_cache_') ? 'elile_cache_* scraped' : scraped.slice(0, 200) };
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const report = await run(cacheModule());
  process.stdout.write(`${JSON.stringify({ ...report, configError: 'not tried', ...(await optionalEntries()) })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
