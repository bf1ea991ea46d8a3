import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { CacheSerializationError, MsgpackCodec } from '@elile/cache';
import { Logger } from '@nestjs/common';
import { codecMessages } from '../../../libs/cache/src/cache.messages';
import { CacheService } from '../../../libs/cache/src/caches/cache.service';
import { AutoCodec } from '../../../libs/cache/src/codec/auto.codec';
import { EntryCodec } from '../../../libs/cache/src/codec/entry-codec';
import { MemoryStore } from '../../../libs/cache/src/store/memory.store';
import { entryValue, msgpackValue, msgpackValueWithDangerousKey, safeKey } from './arbitraries';
import {
  attack,
  ATTACK_JSON,
  DANGEROUS_KEY_NAMES,
  expectDangerousKeyRefusal,
  foreignMsgpack,
  isPolluted,
  mergeableAttacks,
  naiveMerge,
  objectKeysDeep,
  ownKeysDeep,
  pollutesAClassInAFreshRealm,
  pollutesAFreshRealm,
  PROTOTYPE_ATTACK_JSON,
  removePollution,
} from './pollution';
import { expectSameTyped, typedDifference } from './typed-equality';

const codec = new MsgpackCodec();
const roundTrip = (value: unknown) => codec.decode(codec.encode(value));

