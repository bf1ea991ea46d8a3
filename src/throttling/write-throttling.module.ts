import { Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { CacheRegistry, RedisClient, RedisThrottlerStorage } from '@elile/cache';
import { writeThrottler } from './write-limits';

/**
 * Rate limits of the write endpoints, counted in the cache's Redis so that they hold across every
 * instance of the demo (in process memory when the demo runs without Redis). Handlers opt in with
 * `@ThrottledWrite()`; reads are not limited.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [RedisClient, CacheRegistry],
      useFactory: (redis: RedisClient, registry: CacheRegistry) => ({
        throttlers: [writeThrottler()],
        storage: new RedisThrottlerStorage(redis, registry),
      }),
    }),
  ],
})
export class WriteThrottlingModule {}
