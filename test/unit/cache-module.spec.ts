import { type DynamicModule, Injectable, type LoggerService, Module, type ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  CacheConfigurationError,
  CacheModule,
  type CacheModuleOptions,
  CacheRegistry,
  CacheService,
  InjectCache,
  RedisClient,
} from '@elile/cache';

const BUILT_IN = ['compliance', 'org', 'screening', 'session', 'subject'];
const MEMORY: CacheModuleOptions = { store: 'memory' };

@Injectable()
class ScreeningConsumer {
  constructor(@InjectCache('screening') readonly cache: CacheService) {}
}

@Injectable()
class BuiltInConsumer {
  constructor(
    @InjectCache('screening') readonly screening: CacheService,
    @InjectCache('subject') readonly subject: CacheService,
    @InjectCache('org') readonly org: CacheService,
    @InjectCache('compliance') readonly compliance: CacheService,
    @InjectCache('session') readonly session: CacheService,
  ) {}
}

@Injectable()
class ReportsConsumer {
  constructor(@InjectCache('reports') readonly cache: CacheService) {}
}

@Injectable()
class CoreConsumer {
  constructor(
    readonly registry: CacheRegistry,
    readonly redis: RedisClient,
  ) {}
}

/** A module that uses a cache without importing CacheModule itself. */
@Module({ providers: [ScreeningConsumer], exports: [ScreeningConsumer] })
class ElsewhereModule {}

/** Same, but for the core providers, which are always global. */
@Module({ providers: [CoreConsumer], exports: [CoreConsumer] })
class CoreElsewhereModule {}

@Module({ imports: [CacheModule.forFeature(['reports'])], providers: [ReportsConsumer] })
class ReportsFeatureModule {}

@Module({ imports: [CacheModule.forFeature(['screening'])], providers: [ScreeningConsumer] })
class ScreeningFeatureModule {}

let optionsFromClass: CacheModuleOptions = MEMORY;

@Injectable()
class CacheOptionsFromClass {
  createCacheOptions(): CacheModuleOptions {
    return optionsFromClass;
  }
}

/** Omitted isGlobal must be really absent, not `isGlobal: undefined`. */
const globalFlag = (isGlobal?: boolean) => (isGlobal === undefined ? {} : { isGlobal });

const OPTIONS_SOURCE = 'OPTIONS_SOURCE';
let sourcedOptions: CacheModuleOptions = MEMORY;

@Module({ providers: [{ provide: OPTIONS_SOURCE, useValue: () => sourcedOptions }], exports: [OPTIONS_SOURCE] })
class OptionsSourceModule {}

function withSource(options: CacheModuleOptions, isGlobal?: boolean): DynamicModule {
  sourcedOptions = options;
  return CacheModule.forRootAsync({
    imports: [OptionsSourceModule],
    inject: [OPTIONS_SOURCE],
    useFactory: async (source: () => CacheModuleOptions) => source(),
    ...globalFlag(isGlobal),
  });
}

type Registration = (options: CacheModuleOptions, isGlobal?: boolean) => DynamicModule;

const registrations: Record<string, Registration> = {
  forRoot: (options, isGlobal) => CacheModule.forRoot({ ...options, ...globalFlag(isGlobal) }),
  'forRootAsync (useFactory)': (options, isGlobal) =>
    CacheModule.forRootAsync({ useFactory: () => options, ...globalFlag(isGlobal) }),
  'forRootAsync (async useFactory with inject)': (options, isGlobal) => withSource(options, isGlobal),
  'forRootAsync (useClass)': (options, isGlobal) => {
    optionsFromClass = options;
    return CacheModule.forRootAsync({ useClass: CacheOptionsFromClass, ...globalFlag(isGlobal) });
  },
};

const opened: TestingModule[] = [];

/** Boot failures and unreachable Redis are expected here; their log lines would only be noise. */
const silent: LoggerService = { log() {}, error() {}, warn() {} };

