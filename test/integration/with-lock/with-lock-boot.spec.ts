import { Test } from '@nestjs/testing';
import { CacheConfigurationError } from '@elile/cache';
import { bootFailure } from '../../fixtures/decorated-app';
import { RecordingLogger } from '../../support/recording-logger';
import {
  PlainLockedService,
  RequestScopedLockedService,
  ZeroTtlLockedService,
} from '../../fixtures/with-lock.fixtures';
import { uniqueNamespace } from '../../support/test-redis';

// Memory store only: these are about wiring, and nothing here reaches a store.
const namespace = uniqueNamespace('with-lock-boot');

/** Calls `run` and reports how it failed, whether it threw synchronously or rejected. */
async function failureOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('@WithLock never runs a method unlocked', () => {
  it('an instance made with `new` → CacheConfigurationError naming Class#method; the body does not run', async () => {
    const service = new PlainLockedService();
    const error = await failureOf(() => service.run());
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect((error as Error).message).toContain('PlainLockedService#run');
    expect(service.runs.of('run')).toBe(0);
  });

  it('an instance Nest made in an application without CacheModule → CacheConfigurationError', async () => {
    const moduleRef = await Test.createTestingModule({ providers: [PlainLockedService] })
      .setLogger(new RecordingLogger())
      .compile();
    const app = moduleRef.createNestApplication({ logger: new RecordingLogger() });
    await app.init();
    try {
      const service = app.get(PlainLockedService);
      const error = await failureOf(() => service.run());
      expect(error).toBeInstanceOf(CacheConfigurationError);
      expect((error as Error).message).toContain('PlainLockedService#run');
      expect(service.runs.of('run')).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('@WithLock configuration refused at boot', () => {
  it('a request-scoped provider → CacheConfigurationError naming Class#method', async () => {
    const error = await bootFailure({ store: 'memory', namespace, providers: [RequestScopedLockedService] });
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect(error.message).toContain('RequestScopedLockedService#handle');
    expect(error.message).toMatch(/request-scoped/);
  });

  // An invalid ttl must fail the boot naming the method, not every call (for a @Cron job, an
  // error logged on every tick), as @Cacheable does.
  it('an invalid ttl → CacheConfigurationError naming Class#method', async () => {
    const error = await bootFailure({ store: 'memory', namespace, providers: [ZeroTtlLockedService] });
    expect(error).toBeInstanceOf(CacheConfigurationError);
    expect(error.message).toContain('ZeroTtlLockedService#run');
    expect(error.message).toMatch(/ttl/);
  });
});
