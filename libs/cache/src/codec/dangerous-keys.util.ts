/**
 * Keys a naive deep merge follows out of the value: `__proto__` and `constructor.prototype` reach
 * Object.prototype, `constructor` alone reaches the Object constructor (`Object.assign`...), and
 * `prototype` reaches a class when the merge target is one.
 */
export const DANGEROUS_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

// Every dangerous key contains one of these: two searches instead of three. Each search costs
// ~0.2-0.45 µs on a 2 KB entry, a few per cent of decoding it (bench/codec-shapes.bench.ts).
const PROTO = 'proto';
const CONSTRUCTOR = 'constructor';
const RAW_MARKERS = [Buffer.from(PROTO), Buffer.from(CONSTRUCTOR)];
// In JSON a key can spell a letter as a \u escape (`"\u005f_proto__"`); the other escapes cannot
// produce a letter or `_`, so text without `\u` holds a dangerous key only in plain spelling.
const JSON_ESCAPE = '\\u';

/**
 * Cheap pre-check on MessagePack bytes, which store keys as plain UTF-8: only entries that may
 * mention a dangerous key pay for a walk in {@link stripDangerousKeys}.
 */
export function mayHoldDangerousKeys(bytes: Buffer): boolean {
  return bytes.includes(RAW_MARKERS[0]) || bytes.includes(RAW_MARKERS[1]);
}

/** The same pre-check on JSON text, where keys may also be spelled with escapes. */
export function mayHoldDangerousJsonKeys(text: string): boolean {
  return text.includes(JSON_ESCAPE) || text.includes(PROTO) || text.includes(CONSTRUCTOR);
}

/**
 * Removes own dangerous keys from decoded plain objects, at any depth, Map keys and values and
 * Sets included. Decoders create them as harmless own properties, but a later deep merge in user code
 * would turn them into prototype pollution.
 */
export function stripDangerousKeys<T>(value: T, seen = new Set<unknown>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    // Keys too: an object can be a Map key, and code iterating `map.keys()` may merge it.
    for (const [key, entry] of value) {
      stripDangerousKeys(key, seen);
      stripDangerousKeys(entry, seen);
    }
  } else if (value instanceof Set || Array.isArray(value)) {
    for (const entry of value) stripDangerousKeys(entry, seen);
  } else if (!ArrayBuffer.isView(value)) {
    for (const key of DANGEROUS_KEYS) {
      if (Object.prototype.hasOwnProperty.call(value, key)) delete (value as Record<string, unknown>)[key];
    }
    for (const entry of Object.values(value)) stripDangerousKeys(entry, seen);
  }
  return value;
}

/**
 * The first own dangerous key of a plain object anywhere in `value` (Map keys and values, Set and
 * array members included), or undefined. Encoders refuse such values: stripping the key would make a
 * hit return something other than what the miss returned.
 */
export function dangerousKeyIn(value: unknown, ancestors = new Set<unknown>()): string | undefined {
  if (value === null || typeof value !== 'object' || ancestors.has(value) || ArrayBuffer.isView(value)) {
    return undefined;
  }
  ancestors.add(value);
  try {
    const members =
      value instanceof Map
        ? [...value.keys(), ...value.values()]
        : value instanceof Set || Array.isArray(value)
          ? [...value]
          : undefined;
    if (members) {
      for (const member of members) {
        const found = dangerousKeyIn(member, ancestors);
        if (found) return found;
      }
      return undefined;
    }
    for (const [key, member] of Object.entries(value)) {
      if (DANGEROUS_KEYS.has(key)) return key;
      const found = dangerousKeyIn(member, ancestors);
      if (found) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}
