import fc from 'fast-check';
import { escapeGlob } from '@elile/cache';
import { globToRegExp } from '../../../libs/cache/src/redis/glob.util';

const matches = (pattern: string, text: string) => globToRegExp(pattern).test(text);

/** Keys mostly made of the characters patterns care about, so collisions are likely. */
const trickyString = fc.string({
  unit: fc.constantFrom('a', 'b', '*', '?', '[', ']', '\\', '^', '-', ':', '.', '$', '(', '\n', 'é', '😀'),
  maxLength: 12,
});
const anyString = fc.oneof(trickyString, fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ maxLength: 12 }));

describe('escapeGlob', () => {
  it.each<[string, string]>([
    ['*', '\\*'],
    ['?', '\\?'],
    ['[', '\\['],
    [']', '\\]'],
    ['\\', '\\\\'],
    ['a*b?c[d]e\\f', 'a\\*b\\?c\\[d\\]e\\\\f'],
    ['**', '\\*\\*'],
  ])('escapes %j as %j', (text, escaped) => {
    expect(escapeGlob(text)).toBe(escaped);
  });

  it('leaves everything else alone, including characters special only in RegExp or shells', () => {
    const plain = 'user:42 ^$.+(){}|/-!~#é😀';
    expect(escapeGlob(plain)).toBe(plain);
  });
});

describe('globToRegExp (Redis glob dialect)', () => {
  it.each<[string, string[], string[]]>([
    ['*', ['', 'anything', 'with\nnewline', '*'], []],
    ['user:*', ['user:', 'user:1', 'user:1:profile'], ['users:1', 'xuser:1', 'user']],
    ['*:profile', ['user:1:profile', ':profile'], ['user:1:profiles']],
    ['a*b*c', ['abc', 'aXXbYYc', 'abbc'], ['ab', 'acb']],
    ['h?llo', ['hello', 'hallo', 'h\nllo'], ['hllo', 'heello']],
    ['??', ['ab', '**'], ['a', 'abc']],
    ['h[ae]llo', ['hello', 'hallo'], ['hillo', 'hllo', 'haello']],
    ['h[^e]llo', ['hallo', 'hbllo'], ['hello', 'hllo']],
    ['h[a-c]llo', ['hallo', 'hbllo', 'hcllo'], ['hdllo', 'h-llo']],
    ['h[c-a]llo', ['hallo', 'hbllo', 'hcllo'], ['hdllo', 'h-llo']], // reversed range, as Redis
    ['[0-9][0-9]', ['42', '00'], ['4a', '4']],
    ['[\\]]', [']'], ['\\', '[']],
    ['[\\-a]', ['-', 'a'], ['b']],
    ['[^]', ['x', ']'], ['', 'xy']],
    ['[]', [], ['', ']', '[]']],
    ['a\\*b', ['a*b'], ['axb', 'a\\*b']],
    ['a\\?b', ['a?b'], ['axb']],
    ['a\\[b]', ['a[b]'], ['ab']],
    ['a\\\\b', ['a\\b'], ['ab', 'a\\\\b']],
    ['a\\b', ['ab'], ['a\\b']], // an escaped ordinary character is itself
    ['a\\', ['a\\'], ['a']], // a trailing backslash is a literal backslash
    ['a.b', ['a.b'], ['axb']],
    ['^(x|y)$+', ['^(x|y)$+'], ['x', 'y']],
  ])('%j', (pattern, matching, notMatching) => {
    for (const text of matching) expect([text, matches(pattern, text)]).toEqual([text, true]);
    for (const text of notMatching) expect([text, matches(pattern, text)]).toEqual([text, false]);
  });

  // Redis (util.c stringmatchlen; checked against redis-server 7.0) treats an unterminated `[`
  // as a class running to the end of the pattern: `a[bc` matches "ab" and "ac", not "a[bc". The
  // memory store must delete the same keys as Redis for the same pattern.
  it('an unterminated [ opens a class that runs to the end of the pattern, as in Redis', () => {
    expect(matches('a[bc', 'ab')).toBe(true);
    expect(matches('a[bc', 'ac')).toBe(true);
    expect(matches('a[bc', 'a[bc')).toBe(false);
  });

  it('compiles every pattern, however malformed, without throwing', () => {
    fc.assert(
      fc.property(trickyString, (pattern) => {
        expect(globToRegExp(pattern)).toBeInstanceOf(RegExp);
      }),
      { numRuns: 500 },
    );
  });

  it('matches an escaped string and only that string', () => {
    fc.assert(
      fc.property(anyString, fc.array(anyString, { maxLength: 5 }), (text, others) => {
        const pattern = globToRegExp(escapeGlob(text));
        expect(pattern.test(text)).toBe(true);
        const nearMisses = [`${text}x`, `x${text}`, text.slice(1), text.slice(0, -1), `${text}\n`];
        for (const other of [...others, ...nearMisses]) {
          if (other !== text) expect([other, pattern.test(other)]).toEqual([other, false]);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('confines an escaped prefix followed by * to keys under that prefix', () => {
    // CacheService.invalidatePattern relies on this: `escapeGlob(namespace + prefix) + pattern`.
    fc.assert(
      fc.property(trickyString, anyString, anyString, (prefix, suffix, other) => {
        const pattern = globToRegExp(`${escapeGlob(prefix)}*`);
        expect(pattern.test(prefix + suffix)).toBe(true);
        expect(pattern.test(other)).toBe(other.startsWith(prefix));
      }),
      { numRuns: 500 },
    );
  });
});
