import fc from 'fast-check';
import { CacheSerializationError, JsonCodec, MsgpackCodec } from '@elile/cache';
import { AutoCodec } from '../../../libs/cache/src/codec/auto.codec';
import { DANGEROUS_KEYS } from '../../../libs/cache/src/codec/dangerous-keys.util';
import { EntryCodec } from '../../../libs/cache/src/codec/entry-codec';
import { entryValue, jsonValue, jsonValueWithDangerousKey, msgpackValueWithDangerousKey } from './arbitraries';
import {
  attack,
  expectDangerousKeyRefusal,
  foreignMsgpack,
  isPolluted,
  jsonAttackTexts,
  mergeableAttacks,
  naiveMerge,
  ownKeysDeep,
  pollutesAFreshRealm,
  removePollution,
} from './pollution';
import { expectSameTyped } from './typed-equality';

const HEADER_LENGTH = 7;
const auto = new EntryCodec(new AutoCodec(), 0);
const autoCompressed = new EntryCodec(new AutoCodec(), 1);
const roundTrip = (value: unknown, codec = auto) => codec.decode(codec.encode(value));
const codecIdOf = (value: unknown): number => auto.encode(value)[1];

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** An entry as another writer could leave it: the documented header, then a payload it encoded. */
function entryOf(codecId: number, payload: Buffer): Buffer {
  const header = Buffer.from([0xe1, codecId, 0, 0, 0, 0, 0]);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload]);
}

const nested = (depth: number): unknown => (depth === 0 ? 'leaf' : { next: nested(depth - 1) });

