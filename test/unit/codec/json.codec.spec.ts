import fc from 'fast-check';
import { CacheSerializationError, JsonCodec } from '@elile/cache';
import { jsonValue, jsonValueWithDangerousKey } from './arbitraries';
import {
  ESCAPED_PROTOTYPE_ATTACK_JSON,
  expectDangerousKeyRefusal,
  isPolluted,
  jsonAttackTexts,
  mergeableAttacks,
  naiveMerge,
  objectKeysDeep,
  ownKeysDeep,
  pollutesAClassInAFreshRealm,
  pollutesAFreshRealm,
  PROTOTYPE_ATTACK_JSON,
  removePollution,
} from './pollution';
import { expectSameTyped } from './typed-equality';

const codec = new JsonCodec();
const roundTrip = (value: unknown) => codec.decode(codec.encode(value));

describe('JsonCodec', () => {
  it('round-trips JSON values exactly', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        expectSameTyped(roundTrip(value), value);
      }),
      { numRuns: 300 },
    );
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['false', false],
    ['an empty string', ''],
    ['the largest safe integer', Number.MAX_SAFE_INTEGER],
    ['a float that needs all 17 digits', 0.1 + 0.2],
    ['a string holding a lone surrogate', 'x\ud800y'],
    ['a string that looks like a Date', '2024-01-01T00:00:00.000Z'],
    ['nested containers', { a: [[], {}, [{ b: null }]] }],
  ])('round-trips %s', (_label, value) => {
    expectSameTyped(roundTrip(value), value);
  });

  it('writes readable JSON (what redis-cli shows)', () => {
    expect(codec.encode({ id: 1, tags: ['a'] }).toString('utf8')).toBe('{"id":1,"tags":["a"]}');
  });

  describe('refuses what JSON cannot represent exactly, with CacheSerializationError', () => {
    const fn = () => 1;
    const circular = () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    };

    it.each<[string, unknown]>([
      ['a Date', new Date(0)],
      ['an invalid Date', new Date(NaN)],
      ['a Map', new Map([['a', 1]])],
      ['a Set', new Set([1])],
      ['a BigInt', 1n],
      ['a Buffer', Buffer.from('x')],
      ['a Uint8Array', new Uint8Array([1])],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
      ['undefined at the top level', undefined],
      ['undefined inside an array', [1, undefined]],
      ['undefined inside a nested array', { list: [[undefined]] }],
      ['a function', fn],
      ['a function as a property', { run: fn }],
      ['a function inside an array', [fn]],
      ['a symbol', Symbol('s')],
      ['a symbol as a property', { kind: Symbol('s') }],
      ['a circular structure', circular()],
      ['a Date nested deep', { a: [{ b: { when: new Date(0) } }] }],
      ['a Map nested deep', [[new Map()]]],
      ['a BigInt as a property', { id: 10n }],
      ['NaN as a property', { score: NaN }],
      ['a Buffer as a property', { bytes: Buffer.from('x') }],
    ])('%s', (_label, value) => {
      expect(() => codec.encode(value)).toThrow(CacheSerializationError);
    });

    it('names the offending property in the message', () => {
      expect(() => codec.encode({ profile: { createdAt: new Date(0) } })).toThrow(/Date.*createdAt/);
    });
  });

  it('accepts undefined object properties and drops them, which reads the same', () => {
    const decoded = roundTrip({ a: 1, gone: undefined, nested: { alsoGone: undefined, b: [2] } });
    expectSameTyped(decoded, { a: 1, nested: { b: [2] } });
  });

  describe('prototype pollution', () => {
    afterEach(removePollution);

    it.each(mergeableAttacks())('refuses to encode __proto__ and constructor keys: %s', (_label, payload) => {
      expect(pollutesAFreshRealm(payload)).toBe(true);
      expectDangerousKeyRefusal(() => codec.encode(payload), '__proto__');
      expect(ownKeysDeep(payload).has('__proto__')).toBe(true);
    });

    // The same payloads as JSON text another writer left in Redis (JSON.stringify keeps own keys).
    it.each(mergeableAttacks())(
      'strips __proto__ and constructor keys from the JSON text of: %s',
      (_label, payload) => {
        const text = JSON.stringify(payload);
        expect(text).toContain('"__proto__"');
        const decoded = codec.decode(Buffer.from(text));
        const keys = ownKeysDeep(decoded);
        expect(keys.has('__proto__')).toBe(false);
        expect(keys.has('constructor')).toBe(false);

        const assigned = Object.assign({}, decoded) as Record<string, unknown>;
        expect(assigned.polluted).toBeUndefined();
        naiveMerge({}, decoded);
        expect(isPolluted()).toBe(false);
        expect(pollutesAFreshRealm(decoded)).toBe(false);
      },
    );

    it.each(jsonAttackTexts())('refuses to encode what an attack text parses to: %s', (_label, text) => {
      expectDangerousKeyRefusal(() => codec.encode(JSON.parse(text)), '__proto__');
    });

    it('refuses any value holding a dangerous own key, wherever it sits', () => {
      fc.assert(
        fc.property(jsonValueWithDangerousKey, ({ key, value }) => {
          expectDangerousKeyRefusal(() => codec.encode(value), key);
        }),
        { numRuns: 200 },
      );
    });

    it('strips any dangerous key from JSON text holding one, wherever it sits', () => {
      fc.assert(
        fc.property(jsonValueWithDangerousKey, ({ key, value }) => {
          const text = JSON.stringify(value);
          expect(text).toContain(JSON.stringify(key));
          expect(objectKeysDeep(codec.decode(Buffer.from(text))).has(key)).toBe(false);
        }),
        { numRuns: 200 },
      );
    });

    // What another writer can leave in Redis: escapes spell the same keys in other bytes, which
    // is why the pre-check also looks for `\u`.
    it.each(jsonAttackTexts())('strips dangerous keys from JSON bytes as found: %s', (_label, text) => {
      expect(pollutesAFreshRealm(JSON.parse(text))).toBe(true);
      const decoded = codec.decode(Buffer.from(text));
      const keys = ownKeysDeep(decoded);
      for (const key of ['__proto__', 'constructor', 'prototype']) expect(keys.has(key)).toBe(false);
      naiveMerge({}, decoded);
      expect(isPolluted()).toBe(false);
      expect(pollutesAFreshRealm(decoded)).toBe(false);
    });

    it.each([
      ['raw', PROTOTYPE_ATTACK_JSON],
      ['escaped', ESCAPED_PROTOTYPE_ATTACK_JSON],
    ])('strips a prototype key (%s), which a merge into a class follows, and refuses to encode it', (_label, text) => {
      expect(pollutesAClassInAFreshRealm(JSON.parse(text))).toBe(true);
      expectDangerousKeyRefusal(() => codec.encode(JSON.parse(text)), 'prototype');
      const decoded = codec.decode(Buffer.from(text));
      expect(ownKeysDeep(decoded).has('prototype')).toBe(false);
      expect(pollutesAClassInAFreshRealm(decoded)).toBe(false);
    });

    it('keeps escaped keys and strings that are not dangerous', () => {
      const text = '{"caf\\u00e9":"\\u0041\\n","list":[{"\\u0069d":1}],"path":"C:\\\\users"}';
      expectSameTyped(codec.decode(Buffer.from(text)), { café: 'A\n', list: [{ id: 1 }], path: 'C:\\users' });
    });

    it('keeps the rest of the object intact', () => {
      const payload = '{"id":7,"__proto__":{"polluted":true},"inner":{"constructor":{"prototype":{}}},"tags":["a"]}';
      expectDangerousKeyRefusal(() => codec.encode(JSON.parse(payload)), '__proto__');
      expectDangerousKeyRefusal(
        () => codec.encode(JSON.parse('{"id":7,"inner":{"constructor":{"prototype":{}}}}')),
        'constructor',
      );
      expectSameTyped(codec.decode(Buffer.from(payload)), { id: 7, inner: {}, tags: ['a'] });
    });

    it('keeps keys that merely contain the dangerous words', () => {
      const value = { constructorName: 'x', my__proto__: 1, __proto_: 2, prototypes: [3], proto: { deconstructor: 4 } };
      expectSameTyped(roundTrip(value), value);
    });
  });

  it('fails on bytes that are not JSON (the entry codec turns this into a miss)', () => {
    expect(() => codec.decode(Buffer.from('{"truncated":'))).toThrow();
  });
});
