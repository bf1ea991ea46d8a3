import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { CacheSerializationError, MsgpackCodec } from '@elile/cache';
import { CacheService } from '../../../libs/cache/src/caches/cache.service';
import { EntryCodec } from '../../../libs/cache/src/codec/entry-codec';
import { MemoryStore } from '../../../libs/cache/src/store/memory.store';
import { entryValue, msgpackValue, safeKey } from './arbitraries';
import {
  attack,
  ATTACK_JSON,
  isPolluted,
  mergeableAttacks,
  naiveMerge,
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
      ['Map order', new Map([['a', 1], ['b', 2]]), new Map([['b', 2], ['a', 1]])],
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
      ['a Map with non-string keys', new Map<unknown, unknown>([[1, 'a'], [{ id: 2 }, new Date(0)], [3n, null]])],
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
        fc.asyncProperty(safeKey.filter((key) => key !== ''), entryValue, async (key, value) => {
          await cache.delete(key);
          const miss = await cache.getOrSet(key, () => value);
          const hitsBefore = cache.stats().hits;
          const hit = await cache.getOrSet(key, () => {
            throw new Error('the loader must not run on a hit');
          });
          expect(cache.stats().hits).toBe(hitsBefore + 1);
          expectSameTyped(hit, miss);
        }),
        { numRuns: 60 },
      );
    });
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
      const poison = fc.constantFrom<unknown>(() => 1, Symbol('x'), function named() {});
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

    it.each(mergeableAttacks())('strips __proto__ and constructor keys: %s', (_label, payload) => {
      const decoded = roundTrip(payload);
      const keys = ownKeysDeep(decoded);
      expect(keys.has('__proto__')).toBe(false);
      expect(keys.has('constructor')).toBe(false);

      const assigned = Object.assign({}, decoded) as Record<string, unknown>;
      expect(assigned.polluted).toBeUndefined();
      naiveMerge({}, decoded);
      expect(isPolluted()).toBe(false);
      expect(pollutesAFreshRealm(decoded)).toBe(false);
    });

    it('strips them inside Map values and Sets, where they would reach user code on iteration', () => {
      const decoded = roundTrip(new Map<unknown, unknown>([['a', attack()], ['s', new Set([attack()])]]));
      const keys = ownKeysDeep(decoded);
      expect(keys.has('__proto__')).toBe(false);
      expect(keys.has('constructor')).toBe(false);
      for (const value of (decoded as Map<string, unknown>).values()) {
        naiveMerge({}, value instanceof Set ? [...value][0] : value);
      }
      expect(isPolluted()).toBe(false);
    });

    it('strips a prototype key, which a merge into a class follows, also inside Map values', () => {
      const payload = JSON.parse(PROTOTYPE_ATTACK_JSON);
      expect(pollutesAClassInAFreshRealm(payload)).toBe(true);
      expectSameTyped(roundTrip(payload), {});
      const decoded = roundTrip(new Map([['k', JSON.parse(`{"list":[${PROTOTYPE_ATTACK_JSON}]}`)]])) as Map<string, unknown>;
      expect(ownKeysDeep(decoded).has('prototype')).toBe(false);
      expect(pollutesAClassInAFreshRealm(decoded.get('k'))).toBe(false);
    });

    // Entries another program (or an older version) wrote were not cleaned before encoding.
    it('strips dangerous keys from msgpack bytes written by another encoder, nested and in Map values', () => {
      const foreign = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true }).pack(
        new Map<string, unknown>([
          ['user', JSON.parse(`{"profile":{"constructor":{"prototype":{"polluted":true}}},"list":[${PROTOTYPE_ATTACK_JSON}]}`)],
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

    it('keeps the rest of the object intact', () => {
      const payload = '{"id":7,"inner":{"constructor":{"prototype":{"polluted":true}}},"tags":["a"]}';
      expectSameTyped(roundTrip(JSON.parse(payload)), {
        id: 7,
        inner: {},
        tags: ['a'],
      });
    });

    it('keeps a Map key named __proto__ or constructor (a Map cannot be polluted through its keys)', () => {
      const map = new Map([['__proto__', 1], ['constructor', 2]]);
      expectSameTyped(roundTrip(map), map);
    });

    // msgpackr renames an own `__proto__` key to `__proto_` while decoding; the key must be gone
    // instead, or the hit would carry a key the miss never had.
    it('removes a __proto__ key instead of renaming it', () => {
      expectSameTyped(roundTrip(attack()), {});
      expectSameTyped(roundTrip(JSON.parse(`{"id":7,"inner":${ATTACK_JSON}}`)), { id: 7, inner: {} });
      expectSameTyped(roundTrip(JSON.parse('{"a":[{"__proto__":{"x":1}}]}')), { a: [{}] });
    });

    // Same cause: a renamed key would overwrite a legitimate `__proto_` key.
    it('does not let a __proto__ key overwrite a legitimate "__proto_" key', () => {
      expectSameTyped(roundTrip(JSON.parse('{"__proto_":"mine","__proto__":"attacker"}')), { __proto_: 'mine' });
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