describe('AutoCodec', () => {
  describe('round trip', () => {
    it('returns exactly what msgpack returned, types included, for every value an entry can hold', () => {
      const msgpack = new EntryCodec(new MsgpackCodec(), 0);
      fc.assert(
        fc.property(entryValue, (value) => {
          expectSameTyped(roundTrip(value), value);
          expectSameTyped(roundTrip(value, autoCompressed), msgpack.decode(msgpack.encode(value)));
        }),
        { numRuns: 400 },
      );
    });

    it('returns JSON-native values exactly, as JSON', () => {
      fc.assert(
        fc.property(jsonValue, (value) => {
          fc.pre(value === null || typeof value !== 'number' || !Object.is(value, -0));
          expect(codecIdOf(value)).toBe(JsonCodec.ID);
          expectSameTyped(roundTrip(value), value);
        }),
        { numRuns: 400 },
      );
    });

    it.each<[string, unknown]>([
      ['the extreme doubles', [Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE, 5e-324]],
      ['integers past 2^53', [2 ** 53 + 2, 2 ** 64, -(2 ** 63)]],
      ['a float that needs all 17 digits', 0.1 + 0.2],
      ['control characters and a paired surrogate', 'tab\tnul\u0000 emoji 😀'],
      ['a backslash followed by "ud"', 'C:\\udp\\users'],
      ['strings that look like Dates', { createdAt: '2024-01-01T00:00:00.000Z' }],
      ['empty containers', [{}, [], '']],
    ])('round-trips %s', (_label, value) => {
      expectSameTyped(roundTrip(value), value);
    });

    it('reads -0 back as 0 on both paths, as msgpack did', () => {
      expect(Object.is(roundTrip(-0), 0)).toBe(true);
      expect(Object.is((roundTrip({ x: -0, s: 'json-native otherwise' }) as { x: number }).x, 0)).toBe(true);
      expect(Object.is((roundTrip({ x: -0, when: new Date(0) }) as { x: number }).x, 0)).toBe(true);
    });
  });

  describe('chooses the format per value', () => {
    it('writes JSON-native values as plain JSON under the JSON codec id', () => {
      const entry = auto.encode({ id: 1, tags: ['a'], ok: true, none: null, score: 87.5 });
      expect(entry[1]).toBe(JsonCodec.ID);
      expect(entry.subarray(HEADER_LENGTH).toString('utf8')).toBe(
        '{"id":1,"tags":["a"],"ok":true,"none":null,"score":87.5}',
      );
    });

    it.each<[string, unknown]>([
      ['a Date', { at: new Date(0) }],
      ['a Date deep inside', { a: [{ b: { c: [new Date(0)] } }] }],
      ['a Map', new Map([['a', 1]])],
      ['a Set', [new Set([1])]],
      ['a BigInt', { id: 1n }],
      ['a Buffer', { bytes: Buffer.from('x') }],
      ['a Uint8Array', new Uint8Array([1])],
      ['undefined in an object', { a: 1, gone: undefined }],
      ['undefined in an array', [1, undefined]],
      ['a hole in an array', [1, , 3]], // eslint-disable-line no-sparse-arrays
      ['NaN', { score: NaN }],
      ['Infinity', [Infinity]],
      ['-0', { x: -0 }],
      ['a class instance', { at: new Point(1, 2) }],
      ['an object without a prototype', Object.assign(Object.create(null) as object, { a: 1 })],
      ['an array with toJSON', Object.assign([1], { toJSON: () => 'x' })],
      ['nesting deeper than 64 levels', nested(65)],
    ])('writes a value holding %s as msgpack', (_label, value) => {
      expect(codecIdOf(value)).toBe(MsgpackCodec.ID);
    });

    // Such a value must not reach JSON.stringify, which would write it (and reads would strip it):
    // it goes to msgpack, which refuses it.
    it.each<[string, string, unknown]>([
      ['a __proto__ key', '__proto__', attack()],
      ['a constructor key', 'constructor', { constructor: { name: 'x' } }],
      ['a prototype key', 'prototype', { prototype: {} }],
      ['a constructor key beside a Date', 'constructor', { at: new Date(0), constructor: { name: 'x' } }],
    ])('refuses a value holding %s', (_label, key, value) => {
      expectDangerousKeyRefusal(() => auto.encode(value), key);
      expectDangerousKeyRefusal(() => autoCompressed.encode(value), key);
    });

    // The walk spells the keys out for speed; it must follow the list the decoders strip.
    it('refuses a value holding any key the decoders strip (the JSON path would write it)', () => {
      for (const key of DANGEROUS_KEYS) {
        const value = JSON.parse(`{"id":1,"inner":{${JSON.stringify(key)}:{"x":1}}}`);
        expectDangerousKeyRefusal(() => auto.encode(value), key);
      }
    });

    it('refuses any value holding a dangerous own key, JSON-native or not, wherever it sits', () => {
      fc.assert(
        fc.property(fc.oneof(jsonValueWithDangerousKey, msgpackValueWithDangerousKey), ({ key, value }) => {
          expectDangerousKeyRefusal(() => auto.encode(value), key);
        }),
        { numRuns: 300 },
      );
    });

    it('keeps keys that merely contain the dangerous words, on both paths', () => {
      const value = { constructorName: 'x', my__proto__: 1, __proto_: 2, prototypes: [3], proto: { deconstructor: 4 } };
      expect(codecIdOf(value)).toBe(JsonCodec.ID);
      expectSameTyped(roundTrip(value), value);
      const rich = { ...value, at: new Date(0) };
      expect(codecIdOf(rich)).toBe(MsgpackCodec.ID);
      expectSameTyped(roundTrip(rich), rich);
    });

    it('keeps JSON up to 64 levels of nesting', () => {
      expect(codecIdOf(nested(63))).toBe(JsonCodec.ID);
      expectSameTyped(roundTrip(nested(63)), nested(63));
    });

    it('entries decode with readers built for the json or msgpack codec, and the other way round', () => {
      const json = new EntryCodec(new JsonCodec(), 0);
      const msgpack = new EntryCodec(new MsgpackCodec(), 0);
      const plain = { id: 1, name: 'x' };
      const rich = { id: 1, at: new Date(0) };
      expectSameTyped(json.decode(auto.encode(plain)), plain);
      expectSameTyped(json.decode(auto.encode(rich)), rich);
      expectSameTyped(msgpack.decode(auto.encode(plain)), plain);
      expectSameTyped(auto.decode(json.encode(plain)), plain);
      expectSameTyped(auto.decode(msgpack.encode(rich)), rich);
    });
  });

  describe('refuses, with CacheSerializationError', () => {
    const circular = () => {
      const o: Record<string, unknown> = { id: 1 };
      o.self = o;
      return o;
    };

    it.each<[string, unknown]>([
      ['undefined', undefined],
      ['a function', () => 1],
      ['a function in an otherwise JSON-native object', { id: 1, run: () => 1 }],
      ['an object with a toJSON method (JSON would store what it returns)', { id: 1, toJSON: () => 'x' }],
      ['a symbol', { kind: Symbol('s') }],
      ['a circular structure', circular()],
    ])('%s', (_label, value) => {
      expect(() => auto.encode(value)).toThrow(CacheSerializationError);
    });

    // JSON could keep a lone surrogate (JSON.stringify escapes it), msgpack cannot (UTF-8 has no
    // place for one). One rule for both paths: whether a value holds a Date somewhere must not
    // decide whether its strings can be cached.
    it.each<[string, unknown]>([
      ['a lone high surrogate in a JSON-native value', { name: '\ud83d' }],
      ['a lone low surrogate in a JSON-native value', ['a\ude00b']],
      ['an emoji cut in half in a JSON-native value', 'hi 😀'.slice(0, 4)],
      ['a lone surrogate in a key', { ['k\ud800']: 1 }],
      ['a lone surrogate in a value holding a Date', { name: '\ud83d', at: new Date(0) }],
    ])('a string holding %s', (_label, value) => {
      expect(() => auto.encode(value)).toThrow(/lone UTF-16 surrogate/);
    });

    it('any string holding a lone surrogate, on either path', () => {
      const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));
      fc.assert(
        fc.property(fc.string(), lone, fc.string(), fc.boolean(), (before, surrogate, after, rich) => {
          const text = before + surrogate + after;
          fc.pre(!text.isWellFormed());
          const value = rich ? { text, at: new Date(0) } : { text };
          expect(() => auto.encode(value)).toThrow(CacheSerializationError);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('prototype pollution', () => {
    afterEach(removePollution);

    // Reads strip these keys, so storing them would make a hit differ from what was stored.
    it('refuses a value holding dangerous keys, so a hit always equals what was stored', () => {
      const value = { id: 7, inner: attack(), list: [attack()] };
      expect(pollutesAFreshRealm(value)).toBe(true);
      expectDangerousKeyRefusal(() => auto.encode(value), '__proto__');
      expectDangerousKeyRefusal(() => auto.encode({ ...value, at: new Date(0) }), '__proto__');
    });

    it('refuses them inside Map values and Sets', () => {
      expectDangerousKeyRefusal(() => auto.encode(new Map([['k', { inner: attack() }]])), '__proto__');
      expectDangerousKeyRefusal(() => auto.encode([new Set([{ inner: attack() }])]), '__proto__');
    });

    it.each(mergeableAttacks())(
      'strips them from msgpack entries another writer left in Redis: %s',
      (_label, payload) => {
        const decoded = auto.decode(entryOf(MsgpackCodec.ID, foreignMsgpack(payload)));
        const keys = ownKeysDeep(decoded);
        for (const key of ['__proto__', 'constructor', 'prototype']) expect(keys.has(key)).toBe(false);
        naiveMerge({}, decoded);
        expect(isPolluted()).toBe(false);
        expect(pollutesAFreshRealm(decoded)).toBe(false);
      },
    );

    it('strips them from foreign msgpack entries inside Map values and Sets', () => {
      const foreign = foreignMsgpack(
        new Map<string, unknown>([
          ['k', { inner: attack() }],
          ['s', new Set([attack()])],
        ]),
      );
      const decoded = auto.decode(entryOf(MsgpackCodec.ID, foreign)) as Map<string, unknown>;
      expect(ownKeysDeep(decoded).has('__proto__')).toBe(false);
      expect(ownKeysDeep(decoded).has('constructor')).toBe(false);
      naiveMerge({}, decoded.get('k'));
      naiveMerge({}, [...(decoded.get('s') as Set<unknown>)][0]);
      expect(isPolluted()).toBe(false);
    });

    it.each(jsonAttackTexts())('strips them from JSON entries as found in Redis: %s', (_label, text) => {
      const decoded = auto.decode(entryOf(JsonCodec.ID, Buffer.from(text)));
      const keys = ownKeysDeep(decoded);
      for (const key of ['__proto__', 'constructor', 'prototype']) expect(keys.has(key)).toBe(false);
      naiveMerge({}, decoded);
      expect(isPolluted()).toBe(false);
    });
  });
});
