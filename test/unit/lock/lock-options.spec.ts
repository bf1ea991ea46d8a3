import { CacheArgumentError, CacheConfigurationError, type CacheModuleOptions } from '@elile/cache';
import { lockTtlToMs, waitToMs } from '../../../libs/cache/src/options/duration.util';
import { resolveCacheOptions } from '../../../libs/cache/src/options/resolve-options';

function configurationError(options: unknown): string {
  try {
    resolveCacheOptions(options as CacheModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigurationError);
    return (error as Error).message;
  }
  throw new Error(`expected a CacheConfigurationError for ${JSON.stringify(options)}`);
}

describe('locks options', () => {
  it('default to the sketch: prefix lock:, 30 s TTL; a 5 s wait, a 0.5 s fallback poll, no replica check', () => {
    expect(resolveCacheOptions().locks).toEqual({
      prefix: 'lock:',
      defaultTtlMs: 30_000,
      defaultWaitMs: 5_000,
      pollIntervalMs: 500,
      replicas: 0,
      replicaTimeoutMs: 200,
    });
  });

  it('take every setting, in seconds (fractions allowed), and a wait of 0', () => {
    const locks = resolveCacheOptions({
      locks: {
        prefix: 'mutex:',
        defaultTtl: 2.5,
        defaultWait: 0,
        pollInterval: 0.05,
        replicas: 2,
        replicaTimeout: 0.1,
      },
    }).locks;
    expect(locks).toEqual({
      prefix: 'mutex:',
      defaultTtlMs: 2500,
      defaultWaitMs: 0,
      pollIntervalMs: 50,
      replicas: 2,
      replicaTimeoutMs: 100,
    });
  });

  it.each<[string, unknown, string]>([
    ['a prefix that is not a string', { locks: { prefix: 7 } }, '"locks.prefix" must be a string'],
    [
      'a prefix inside a domain prefix',
      { locks: { prefix: 'screen' } },
      'overlaps the prefix "screening:" of domain "screening"',
    ],
    [
      'a prefix containing a domain prefix',
      { domains: { l: { ttl: 1, prefix: 'lo' } } },
      'overlaps the prefix "lo" of domain "l"',
    ],
    ['an empty prefix', { locks: { prefix: '' } }, '"locks.prefix" ("") overlaps'],
    ['the tag-index prefix', { locks: { prefix: '__elile:locks:' } }, 'of tag indexes'],
    ['an empty hash tag', { namespace: 'app{', locks: { prefix: '}:' } }, 'empty hash tag'],
    ['a TTL below 10 ms', { locks: { defaultTtl: 0.001 } }, '"locks.defaultTtl" must be between 0.01 and'],
    ['a zero TTL', { locks: { defaultTtl: 0 } }, '"locks.defaultTtl" must be a positive duration'],
    ['a negative wait', { locks: { defaultWait: -1 } }, '"locks.defaultWait" must be 0 or a positive duration'],
    ['a zero poll interval', { locks: { pollInterval: 0 } }, '"locks.pollInterval"'],
    ['fractional replicas', { locks: { replicas: 0.5 } }, '"locks.replicas" must be a whole number >= 0'],
    [
      'a replica timeout not below the command timeout',
      { locks: { replicas: 1, replicaTimeout: 1 } },
      '"locks.replicaTimeout" must be below "redis.commandTimeout" (1 s)',
    ],
    [
      'replicas with a cluster',
      { redis: { cluster: { nodes: [{ host: '127.0.0.1', port: 7000 }] } }, locks: { replicas: 1 } },
      '"locks.replicas" is not supported with "redis.cluster"',
    ],
  ])('refuse %s, naming the option', (_label, options, expected) => {
    expect(configurationError(options)).toContain(expected);
  });

  it('accept a replica timeout of any length while no replicas are required', () => {
    expect(resolveCacheOptions({ redis: { commandTimeout: 0.1 } }).locks.replicaTimeoutMs).toBe(200);
  });

  it('accept braces that leave a non-empty hash tag', () => {
    expect(resolveCacheOptions({ namespace: '{tenant-1}:', locks: { prefix: 'lock:' } }).locks.prefix).toBe('lock:');
  });
});

describe('lockTtlToMs and waitToMs', () => {
  it('convert seconds to whole milliseconds within the bounds of a timer', () => {
    expect(lockTtlToMs(0.01, 'ttl')).toBe(10);
    expect(lockTtlToMs(2 ** 31 / 1000 - 0.001, 'ttl')).toBe(2 ** 31 - 1);
    expect(() => lockTtlToMs(2 ** 31 / 1000, 'ttl')).toThrow(CacheArgumentError);
    expect(waitToMs(0, 'wait')).toBe(0);
    expect(waitToMs(1.5, 'wait')).toBe(1500);
    expect(() => waitToMs('1', 'wait')).toThrow('wait must be 0 or a positive duration');
    expect(() => waitToMs(Number.POSITIVE_INFINITY, 'wait')).toThrow(CacheArgumentError);
    expect(() => waitToMs(30 * 86400, 'wait', CacheConfigurationError)).toThrow(CacheConfigurationError);
  });
});
