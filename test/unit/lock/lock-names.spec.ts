import fc from 'fast-check';
import { CacheArgumentError, CacheConfigurationError } from '@elile/cache';
import { lockNames } from '../../../libs/cache/src/lock/lock-names.util';
import { resolveCacheOptions } from '../../../libs/cache/src/options/resolve-options';

/** What Redis Cluster hashes: the text between the first `{` and the next `}`, if non-empty. */
function hashTag(name: string): string {
  const open = name.indexOf('{');
  if (open < 0) return name;
  const close = name.indexOf('}', open + 1);
  return close < 0 || close === open + 1 ? name : name.slice(open + 1, close);
}

/** Strings rich in the characters that matter here. */
const text = (minLength = 0) =>
  fc.string({ unit: fc.constantFrom('{', '}', '%', '7', 'D', 'a', ':', 'é'), minLength, maxLength: 8 });

describe('lockNames', () => {
  it('builds namespace + prefix + {key}, with :fence and :released beside it', () => {
    expect(lockNames('elile:', 'lock:', 'screening:42')).toEqual({
      key: 'screening:42',
      lock: 'elile:lock:{screening:42}',
      fence: 'elile:lock:{screening:42}:fence',
      channel: 'elile:lock:{screening:42}:released',
    });
  });

  it('percent-encodes } and % in the key, so that the first } after our { is ours', () => {
    expect(lockNames('', 'lock:', '}a%b').lock).toBe('lock:{%7Da%25b}');
  });

  it('gives the three names of any lock one hash tag, for every namespace and prefix the options accept', () => {
    fc.assert(
      fc.property(text(), text(1), text(1), (namespace, prefix, key) => {
        try {
          resolveCacheOptions({ namespace, locks: { prefix } });
        } catch (error) {
          fc.pre(!(error instanceof CacheConfigurationError));
          throw error;
        }
        const names = lockNames(namespace, prefix, key);
        expect(hashTag(names.fence)).toBe(hashTag(names.lock));
        expect(hashTag(names.channel)).toBe(hashTag(names.lock));
      }),
      { numRuns: 2000 },
    );
  });

  it('never maps two keys to one lock', () => {
    fc.assert(
      fc.property(text(1), text(1), (a, b) => {
        fc.pre(a !== b);
        expect(lockNames('n:', 'lock:', a).lock).not.toBe(lockNames('n:', 'lock:', b).lock);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([[''], [42], [undefined]])('refuses the key %p', (key) => {
    expect(() => lockNames('', 'lock:', key as string)).toThrow(CacheArgumentError);
  });
});
