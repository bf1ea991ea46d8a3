import fc from 'fast-check';

/**
 * `__proto__`, `constructor` and `prototype` are stripped on decode on purpose (prototype
 * pollution), so they cannot round-trip; their own tests cover them.
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
