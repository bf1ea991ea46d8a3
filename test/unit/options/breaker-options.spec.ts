import { CacheConfigurationError, type CacheModuleOptions, cacheOptionsFromEnv } from '@elile/cache';
import { resolveCacheOptions } from '../../../libs/cache/src/options/resolve-options';

/** Options are often built from untyped sources (env, JSON files); the tests pass such values. */
const resolve = (options: unknown) => resolveCacheOptions(options as CacheModuleOptions);

function configurationError(options: unknown): CacheConfigurationError {
  try {
    resolve(options);
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigurationError);
    return error as CacheConfigurationError;
  }
  throw new Error(`expected a CacheConfigurationError for ${JSON.stringify(options)}`);
}

describe('redis.readTimeout and redis.writeTimeout', () => {
  it('default to short deadlines of their own, below commandTimeout', () => {
    const { redis } = resolveCacheOptions();
    expect([redis.readTimeoutMs, redis.writeTimeoutMs, redis.commandTimeoutMs]).toEqual([250, 500, 1000]);
  });

  it('take an explicit commandTimeout as their default, as before they existed', () => {
    const { redis } = resolveCacheOptions({ redis: { commandTimeout: 3 } });
    expect([redis.readTimeoutMs, redis.writeTimeoutMs, redis.commandTimeoutMs]).toEqual([3000, 3000, 3000]);
  });

  it('win over commandTimeout when given', () => {
    const { redis } = resolveCacheOptions({ redis: { commandTimeout: 3, readTimeout: 0.1, writeTimeout: 0.2 } });
    expect([redis.readTimeoutMs, redis.writeTimeoutMs, redis.commandTimeoutMs]).toEqual([100, 200, 3000]);
  });

  it('inherit a long commandTimeout uncapped (it was every deadline before they existed)', () => {
    expect(resolveCacheOptions({ redis: { commandTimeout: 120 } }).redis.readTimeoutMs).toBe(120_000);
  });

  it('refuse ELILE_REDIS_READ_TIMEOUT given in milliseconds', () => {
    expect(configurationError(cacheOptionsFromEnv({ ELILE_REDIS_READ_TIMEOUT: '250' })).message).toContain(
      'durations are seconds',
    );
  });

  it('follow ELILE_REDIS_SOCKET_TIMEOUT the same way', () => {
    const { redis } = resolveCacheOptions(
      cacheOptionsFromEnv({ ELILE_REDIS_SOCKET_TIMEOUT: '2', ELILE_REDIS_WRITE_TIMEOUT: '0.3' }),
    );
    expect([redis.readTimeoutMs, redis.writeTimeoutMs]).toEqual([2000, 300]);
  });

  it.each<[string, unknown, RegExp]>([
    ['a zero readTimeout', { redis: { readTimeout: 0 } }, /"redis\.readTimeout" must be a positive duration.*got 0/],
    ['a negative writeTimeout', { redis: { writeTimeout: -1 } }, /"redis\.writeTimeout".*got -1/],
    ['a string readTimeout', { redis: { readTimeout: '0.25' } }, /"redis\.readTimeout".*got "0\.25"/],
    [
      'a readTimeout of 250 (milliseconds meant)',
      { redis: { readTimeout: 250 } },
      /"redis\.readTimeout" must be at most 60 seconds, got 250 \(durations are seconds: 250 ms would be 0\.25\)/,
    ],
    [
      'a writeTimeout above a minute',
      { redis: { writeTimeout: 61 } },
      /"redis\.writeTimeout" must be at most 60 seconds/,
    ],
    ['a NaN writeTimeout', { redis: { writeTimeout: NaN } }, /"redis\.writeTimeout"/],
  ])('refuse %s', (_label, options, message) => {
    expect(configurationError(options).message).toMatch(message);
  });
});

describe('redis.breaker', () => {
  it('is on by default: 5 failures in a row, probing after 1 s', () => {
    expect(resolveCacheOptions().redis.breaker).toEqual({ enabled: true, threshold: 5, halfOpenAfterMs: 1000 });
  });

  it('takes each setting', () => {
    expect(
      resolveCacheOptions({ redis: { breaker: { enabled: false, threshold: 1, halfOpenAfter: 0.01 } } }).redis.breaker,
    ).toEqual({
      enabled: false,
      threshold: 1,
      halfOpenAfterMs: 10,
    });
  });

  it("accepts a huge threshold (a breaker that in practice never opens), which is the operator's call", () => {
    expect(
      resolveCacheOptions({ redis: { breaker: { threshold: Number.MAX_SAFE_INTEGER } } }).redis.breaker.threshold,
    ).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each<[string, unknown, RegExp]>([
    ['a threshold of 0', { threshold: 0 }, /"redis\.breaker\.threshold" must be a whole number >= 1, got 0/],
    ['a negative threshold', { threshold: -5 }, /"redis\.breaker\.threshold" must be a whole number >= 1, got -5/],
    ['a fractional threshold', { threshold: 2.5 }, /"redis\.breaker\.threshold"/],
    ['an infinite threshold', { threshold: Infinity }, /"redis\.breaker\.threshold"/],
    ['a threshold beyond safe integers', { threshold: 2 ** 60 }, /"redis\.breaker\.threshold"/],
    ['a string threshold', { threshold: '5' }, /"redis\.breaker\.threshold".*got "5"/],
    [
      'a zero halfOpenAfter',
      { halfOpenAfter: 0 },
      /"redis\.breaker\.halfOpenAfter" must be a positive duration.*got 0/,
    ],
    ['a negative halfOpenAfter', { halfOpenAfter: -1 }, /"redis\.breaker\.halfOpenAfter"/],
    [
      'a halfOpenAfter below 10 ms (a probe storm)',
      { halfOpenAfter: 0.001 },
      /"redis\.breaker\.halfOpenAfter" must be at least 0\.01 seconds, got 0\.001/,
    ],
    [
      'a halfOpenAfter of 1000 (milliseconds meant)',
      { halfOpenAfter: 1000 },
      /"redis\.breaker\.halfOpenAfter" must be at most 600 seconds, got 1000 \(durations are seconds: 1000 ms would be 1\)/,
    ],
    ['a string enabled', { enabled: 'false' }, /"redis\.breaker\.enabled" must be true or false, got "false"/],
    ['a numeric enabled', { enabled: 0 }, /"redis\.breaker\.enabled" must be true or false, got 0/],
  ])('refuses %s', (_label, breaker, message) => {
    expect(configurationError({ redis: { breaker } }).message).toMatch(message);
  });

  it('refuses a misspelled setting, naming the one it meant', () => {
    expect(configurationError({ redis: { breaker: { treshold: 3 } } }).message).toContain(
      '"redis.breaker.treshold" (did you mean "redis.breaker.threshold"?)',
    );
  });

  it('refuses a breaker section that is not an object', () => {
    expect(configurationError({ redis: { breaker: true } }).message).toContain(
      '"redis.breaker" must be an object, got true',
    );
  });
});
