/**
 * Whether JSON.stringify + JSON.parse give `value` back exactly: strings, finite numbers other
 * than -0, booleans, null, and arrays and plain objects of those, at most `depth` levels deep,
 * without holes, `undefined` members, toJSON or keys the decoders strip. Anything else — a Date,
 * a class instance, an object without a prototype (JSON.parse would give it Object.prototype) —
 * is not. The depth bound also ends the walk on a cycle.
 *
 * It returns at the first value that does not qualify, so a rich value costs only the walk up to
 * its first Date. Keys are compared with `===`: a Set lookup per key made the walk of a 2 KB
 * object ~45 % slower (0.95 vs 0.65 µs, measured once).
 */
export function isJsonNative(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0);
    case 'object': {
      if (value === null) return true;
      if (depth === 0) return false;
      const prototype = Object.getPrototypeOf(value);
      if (prototype === Array.prototype) {
        const array = value as unknown[];
        // A hole reads as undefined here, which JSON would turn into null.
        for (let i = 0; i < array.length; i++) if (!isJsonNative(array[i], depth - 1)) return false;
        return (array as { toJSON?: unknown }).toJSON === undefined;
      }
      if (prototype !== Object.prototype) return false;
      const object = value as Record<string, unknown>;
      for (const key in object) {
        // The keys of DANGEROUS_KEYS (dangerous-keys.util.ts), which the msgpack path drops.
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
        if (!isJsonNative(object[key], depth - 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
