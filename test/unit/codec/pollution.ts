import vm from 'node:vm';
import { Packr } from 'msgpackr';
import { CacheSerializationError } from '@elile/cache';
import { codecMessages } from '../../../libs/cache/src/cache.messages';

/** The keys the codecs refuse to encode and strip when decoding. */
export const DANGEROUS_KEY_NAMES = ['__proto__', 'constructor', 'prototype'] as const;

/**
 * Asserts that `encode` refuses its value for holding the dangerous key `key`: a
 * CacheSerializationError whose message names that key (and not some other refusal).
 */
export function expectDangerousKeyRefusal(encode: () => unknown, key: string): void {
  let thrown: unknown;
  try {
    encode();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CacheSerializationError);
  expect((thrown as Error).message).toContain(`"${key}"`);
  expect((thrown as Error).message).toBe(codecMessages.dangerousKey(key));
}

/**
 * Another program's MessagePack writer, with the codec's record layout but none of its checks:
 * what a foreign (or forged) entry can hold, dangerous keys included.
 */
const foreignPackr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });
export const foreignMsgpack = (value: unknown): Buffer => foreignPackr.pack(value);

/** The classic payload: both routes to Object.prototype a merge can take. */
export const ATTACK_JSON = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';

/** A fresh copy each call: JSON.parse creates `__proto__` as an own key, as a decoder would. */
export const attack = (): Record<string, unknown> => JSON.parse(ATTACK_JSON);

/** Attack payloads at several depths, in the shapes a naive merge descends into. */
export const mergeableAttacks = (): Array<[string, unknown]> => [
  ['top level', attack()],
  ['nested object', JSON.parse(`{"user":{"profile":${ATTACK_JSON}}}`)],
  ['inside an array', JSON.parse(`{"items":[1,${ATTACK_JSON}]}`)],
  ['array at top level', JSON.parse(`[${ATTACK_JSON}]`)],
  ['beside ordinary keys', JSON.parse(`{"id":7,"__proto__":{"polluted":true},"name":"x"}`)],
];

/**
 * The classic payload with a letter of each key spelled as a JSON escape: the same keys once
 * parsed, but bytes in which no search for a key name (or for "proto") finds anything.
 */
export const ESCAPED_ATTACK_JSON =
  '{"__pr\\u006fto__":{"polluted":true},"c\\u006fnstructor":{"pr\\u006ftotype":{"polluted":true}}}';

/** JSON texts as a foreign writer could leave them in Redis: raw and escaped keys, at several depths. */
export const jsonAttackTexts = (): Array<[string, string]> => [
  ['raw keys, top level', ATTACK_JSON],
  ['escaped keys, top level', ESCAPED_ATTACK_JSON],
  ['escaped keys, nested', `{"user":{"profile":${ESCAPED_ATTACK_JSON}}}`],
  ['escaped keys, inside an array', `{"items":[1,${ESCAPED_ATTACK_JSON}]}`],
  ['escaped keys, array at top level', `[${ESCAPED_ATTACK_JSON}]`],
  ['escaped keys beside ordinary ones', `{"id":7,"__pr\\u006fto__":{"polluted":true},"name":"x"}`],
  [
    'every character escaped',
    `{"${[...'__proto__'].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}":{"polluted":true}}`,
  ],
];

/** A merge into a class follows a `prototype` key to the class's prototype. */
export const PROTOTYPE_ATTACK_JSON = '{"prototype":{"polluted":true}}';
export const ESCAPED_PROTOTYPE_ATTACK_JSON = '{"pr\\u006ftotype":{"polluted":true}}';

/**
 * A recursive merge of the kind found in user code and older utility libraries: it follows
 * whatever `target[key]` is, so `__proto__` and `constructor.prototype` lead it to Object.prototype.
 */
export function naiveMerge(target: Record<string, unknown>, source: unknown): Record<string, unknown> {
  for (const key in source as Record<string, unknown>) {
    const value = (source as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object') {
      const existing = target[key];
      if (existing === null || (typeof existing !== 'object' && typeof existing !== 'function')) target[key] = {};
      naiveMerge(target[key] as Record<string, unknown>, value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

/**
 * Control for the tests: shows that `value` pollutes Object.prototype when merged, without
 * polluting this realm (the merge runs in a fresh one).
 */
export function pollutesAFreshRealm(value: unknown): boolean {
  const realm = vm.createContext({});
  const run = vm.runInContext(
    `${naiveMerge.toString()}; (value) => { naiveMerge({}, value); return ({}).polluted !== undefined; }`,
    realm,
  ) as (value: unknown) => boolean;
  return run(value);
}

/** Like {@link pollutesAFreshRealm}, for a merge whose target is a class. */
export function pollutesAClassInAFreshRealm(value: unknown): boolean {
  const realm = vm.createContext({});
  const run = vm.runInContext(
    `${naiveMerge.toString()}; (value) => { class Target {} naiveMerge(Target, value); return new Target().polluted !== undefined; }`,
    realm,
  ) as (value: unknown) => boolean;
  return run(value);
}

export function isPolluted(): boolean {
  return ({} as Record<string, unknown>).polluted !== undefined;
}

export function removePollution(): void {
  delete (Object.prototype as Record<string, unknown>).polluted;
}

/**
 * Every own key of every object reachable from `value` through object properties, arrays, Map
 * values and Sets — not through Map keys, which may legitimately be the strings `__proto__` etc.
 */
export function objectKeysDeep(value: unknown, keys = new Set<string>(), seen = new Set<unknown>()): Set<string> {
  if (value === null || typeof value !== 'object' || seen.has(value) || ArrayBuffer.isView(value)) return keys;
  seen.add(value);
  if (value instanceof Map || value instanceof Set || Array.isArray(value)) {
    for (const entry of value instanceof Map ? value.values() : value) objectKeysDeep(entry, keys, seen);
  } else {
    for (const key of Object.getOwnPropertyNames(value)) {
      keys.add(key);
      objectKeysDeep((value as Record<string, unknown>)[key], keys, seen);
    }
  }
  return keys;
}

/** Every own key of every plain object reachable from `value` (through arrays, Maps, Sets too). */
export function ownKeysDeep(value: unknown, keys = new Set<string>(), seen = new Set<unknown>()): Set<string> {
  if (value === null || typeof value !== 'object' || seen.has(value) || ArrayBuffer.isView(value)) return keys;
  seen.add(value);
  if (value instanceof Map) {
    for (const [key, entry] of value) {
      ownKeysDeep(key, keys, seen);
      ownKeysDeep(entry, keys, seen);
    }
  } else if (value instanceof Set || Array.isArray(value)) {
    for (const entry of value) ownKeysDeep(entry, keys, seen);
  } else {
    for (const key of Object.getOwnPropertyNames(value)) {
      keys.add(key);
      ownKeysDeep((value as Record<string, unknown>)[key], keys, seen);
    }
  }
  return keys;
}
