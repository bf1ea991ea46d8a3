import 'reflect-metadata';
import { ConsoleLogger, type INestApplicationContext, type LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CacheModule, type CacheModuleOptions, CacheRegistry, RedisClient } from '@elile/cache';

@Module({})
class BenchAppModule {}

const LOG_LEVELS: LogLevel[] = ['error', 'warn'];

const logger = new ConsoleLogger({ logLevels: LOG_LEVELS });

export interface CacheApp {
  app: INestApplicationContext;
  registry: CacheRegistry;
  close(): Promise<void>;
}

/**
 * A Nest application context holding only the cache module, wired as an application would wire
 * it, so the measured `CacheService` is the one an application gets (same connection options,
 * same store). Warnings stay on while measuring: a degraded cache must show up in the output.
 */
export async function createCacheApp(options: CacheModuleOptions): Promise<CacheApp> {
  const app = await NestFactory.createApplicationContext(
    { module: BenchAppModule, imports: [CacheModule.forRoot(options)] },
    { logger, abortOnError: false },
  );
  const close = async (): Promise<void> => {
    const connection = app.get(RedisClient).connection;
    const ended = new Promise<void>((resolve) => {
      connection.once('end', () => resolve());
      setTimeout(resolve, 2000).unref();
    });
    await app.close();
    await ended;
  };
  return { app, registry: app.get(CacheRegistry), close };
}
