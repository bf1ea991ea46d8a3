import { ConfigModule } from '@nestjs/config';
import { cacheConfig, CacheModule, type CacheModuleOptions } from '@elile/cache';
import { run } from './catalog.js';

/** An app with @nestjs/config: every option from ELILE_* variables through `cacheConfig`. */
async function main(): Promise<void> {
  const report = await run(
    CacheModule.forRootAsync({
      imports: [ConfigModule.forFeature(cacheConfig)],
      inject: [cacheConfig.KEY],
      useFactory: (options: CacheModuleOptions) => options,
    }),
  );
  process.stdout.write(`${JSON.stringify({ ...report, configError: 'not tried' })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
