import { CacheConfigurationError, type CacheModuleOptions } from '@elile/cache';
import { resolveCacheOptions } from '../../../libs/cache/src/options/resolve-options';

const resolve = (warming: unknown) => resolveCacheOptions({ warming } as CacheModuleOptions).warming;

function refusal(warming: unknown): string {
  try {
    resolve(warming);
  } catch (error) {
    expect(error).toBeInstanceOf(CacheConfigurationError);
    return (error as Error).message;
  }
  throw new Error(`expected warming ${JSON.stringify(warming)} to be refused`);
}

describe('warming options', () => {
  it('default to a background warm-up, 4 batches in flight, ±10 % TTL jitter, skipping when another instance warms', () => {
    expect(resolveCacheOptions().warming).toEqual({
      await: false,
      concurrency: 4,
      failOnError: false,
      jitter: 0.1,
      fleet: 'skip',
    });
  });

  it('take every setting', () => {
    expect(resolve({ await: true, concurrency: 16, failOnError: true, jitter: 0, fleet: 'wait' })).toEqual({
      await: true,
      concurrency: 16,
      failOnError: true,
      jitter: 0,
      fleet: 'wait',
    });
  });

  it.each<[unknown, string]>([
    [{ concurency: 2 }, '"warming.concurency" (did you mean "warming.concurrency"?)'],
    [{ await: 'yes' }, '"warming.await" must be true or false'],
    [{ concurrency: 0 }, '"warming.concurrency" must be a whole number >= 1'],
    [{ concurrency: 1.5 }, '"warming.concurrency" must be a whole number >= 1'],
    [{ jitter: 1 }, '"warming.jitter" must be a number from 0 to below 1'],
    [{ jitter: -0.1 }, '"warming.jitter" must be a number from 0 to below 1'],
    [{ jitter: NaN }, '"warming.jitter" must be a number from 0 to below 1'],
    [{ fleet: 'all' }, `"warming.fleet" must be 'skip' or 'wait'`],
    [{ failOnError: true }, '"warming.failOnError" needs "warming.await: true"'],
    ['fast', 'option "warming" must be an object'],
  ])('refuse %p', (warming, message) => {
    expect(refusal(warming)).toContain(message);
  });
});
