import { Logger } from '@nestjs/common';
import type { CacheModuleOptions } from '@elile/cache';

/**
 * The library never falls back from Redis to memory by itself; the demo chooses memory when no
 * Redis is configured, so that `npm start` works on a machine without Redis, and says so.
 */
export function withDemoStoreDefault(
  options: CacheModuleOptions,
  env: NodeJS.ProcessEnv = process.env,
): CacheModuleOptions {
  if (options.store !== undefined || env.ELILE_REDIS_URL) return options;
  new Logger('Demo').warn('ELILE_REDIS_URL is not set: caching in the in-process memory store. Set it to use Redis.');
  return { ...options, store: 'memory' };
}
