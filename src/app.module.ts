import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CacheModule, type CacheModuleOptions, cacheConfig } from '@elile/cache';
import { withDemoStoreDefault } from './cache-options.factory';
import { DatabaseModule } from './database/database.module';
import { ComplianceModule } from './compliance/compliance.module';
import { OpsModule } from './ops/ops.module';
import { OrgsModule } from './orgs/orgs.module';
import { ScreeningsModule } from './screenings/screenings.module';
import { SubjectsModule } from './subjects/subjects.module';
import { WriteThrottlingModule } from './throttling/write-throttling.module';

@Module({
  imports: [
    // Loads `.env` (when present) into the environment before the cache reads ELILE_* from it.
    ConfigModule.forRoot({ isGlobal: true }),
    DatabaseModule,
    CacheModule.forRootAsync({
      isGlobal: true,
      imports: [ConfigModule.forFeature(cacheConfig)],
      inject: [cacheConfig.KEY],
      useFactory: (options: CacheModuleOptions) => withDemoStoreDefault(options),
    }),
    ScreeningsModule,
    SubjectsModule,
    OrgsModule,
    ComplianceModule,
    WriteThrottlingModule,
    OpsModule,
  ],
})
export class AppModule {}
