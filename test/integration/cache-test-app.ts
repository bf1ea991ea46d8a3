import { RecordingLogger } from '../support/recording-logger';
import { Injectable, type LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import Redis from 'ioredis';
import {
  CacheModule,
  type CacheModuleOptions,
  CacheRegistry,
  CacheService,
  InjectCache,
  RedisClient,
} from '@elile/cache';
import { closeFailedBoot } from '../support/close-failed-boot';

/** Domains every test app declares next to the built-in ones. */
export const MAIN = 'conf';
export const PEER = 'peer';
/** A prefix with glob characters: an unescaped `clear()` of it would also match `ab:` keys. */
export const STAR = 'star';
export const AB = 'ab';

const TEST_DOMAINS: NonNullable<CacheModuleOptions['domains']> = {
  [MAIN]: { ttl: 60 },
  [PEER]: { ttl: 60 },
  [STAR]: { ttl: 60, prefix: 'a*:' },
  [AB]: { ttl: 60 },
};

/** Stands for an application provider, so that `@InjectCache` and class-token injection are exercised. */
@Injectable()
class CacheConsumer {
  constructor(
    @InjectCache(MAIN) readonly main: CacheService<unknown>,
    @InjectCache(PEER) readonly peer: CacheService<unknown>,
    @InjectCache(STAR) readonly star: CacheService<unknown>,
    @InjectCache(AB) readonly ab: CacheService<unknown>,
    readonly registry: CacheRegistry,
    readonly redis: RedisClient,
  ) {}
}

export interface CacheApp {
  readonly moduleRef: TestingModule;
  readonly main: CacheService<unknown>;
  readonly peer: CacheService<unknown>;
  readonly star: CacheService<unknown>;
  readonly ab: CacheService<unknown>;
  readonly registry: CacheRegistry;
  readonly redis: RedisClient;
  close(): Promise<void>;
}

/**
 * Boots a Nest testing module around `CacheModule.forRoot(options)`. Nest's Logger is global, so
 * the last app booted decides where every app's log lines go.
 */
export async function startCacheApp(
  options: CacheModuleOptions,
  logger: LoggerService = new RecordingLogger(),
): Promise<CacheApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [CacheModule.forRoot({ ...options, domains: { ...TEST_DOMAINS, ...options.domains } })],
    providers: [CacheConsumer],
  })
    .setLogger(logger)
    .compile();
  try {
    await moduleRef.init();
  } catch (error) {
    await closeFailedBoot(moduleRef);
    throw error;
  }
  const consumer = moduleRef.get(CacheConsumer);
  return {
    moduleRef,
    main: consumer.main,
    peer: consumer.peer,
    star: consumer.star,
    ab: consumer.ab,
    registry: consumer.registry,
    redis: consumer.redis,
    close: () => moduleRef.close(),
  };
}

/** A plain ioredis connection for looking at (or tampering with) what the library stored. */
export function rawRedis(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, disconnectTimeout: 200, lazyConnect: false });
  client.on('error', () => {});
  return client;
}

export async function closeRaw(client: Redis): Promise<void> {
  // disconnect() on a connection that is already closed leaves a timer jest reports as open.
  if (client.status === 'end') return;
  if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
  else client.disconnect();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The error `fn` ends with, whether it throws synchronously or returns a rejected promise: the
 * tests pin the error type, not which of the two a promise-returning method chose.
 */
export async function failureOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Polls `probe` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // A probe that throws is "not yet".
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(25);
  }
}

/**
 * Milliseconds `work` took to settle, and its outcome. Past `limitMs` it counts as rejected, so a
 * regression that hangs fails the test instead of stalling the run (and skipping its cleanup).
 */
export async function timed<T>(
  work: () => Promise<T>,
  limitMs = 10_000,
): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<PromiseSettledResult<T>>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'rejected', reason: new Error(`still pending after ${limitMs} ms`) }),
      limitMs,
    );
  });
  const settled = Promise.allSettled([Promise.resolve().then(work)]).then(([result]) => result);
  const result = await Promise.race([settled, limit]);
  clearTimeout(timer);
  return { ms: performance.now() - start, result };
}
