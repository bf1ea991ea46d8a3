import { Injectable, Inject, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { CacheConfigurationError, type CacheModuleOptions, cacheConfig } from '@elile/cache';

type CacheConfigModule = typeof import('../../../libs/cache/src/options/cache-config');

const VARIABLES = { ELILE_REDIS_URL: 'redis://cache.internal:6390/3', ELILE_CACHE_TTL_ORG: '42' };

@Injectable()
class ReadsOptions {
  constructor(@Inject(cacheConfig.KEY) readonly options: CacheModuleOptions) {}
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

async function withEnv<T>(variables: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await run();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('cacheConfig (@nestjs/config loaded on first use)', () => {
  it('is a ConfigModule namespace: forFeature provides the ELILE_* options under cacheConfig.KEY', async () => {
    const options = await withEnv(VARIABLES, async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [ConfigModule.forFeature(cacheConfig)],
        providers: [ReadsOptions],
      }).compile();
      return moduleRef.get(ReadsOptions).options;
    });
    expect(options.redis?.url).toBe(VARIABLES.ELILE_REDIS_URL);
    expect(options.domains?.org?.ttl).toBe(42);
  });

  it('asProvider() gives the options as a provider of its own', async () => {
    @Module({ imports: [ConfigModule.forFeature(cacheConfig)] })
    class Host {}
    const provider = cacheConfig.asProvider();
    const options = await withEnv(VARIABLES, async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [Host, ...provider.imports],
        providers: [{ provide: 'OPTIONS', useFactory: provider.useFactory, inject: provider.inject }],
      }).compile();
      return moduleRef.get<CacheModuleOptions>('OPTIONS');
    });
    expect(options.redis?.url).toBe(VARIABLES.ELILE_REDIS_URL);
  });

  it('names the package to install when @nestjs/config is missing', () => {
    jest.isolateModules(() => {
      jest.doMock('@nestjs/config', () => {
        throw Object.assign(new Error("Cannot find module '@nestjs/config' from 'cache-config.ts'"), {
          code: 'MODULE_NOT_FOUND',
        });
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fresh = require('../../../libs/cache/src/options/cache-config') as CacheConfigModule;
      // Loading the file (as the package's main entry does) needs nothing from @nestjs/config ...
      expect(typeof fresh.cacheConfig).toBe('function');
      // ... using it does.
      // The isolated registry has its own copy of the error classes, so the class is told by name.
      const thrown = catchError(() => fresh.cacheConfig.KEY);
      expect(thrown).toMatchObject({ name: CacheConfigurationError.name, code: 'ELILE_CACHE_CONFIGURATION' });
      expect((thrown as Error).message).toContain('npm i @nestjs/config');
    });
  });

  it('rethrows other failures of loading @nestjs/config unchanged', () => {
    jest.isolateModules(() => {
      const broken = new Error('@nestjs/config failed to initialise');
      jest.doMock('@nestjs/config', () => {
        throw broken;
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const fresh = require('../../../libs/cache/src/options/cache-config') as CacheConfigModule;
      expect(() => fresh.cacheConfig.KEY).toThrow(broken);
    });
  });
});
