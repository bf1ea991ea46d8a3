import { CacheConfigurationError, cacheConfig, CacheModule } from '@elile/cache';
import { run } from './catalog.js';

/** An app without optional peers: options in code; `cacheConfig` must say what to install. */
async function main(): Promise<void> {
  let configError = 'none';
  try {
    void cacheConfig.KEY;
  } catch (error) {
    configError =
      error instanceof CacheConfigurationError ? error.message : `not a CacheConfigurationError: ${String(error)}`;
  }
  const report = await run(
    CacheModule.forRoot({ redis: { url: process.env.APP_REDIS_URL }, namespace: process.env.APP_NAMESPACE }),
  );
  process.stdout.write(`${JSON.stringify({ ...report, configError, health: 'not tried', metrics: 'not tried' })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
