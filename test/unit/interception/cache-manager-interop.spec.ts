import { Controller, Get, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CacheKey, CacheTTL } from '@nestjs/cache-manager';
import { Cacheable, CacheConfigurationError, CacheEvict, CacheModule, WithLock } from '@elile/cache';
import { closeFailedBoot } from '../../support/close-failed-boot';

async function boot(controller: Type): Promise<unknown> {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ store: 'memory', domains: { pages: { ttl: 60 } } })],
    controllers: [controller],
  }).compile();
  try {
    await moduleRef.init();
  } catch (error) {
    await closeFailedBoot(moduleRef);
    return error;
  }
  await moduleRef.close();
  return undefined;
}

describe('one handler, one cache: @elile/cache next to @nestjs/cache-manager decorators', () => {
  it('refuses @CacheKey above @Cacheable, naming the handler', async () => {
    @Controller('a')
    class KeyAbove {
      @Get()
      @CacheKey('a')
      @Cacheable({ cache: 'pages' })
      list(): string {
        return 'a';
      }
    }
    const error = await boot(KeyAbove);
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect((error as Error).message).toMatch(/^KeyAbove#list carries a cache decorator of @elile\/cache and @CacheKey/);
  });

  it('refuses @CacheKey below @Cacheable', async () => {
    @Controller('b')
    class KeyBelow {
      @Get()
      @Cacheable({ cache: 'pages' })
      @CacheKey('b')
      list(): string {
        return 'b';
      }
    }
    expect(await boot(KeyBelow)).toMatchObject({ message: expect.stringContaining('KeyBelow#list') });
  });

  it('refuses @CacheTTL on a handler that @CacheEvict or @Cacheable caches (its TTL would do nothing)', async () => {
    @Controller('c')
    class TtlOnOurs {
      @Get()
      @CacheTTL(5_000)
      @CacheEvict({ cache: 'pages', allEntries: true })
      list(): string {
        return 'c';
      }
    }
    const error = await boot(TtlOnOurs);
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect((error as Error).message).toContain('@CacheTTL');
  });

  it('accepts @CacheKey beside @WithLock (a lock caches nothing), and a class-level @CacheTTL', async () => {
    @Controller('d')
    @CacheTTL(5_000)
    class Compatible {
      @Get('locked')
      @CacheKey('d')
      @WithLock({ key: () => 'd' })
      locked(): string {
        return 'd';
      }

      @Get('cached')
      @Cacheable({ cache: 'pages' })
      cached(): string {
        return 'd';
      }
    }
    expect(await boot(Compatible)).toBeUndefined();
  });
});
