import fc from 'fast-check';

/**
 * `__proto__`, `constructor` and `prototype` cannot round-trip: the codecs refuse a value holding
 * one as an own key of an object (decoders strip them, against prototype pollution, so a hit would
 * differ from the miss). The round-trip arbitraries leave them out; {@link msgpackValueWithDangerousKey}
 * and {@link jsonValueWithDangerousKey} plant one, for the refusal and stripping properties.
 */
const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));

export const safeKey = anyString.filter((key) => !DANGEROUS_KEYS.has(key));

/** -0 is documented to decode as 0, so it is left to an explicit test. */
const number = fc.oneof(
  fc.double().filter((n) => !Object.is(n, -0)),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(2 ** 53, 2 ** 60, -(2 ** 60), 2 ** 64, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity),
);

const bigint = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  // Beyond 64 bits MessagePack has no integer type; these need the codec's own extension.
  fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }),
  fc.constantFrom(2n ** 64n, -(2n ** 63n) - 1n, 2n ** 200n + 1n),
);

const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  anyString,
  number,
  fc.boolean(),
  fc.date(),
  // fc.date() can yield an invalid Date but rarely does; it must come up in every run.
  fc.constant(null).map(() => new Date(NaN)),
  bigint,
  fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 32 }),
);

/** Every type the msgpack codec promises to round-trip, nested. */
export const msgpackValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(safeKey, tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc.map(tie('value'), tie('value'), { maxKeys: 4 }),
    fc.set(tie('value'), { maxLength: 4 }),
  ),
})).value;

/** What an entry can hold: the entry codec refuses a top-level `undefined`, which reads as a miss. */
export const entryValue = msgpackValue.filter((value) => value !== undefined);

const jsonNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.integer(),
  fc.maxSafeInteger(),
);

/** Values JSON represents exactly: what the JSON codec must round-trip. */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    anyString,
    jsonNumber,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(safeKey, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
})).value;

/** One of the keys the codecs refuse on encode and strip on decode. */
export const dangerousKey = fc.constantFrom('__proto__', 'constructor', 'prototype');

/** An object holding `key` as an own property: defined, since assigning `__proto__` would set the prototype. */
function objectWith(key: string, member: unknown, others: Record<string, unknown>): Record<string, unknown> {
  const object = { ...others };
  Object.defineProperty(object, key, { value: member, enumerable: true, writable: true, configurable: true });
  return object;
}

type Wrap = (inner: unknown) => unknown;

/** Puts a value one level down: as a property beside others, or as an array member among others. */
const containerWraps = (members: fc.Arbitrary<unknown>): Array<fc.Arbitrary<Wrap>> => [
  fc
    .tuple(safeKey, fc.dictionary(safeKey, members, { maxKeys: 2, noNullPrototype: true }))
    .map(([key, others]): Wrap => (inner) => ({ ...others, [key]: inner })),
  fc.tuple(fc.array(members, { maxLength: 3 }), fc.nat()).map(([items, at]): Wrap => (inner) => {
    const array = [...items];
    array.splice(at % (items.length + 1), 0, inner);
    return array;
  }),
];

const jsonWrap: fc.Arbitrary<Wrap> = fc.oneof(...containerWraps(jsonValue));

const msgpackWrap: fc.Arbitrary<Wrap> = fc.oneof(
  ...containerWraps(msgpackValue),
  fc.tuple(msgpackValue, fc.map(msgpackValue, msgpackValue, { maxKeys: 2 })).map(
    ([key, others]): Wrap =>
      (inner) =>
        new Map([...others, [key, inner]]),
  ),
  fc.array(msgpackValue, { maxLength: 3 }).map(
    (others): Wrap =>
      (inner) =>
        new Set([...others, inner]),
  ),
);

/** A value (built from `members`) with one object holding `key` as an own key, at any depth. */
const withDangerousKey = (members: fc.Arbitrary<unknown>, wrap: fc.Arbitrary<Wrap>) =>
  fc
    .record({
      key: dangerousKey,
      member: members,
      others: fc.dictionary(safeKey, members, { maxKeys: 3, noNullPrototype: true }),
      wraps: fc.array(wrap, { maxLength: 4 }),
    })
    .map(({ key, member, others, wraps }) => ({
      key,
      value: wraps.reduce<unknown>((inner, wrapIn) => wrapIn(inner), objectWith(key, member, others)),
    }));

/** A msgpack value holding one dangerous key, nested in objects, arrays, Map values or Sets. */
export const msgpackValueWithDangerousKey = withDangerousKey(msgpackValue, msgpackWrap);

/** A JSON value holding one dangerous key, nested in objects or arrays. */
export const jsonValueWithDangerousKey = withDangerousKey(jsonValue, jsonWrap);