const testingModule = (metadata: ModuleMetadata) => Test.createTestingModule(metadata).setLogger(silent);

async function compile(metadata: ModuleMetadata): Promise<TestingModule> {
  const moduleRef = await testingModule(metadata).compile();
  opened.push(moduleRef);
  return moduleRef;
}

async function compileError(metadata: ModuleMetadata): Promise<Error> {
  try {
    await compile(metadata);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the module not to compile');
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((moduleRef) => moduleRef.close()));
});

describe('CacheModule', () => {
  describe.each(Object.entries(registrations))('%s', (_name, register) => {
    describe.each([true, false, undefined])('isGlobal: %s', (isGlobal) => {
      it('makes the built-in domain caches injectable in the importing module', async () => {
        const moduleRef = await compile({
          imports: [register(MEMORY, isGlobal)],
          providers: [ScreeningConsumer, BuiltInConsumer],
        });
        const registry = moduleRef.get(CacheRegistry);
        expect(moduleRef.get(ScreeningConsumer).cache).toBe(registry.get('screening'));
        const consumer = moduleRef.get(BuiltInConsumer);
        expect(
          [consumer.screening, consumer.subject, consumer.org, consumer.compliance, consumer.session].map(
            (c) => c.name,
          ),
        ).toEqual(['screening', 'subject', 'org', 'compliance', 'session']);
        expect(consumer.screening).toBeInstanceOf(CacheService);
        expect(consumer.screening.defaultTtl).toBe(300);
      });

      if (isGlobal === true) {
        it('makes them injectable in a module that does not import CacheModule', async () => {
          const moduleRef = await compile({ imports: [register(MEMORY, isGlobal), ElsewhereModule] });
          expect(moduleRef.get(ScreeningConsumer).cache).toBe(moduleRef.get(CacheRegistry).get('screening'));
        });
      } else {
        it('does not make them injectable in a module that does not import CacheModule', async () => {
          const error = await compileError({ imports: [register(MEMORY, isGlobal), ElsewhereModule] });
          expect(error.message).toContain('ElileCache:screening');
          expect(error.message).toContain('ScreeningConsumer');
        });

        it('makes them injectable there through CacheModule.forFeature', async () => {
          const moduleRef = await compile({ imports: [register(MEMORY, isGlobal), ScreeningFeatureModule] });
          expect(moduleRef.get(ScreeningConsumer).cache).toBe(moduleRef.get(CacheRegistry).get('screening'));
        });
      }

      it('makes CacheRegistry and RedisClient injectable everywhere', async () => {
        const moduleRef = await compile({ imports: [register(MEMORY, isGlobal), CoreElsewhereModule] });
        const consumer = moduleRef.get(CoreConsumer);
        expect(consumer.registry.names().sort()).toEqual(BUILT_IN);
        expect(consumer.redis).toBeInstanceOf(RedisClient);
      });

      it('rejects invalid options at boot with CacheConfigurationError', async () => {
        const error = await compileError({ imports: [register({ store: 'disk' as 'memory' }, isGlobal)] });
        expect(error).toBeInstanceOf(CacheConfigurationError);
        expect(error.message).toContain('"store"');
      });
    });
  });

  describe('forRoot() without options', () => {
    it('compiles with the Redis store and the five built-in domains, and closes promptly', async () => {
      const moduleRef = await testingModule({ imports: [CacheModule.forRoot()] }).compile();
      expect(moduleRef.get(CacheRegistry).names().sort()).toEqual(BUILT_IN);
      expect(() => moduleRef.get(RedisClient).connection).not.toThrow();
      await expect(withDeadline(moduleRef.close(), 3000)).resolves.toBe('done');
    });

    it('boots and closes promptly when Redis cannot be reached', async () => {
      // Port 1 refuses at once: the connect fails fast, the app boots degraded, close() must not
      // wait on ioredis's background reconnects. disconnectTimeout only shortens a timer ioredis
      // leaves behind when closing a socket that is already closed (it would keep jest alive 2 s).
      const moduleRef = await testingModule({
        imports: [CacheModule.forRoot({ redis: { url: 'redis://127.0.0.1:1/0', ioredis: { disconnectTimeout: 10 } } })],
        providers: [ScreeningConsumer],
      }).compile();
      await expect(withDeadline(moduleRef.init(), 3000)).resolves.toBe('done');
      expect(moduleRef.get(RedisClient).isReady).toBe(false);
      // A cache read degrades to a miss instead of failing the caller.
      await expect(moduleRef.get(ScreeningConsumer).cache.get('k')).resolves.toBeUndefined();
      await expect(withDeadline(moduleRef.close(), 3000)).resolves.toBe('done');
    });
  });

  describe('extra domains', () => {
    it('forRoot({ domains }) makes a new domain injectable', async () => {
      const moduleRef = await compile({
        imports: [CacheModule.forRoot({ store: 'memory', domains: { reports: { ttl: 5 } } })],
        providers: [ReportsConsumer],
      });
      const { cache } = moduleRef.get(ReportsConsumer);
      expect(cache.name).toBe('reports');
      expect(cache.defaultTtl).toBe(5);
    });

    it.each(Object.entries(registrations).filter(([name]) => name !== 'forRoot'))(
      '%s + forFeature works when the async options configure the domain',
      async (_name, register) => {
        const moduleRef = await compile({
          imports: [register({ store: 'memory', domains: { reports: { ttl: 5 } } }), ReportsFeatureModule],
        });
        const { cache } = moduleRef.get(ReportsConsumer);
        expect(cache.name).toBe('reports');
        expect(cache).toBe(moduleRef.get(CacheRegistry).get('reports'));
        await cache.set('r1', { pages: 3 });
        await expect(cache.get('r1')).resolves.toEqual({ pages: 3 });
      },
    );

    it.each(Object.entries(registrations).filter(([name]) => name !== 'forRoot'))(
      '%s + forFeature fails boot, naming the domain, when the options do not configure it',
      async (_name, register) => {
        const error = await compileError({ imports: [register(MEMORY), ReportsFeatureModule] });
        expect(error).toBeInstanceOf(CacheConfigurationError);
        expect(error.message).toContain('"reports"');
      },
    );
  });

  describe('RedisClient with the memory store', () => {
    let redis: RedisClient;

    beforeEach(async () => {
      const moduleRef = await compile({ imports: [CacheModule.forRoot(MEMORY)] });
      redis = moduleRef.get(RedisClient);
    });

    it('is not ready and has no connection', () => {
      expect(redis.isReady).toBe(false);
      expect(() => redis.connection).toThrow(CacheConfigurationError);
      expect(() => redis.connection).toThrow(/store 'memory'/);
    });

    it.each<[string, (client: RedisClient) => Promise<unknown>]>([
      ['get', (client) => client.get('k')],
      ['getBuffer', (client) => client.getBuffer('k')],
      ['set', (client) => client.set('k', 'v')],
      ['set with TTL', (client) => client.set('k', 'v', 10)],
      ['delete', (client) => client.delete('k')],
      ['deletePattern', (client) => client.deletePattern('k:*')],
      ['exists', (client) => client.exists('k')],
      ['increment', (client) => client.increment('k')],
      ['expire', (client) => client.expire('k', 10)],
      ['run', (client) => client.run('ping', () => client.connection.ping())],
    ])('%s rejects with CacheConfigurationError', async (_name, call) => {
      await expect(call(redis)).rejects.toThrow(CacheConfigurationError);
    });
  });
});

async function withDeadline(promise: Promise<unknown>, ms: number): Promise<'done' | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), ms);
  });
  try {
    return await Promise.race([promise.then(() => 'done' as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
