import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CacheHealthIndicator } from '@elile/cache/health';
import { HealthController } from './health.controller';

/** What operators poll: the health endpoint (and, later, the metrics endpoint). */
@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
  providers: [CacheHealthIndicator],
})
export class OpsModule {}
