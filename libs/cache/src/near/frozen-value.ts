/** Deeper values are kept as bytes: freezing them would cost more than the decode it saves. */
const MAX_FREEZE_DEPTH = 64;

/**
 * Deep-freezes `value` when it is plain data — primitives, arrays and plain (or prototype-less)
 * objects of those — and returns whether it did. A caller that then changes what it was given
 * gets a TypeError instead of silently changing what the next caller gets.
 *
 * Anything else (a Date, Map, Set, Buffer, typed array, class instance) is left untouched and
 * false returned: `Object.freeze` does not stop `date.setTime()`, `map.set()` or writes into a
 * typed array (and refuses to freeze a non-empty one), so such a value cannot be shared safely.
 * The whole value is checked before anything is frozen, so a refused value is not half frozen.
 */
export function freezeIfPlain(value: unknown): boolean {
  const objects: object[] = [];
  if (!collectPlain(value, MAX_FREEZE_DEPTH, objects)) return false;
  for (const object of objects) Object.freeze(object);
  return true;
}

function collectPlain(value: unknown, depth: number, objects: object[]): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'function';
  if (depth === 0) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) {
    const array = value as unknown[];
    for (let i = 0; i < array.length; i++) if (!collectPlain(array[i], depth - 1, objects)) return false;
  } else if (prototype === Object.prototype || prototype === null) {
    const object = value as Record<string, unknown>;
    for (const key in object) if (!collectPlain(object[key], depth - 1, objects)) return false;
  } else {
    return false;
  }
  objects.push(value);
  return true;
}