describe('MsgpackCodec', () => {
  describe('the equality these tests rely on', () => {
    // If the comparator were loose, the round-trip properties below would pass on a lossy codec.
    it.each<[string, unknown, unknown]>([
      ['Date vs ISO string', new Date(0), new Date(0).toISOString()],
      ['Map vs object', new Map([['a', 1]]), { a: 1 }],
      ['Set vs array', new Set([1]), [1]],
      ['BigInt vs number', 1n, 1],
      ['Buffer vs Uint8Array', Buffer.from([1]), new Uint8Array([1])],
      ['null vs undefined', null, undefined],
      ['missing key vs key holding undefined', {}, { a: undefined }],
      ['0 vs -0', 0, -0],
      [
        'Map order',
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ],
      ['nested type change', { a: [new Set([1n])] }, { a: [new Set([1])] }],
    ])('tells apart %s', (_label, a, b) => {
      expect(typedDifference(a, b)).toEqual(expect.any(String));
      expect(typedDifference(b, a)).toEqual(expect.any(String));
    });

    it('considers two invalid Dates, and NaN, equal to themselves', () => {
      expect(typedDifference(new Date(NaN), new Date(NaN))).toBeUndefined();
      expect(typedDifference([NaN], [NaN])).toBeUndefined();
    });
  });

  describe('round trip', () => {
    it('returns exactly what it was given, types included, for arbitrary nested values', () => {
      fc.assert(
        fc.property(msgpackValue, (value) => {
          expectSameTyped(roundTrip(value), value);
        }),
        { numRuns: 300 },
      );
    });

    it.each<[string, unknown]>([
      ['null', null],
      ['undefined', undefined],
      ['a Date with milliseconds', new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999))],
      ['an invalid Date', new Date(NaN)],
      ['the extreme Dates', [new Date(8.64e15), new Date(-8.64e15)]],
      ['a BigInt beyond 64 bits', 2n ** 100n + 12345n],
      ['a negative BigInt beyond 64 bits', -(2n ** 130n)],
      ['small BigInts (not turned into numbers)', [0n, 1n, -1n]],
      ['integers past 2^53 held as numbers (not turned into BigInts)', [2 ** 53, 2 ** 64, -(2 ** 63)]],
      ['NaN and the infinities', [NaN, Infinity, -Infinity]],
      ['a Buffer', Buffer.from('binary\u0000data')],
      ['a Uint8Array', new Uint8Array([0, 255, 7])],
      [
        'a Map with non-string keys',
        new Map<unknown, unknown>([
          [1, 'a'],
          [{ id: 2 }, new Date(0)],
          [3n, null],
        ]),
      ],
      ['a Set of mixed values', new Set<unknown>([1, '1', 1n, undefined, null])],
      ['undefined inside arrays and objects', { a: undefined, list: [undefined, null] }],
      ['a string that looks like a Date', '2024-01-01T00:00:00.000Z'],
      ['an object with the keys of a Map', { size: 1, entries: [] }],
      ['empty containers', [{}, [], new Map(), new Set(), Buffer.alloc(0), new Uint8Array(0)]],
    ])('round-trips %s', (_label, value) => {
      expectSameTyped(roundTrip(value), value);
    });

    it('decodes -0 as 0 (documented: MessagePack writes integral floats as integers)', () => {
      expect(Object.is(roundTrip(-0), 0)).toBe(true);
      expect(Object.is((roundTrip({ x: -0 }) as { x: number }).x, 0)).toBe(true);
    });

    it('survives more distinct object shapes in one value than msgpackr has record ids', () => {
      const value = Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, shared: i % 3 === 0 ? null : `v${i}` }));
      expectSameTyped(roundTrip(value), value);
    });

    it('gives the same result when one codec instance encodes many values in a row', () => {
      // msgpackr keeps per-instance state (structures, buffers); one value must not leak into another.
      fc.assert(
        fc.property(fc.array(msgpackValue, { maxLength: 6 }), (values) => {
          const encoded = values.map((value) => codec.encode(value));
          encoded.forEach((bytes, i) => expectSameTyped(codec.decode(bytes), values[i]));
        }),
        { numRuns: 50 },
      );
    });
  });

  describe('a cache hit', () => {
    const cacheWith = (compressionThreshold: number) =>
      new CacheService<unknown>(
        { name: 'test', ttlMs: 60_000, prefix: 'test:' },
        '',
        new MemoryStore(1000),
        new EntryCodec(new MsgpackCodec(), compressionThreshold),
        10_000,
      );

    it.each([
      ['uncompressed', 0],
      ['compressed', 1],
    ])('returns the same types as the miss that filled it (%s)', async (_label, threshold) => {
      const cache = cacheWith(threshold);
      await fc.assert(
        fc.asyncProperty(
          safeKey.filter((key) => key !== ''),
          entryValue,
          async (key, value) => {
            await cache.delete(key);
            const miss = await cache.getOrSet(key, () => value);
            const hitsBefore = cache.stats().hits;
            const hit = await cache.getOrSet(key, () => {
              throw new Error('the loader must not run on a hit');
            });
            expect(cache.stats().hits).toBe(hitsBefore + 1);
            expectSameTyped(hit, miss);
          },
        ),
        { numRuns: 60 },
      );
    });

    // A hit must equal the miss, and reads strip these keys: such a value is never stored.
    it.each<[string, () => MsgpackCodec | AutoCodec]>([
      ['msgpack', () => new MsgpackCodec()],
      ['auto', () => new AutoCodec()],
    ])(
      'never holds a value with a dangerous own key (%s): set refuses it, getOrSet serves it unstored',
      async (_label, makeCodec) => {
        const cache = new CacheService<unknown>(
          { name: 'test', ttlMs: 60_000, prefix: 'test:' },
          '',
          new MemoryStore(1000),
          new EntryCodec(makeCodec(), 0),
          10_000,
        );
        const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
        try {
          for (const key of DANGEROUS_KEY_NAMES) {
            const value = JSON.parse(`{"id":1,"inner":{${JSON.stringify(key)}:{"x":1}}}`);
            await expect(cache.set(key, value)).rejects.toBeInstanceOf(CacheSerializationError);
            await expect(cache.set(key, value)).rejects.toThrow(codecMessages.dangerousKey(key));
            await expect(cache.get(key)).resolves.toBeUndefined();

            const loader = jest.fn(() => value);
            const errorsBefore = cache.stats().errors;
            await expect(cache.getOrSet(key, loader)).resolves.toBe(value);
            expect(cache.stats().errors).toBe(errorsBefore + 1);
            await expect(cache.exists(key)).resolves.toBe(false);
            await expect(cache.getOrSet(key, loader)).resolves.toBe(value);
            expect(loader).toHaveBeenCalledTimes(2);
            expect(ownKeysDeep(value).has(key)).toBe(true);
          }
        } finally {
          warn.mockRestore();
        }
      },
    );
  });

  describe('values it cannot encode', () => {
    const fn = () => 'not data';
    const circularObject = () => {
      const o: Record<string, unknown> = { id: 1 };
      o.self = o;
      return o;
    };
    const circularArray = () => {
      const a: unknown[] = [1];
      a.push(a);
      return a;
    };
    const circularMap = () => {
      const m = new Map<string, unknown>();
      m.set('self', m);
      return m;
    };
    const circularSet = () => {
      const s = new Set<unknown>();
      s.add(s);
      return s;
    };
    const indirectCycle = () => {
      const a: Record<string, unknown> = {};
      const b: Record<string, unknown> = { a };
      a.b = [b];
      return { root: a };
    };

    it.each<[string, () => unknown]>([
      ['a function', () => fn],
      ['an async function', () => async () => 1],
      ['a class', () => class Thing {}],
      ['a function in an object', () => ({ a: { b: fn } })],
      ['a function in an array', () => [1, [2, fn]]],
      ['a function as a Map value', () => new Map([['k', fn]])],
      ['a function as a Map key', () => new Map([[fn, 'v']])],
      ['a function in a Set', () => new Set([fn])],
      ['a method on a plain object', () => ({ toString: fn, id: 1 })],
      ['a symbol', () => Symbol('s')],
      ['a symbol in an object', () => ({ kind: Symbol('s') })],
      ['a symbol in an array', () => [Symbol.iterator]],
      ['a circular object', circularObject],
      ['a circular array', circularArray],
      ['a circular Map', circularMap],
      ['a circular Set', circularSet],
      ['an indirect cycle', indirectCycle],
    ])('refuses %s with CacheSerializationError', (_label, make) => {
      expect(() => codec.encode(make())).toThrow(CacheSerializationError);
    });

    it('refuses a function or symbol wherever it sits in an otherwise encodable value', () => {
      const poison = fc.constantFrom<unknown>(
        () => 1,
        Symbol('x'),
        function named() {},
      );
      const wrap = fc.constantFrom(
        (v: unknown) => v,
        (v: unknown) => ({ nested: { deeper: v } }),
        (v: unknown) => new Map([['k', v]]),
        (v: unknown) => new Set([v]),
      );
      fc.assert(
        fc.property(fc.array(msgpackValue, { maxLength: 4 }), fc.nat(), poison, wrap, (items, at, bad, wrapper) => {
          const value = [...items];
          value.splice(at % (items.length + 1), 0, wrapper(bad));
          expect(() => codec.encode(value)).toThrow(CacheSerializationError);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('prototype pollution', () => {
    afterEach(removePollution);

    it('the attack payloads used here do pollute a naive merge (control)', () => {
      for (const [, payload] of mergeableAttacks()) expect(pollutesAFreshRealm(payload)).toBe(true);
    });

    // Reads strip these keys; stripping them on write too would make a hit return something other
    // than what the miss returned, so the value is refused (and left as the caller had it).
    it.each(mergeableAttacks())('refuses to encode __proto__ and constructor keys: %s', (_label, payload) => {
      expectDangerousKeyRefusal(() => codec.encode(payload), '__proto__');
      expect(ownKeysDeep(payload).has('__proto__')).toBe(true);
    });

    it('refuses any value holding a dangerous own key, wherever it sits', () => {
      fc.assert(
        fc.property(msgpackValueWithDangerousKey, ({ key, value }) => {
          expectDangerousKeyRefusal(() => codec.encode(value), key);
        }),
        { numRuns: 200 },
      );
    });

    // Entries another program (an older version, or anyone with access to Redis) wrote were never
    // refused: reading them must not hand a merge its way to Object.prototype.
    it.each(mergeableAttacks())(
      'strips __proto__ and constructor keys from bytes another writer encoded: %s',
      (_label, payload) => {
        const bytes = foreignMsgpack(payload);
        expect(bytes.includes('__proto__')).toBe(true);
        const decoded = codec.decode(bytes);
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

    it('strips any dangerous key from foreign bytes, wherever it sits', () => {
      fc.assert(
        fc.property(msgpackValueWithDangerousKey, ({ key, value }) => {
          const decoded = codec.decode(foreignMsgpack(value));
          expect(objectKeysDeep(decoded).has(key)).toBe(false);
        }),
        { numRuns: 200 },
      );
    });

    const inContainers = (): Array<[string, unknown]> => [
      ['a Map value', new Map([['a', attack()]])],
      ['an array inside a Map value', new Map([['a', { inner: [attack()] }]])],
      ['a Set member', new Set([attack()])],
      [
        'a Set inside a Map value',
        new Map<unknown, unknown>([
          ['a', attack()],
          ['s', new Set([attack()])],
        ]),
      ],
      ['a Set inside an array', [1, new Set([{ inner: attack() }])]],
    ];

    it.each(inContainers())('refuses __proto__ and constructor keys in %s', (_label, value) => {
      expectDangerousKeyRefusal(() => codec.encode(value), '__proto__');
    });

    it('strips them from foreign bytes inside Map values and Sets, where they would reach user code on iteration', () => {
      const decoded = codec.decode(
        foreignMsgpack(
          new Map<unknown, unknown>([
            ['a', attack()],
            ['s', new Set([attack()])],
          ]),
        ),
      );
      const keys = ownKeysDeep(decoded);
      expect(keys.has('__proto__')).toBe(false);
      expect(keys.has('constructor')).toBe(false);
      for (const value of (decoded as Map<string, unknown>).values()) {
        naiveMerge({}, value instanceof Set ? [...value][0] : value);
      }
      expect(isPolluted()).toBe(false);
      for (const [label, value] of inContainers()) {
        expect([label, ownKeysDeep(codec.decode(foreignMsgpack(value))).has('constructor')]).toEqual([label, false]);
      }
    });

    it('refuses a prototype key, which a merge into a class follows, also inside Map values', () => {
      const payload = JSON.parse(PROTOTYPE_ATTACK_JSON);
      expect(pollutesAClassInAFreshRealm(payload)).toBe(true);
      expectDangerousKeyRefusal(() => codec.encode(payload), 'prototype');
      const inMap = new Map([['k', JSON.parse(`{"list":[${PROTOTYPE_ATTACK_JSON}]}`)]]);
      expectDangerousKeyRefusal(() => codec.encode(inMap), 'prototype');
    });

    it('strips a prototype key from foreign bytes, also inside Map values', () => {
      expectSameTyped(codec.decode(foreignMsgpack(JSON.parse(PROTOTYPE_ATTACK_JSON))), {});
      const inMap = new Map([['k', JSON.parse(`{"list":[${PROTOTYPE_ATTACK_JSON}]}`)]]);
      const decoded = codec.decode(foreignMsgpack(inMap)) as Map<string, unknown>;
      expect(ownKeysDeep(decoded).has('prototype')).toBe(false);
      expect(pollutesAClassInAFreshRealm(decoded.get('k'))).toBe(false);
    });

    it('strips dangerous keys from msgpack bytes written by another encoder, nested and in Map values', () => {
      const foreign = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true }).pack(
        new Map<string, unknown>([
          [
            'user',
            JSON.parse(`{"profile":{"constructor":{"prototype":{"polluted":true}}},"list":[${PROTOTYPE_ATTACK_JSON}]}`),
          ],
          ['top', attack()],
        ]),
      );
      const decoded = codec.decode(foreign) as Map<string, unknown>;
      const keys = ownKeysDeep(decoded);
      for (const key of ['__proto__', 'constructor', 'prototype']) expect(keys.has(key)).toBe(false);
      for (const value of decoded.values()) {
        naiveMerge({}, value);
        expect(pollutesAClassInAFreshRealm(value)).toBe(false);
      }
      expect(isPolluted()).toBe(false);
    });

    it('refuses an object for one nested key, and strips only that key from foreign bytes', () => {
      const payload = JSON.parse('{"id":7,"inner":{"constructor":{"prototype":{"polluted":true}}},"tags":["a"]}');
      expectDangerousKeyRefusal(() => codec.encode(payload), 'constructor');
      expectSameTyped(codec.decode(foreignMsgpack(payload)), { id: 7, inner: {}, tags: ['a'] });
    });

    it('keeps a Map key named __proto__ or constructor (a Map cannot be polluted through its keys)', () => {
      const map = new Map([
        ['__proto__', 1],
        ['constructor', 2],
      ]);
      expectSameTyped(roundTrip(map), map);
      expectSameTyped(codec.decode(foreignMsgpack(map)), map);
    });

    it('refuses, and strips from foreign bytes, dangerous keys of an object used as a Map key', () => {
      const map = new Map([[attack(), 1]]);
      expect(() => codec.encode(map)).toThrow(CacheSerializationError);
      const decoded = codec.decode(foreignMsgpack(map)) as Map<unknown, number>;
      const [key] = [...decoded.keys()];
      expect(ownKeysDeep(key).has('__proto__')).toBe(false);
      expect(ownKeysDeep(key).has('constructor')).toBe(false);
      expect(pollutesAFreshRealm(key)).toBe(false);
    });

    it('keeps keys that merely contain the dangerous words', () => {
      const value = {
        constructorName: 'x',
        my__proto__: 1,
        __proto_: 2,
        prototypes: [3],
        proto: { deconstructor: 4 },
        at: new Date(0),
      };
      expectSameTyped(roundTrip(value), value);
    });

    // msgpackr renames an own `__proto__` key to `__proto_` while decoding: a stored `__proto__`
    // would come back as a key the miss never had, so it is refused instead.
    it.each([
      ['top level', ATTACK_JSON],
      ['nested', `{"id":7,"inner":${ATTACK_JSON}}`],
      ['inside an array', '{"a":[{"__proto__":{"x":1}}]}'],
    ])('refuses a __proto__ key (%s), which msgpackr would read back renamed', (_label, text) => {
      expectDangerousKeyRefusal(() => codec.encode(JSON.parse(text)), '__proto__');
    });

    // What the rename makes of a foreign `__proto__`: an ordinary own key, never the prototype.
    it('reads a foreign __proto__ key as msgpackr renames it, leaving every prototype alone', () => {
      expectSameTyped(codec.decode(foreignMsgpack(JSON.parse('{"id":7,"inner":{"__proto__":{"x":1}}}'))), {
        id: 7,
        inner: { __proto_: { x: 1 } },
      });
      expectSameTyped(codec.decode(foreignMsgpack(JSON.parse('{"a":[{"__proto__":{"x":1}}]}'))), {
        a: [{ __proto_: { x: 1 } }],
      });
    });

    // Same cause: the renamed key would overwrite a legitimate `__proto_` key, so such a value is
    // refused, while `__proto_` alone round-trips.
    it('never lets a __proto__ key overwrite a legitimate "__proto_" key of a stored value', () => {
      expectDangerousKeyRefusal(
        () => codec.encode(JSON.parse('{"__proto_":"mine","__proto__":"attacker"}')),
        '__proto__',
      );
      expectSameTyped(roundTrip({ __proto_: 'mine' }), { __proto_: 'mine' });
      const forged = codec.decode(foreignMsgpack(JSON.parse('{"__proto_":"mine","__proto__":{"polluted":true}}')));
      expect(Object.getPrototypeOf(forged)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(forged, '__proto__')).toBe(false);
      expect(pollutesAFreshRealm(forged)).toBe(false);
    });
  });

  describe('strings', () => {
    // MessagePack strings are UTF-8, which cannot hold a lone UTF-16 surrogate; msgpackr writes
    // U+FFFD instead (truncating a string with emoji via .slice() produces one). The codec contract
    // says a value it cannot represent faithfully is refused with CacheSerializationError.
    it.each([
      ['a lone high surrogate', '\ud83d'],
      ['a lone low surrogate', 'a\ude00b'],
      ['an emoji cut in half', 'hi 😀'.slice(0, 4)],
    ])('never silently alters %s: round-trips it or refuses it', (_label, text) => {
      let decoded: unknown;
      try {
        decoded = roundTrip({ name: text });
      } catch (error) {
        expect(error).toBeInstanceOf(CacheSerializationError);
        return;
      }
      expect(decoded).toEqual({ name: text });
    });
  });
});
