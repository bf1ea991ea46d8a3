/** Deeper values are kept as bytes: freezing them would cost more than the decode it saves. */
const MAX_FREEZE_DEPTH = 64;

// A TypeError, as changing a frozen object throws in strict mode: one kind of error for one mistake.
const refuse = (what: string) => (): never => {
  throw new TypeError(
    `Cannot change this ${what}: it was read from a near-cached domain, where values are shared and immutable (change a copy)`,
  );
};

/** Own, non-enumerable methods that shadow the mutating ones of the prototype. */
function refusing(what: string, methods: readonly string[]): PropertyDescriptorMap {
  return Object.fromEntries(methods.map((name) => [name, { value: refuse(what), enumerable: false }]));
}

// `Object.freeze` does not stop `date.setTime()` or `map.set()`, which change internal slots, so
// shared Dates, Maps and Sets get own methods that refuse. They stay plain Dates, Maps and Sets —
// same prototype, same enumerable properties — so `instanceof`, `isDeepStrictEqual` and
// `toStrictEqual` see what an uncached value would be.
const DATE_SETTERS = refusing(
  'Date',
  Object.getOwnPropertyNames(Date.prototype).filter((name) => name.startsWith('set')),
);
const MAP_WRITES = refusing('Map', ['set', 'delete', 'clear']);
const SET_WRITES = refusing('Set', ['add', 'delete', 'clear']);

/**
 * An immutable form of a freshly decoded `value`, which the caller owns and which is changed in
 * place: plain objects and arrays are deep-frozen, and so are Dates, Maps and Sets, given own
 * methods that refuse to change them. A caller that then tries to change what it was given gets a TypeError instead of
 * changing what the next caller gets.
 *
 * Returns undefined, changing nothing, for a value holding what cannot be made immutable at no
 * cost per read — a Buffer or typed array (its bytes stay writable), a class instance, a value
 * nested deeper than 64 levels: the near cache then keeps that value's bytes and decodes each hit.
 */
export function immutable<T>(value: T): T | undefined {
  return canBeImmutable(value, MAX_FREEZE_DEPTH) ? (toImmutable(value) as T) : undefined;
}

function canBeImmutable(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'function';
  if (depth === 0) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) return (value as unknown[]).every((item) => canBeImmutable(item, depth - 1));
  if (prototype === Object.prototype || prototype === null) {
    for (const key in value) if (!canBeImmutable((value as Record<string, unknown>)[key], depth - 1)) return false;
    return true;
  }
  if (prototype === Date.prototype) return true;
  if (prototype === Map.prototype) {
    for (const [key, item] of value as Map<unknown, unknown>) {
      if (!canBeImmutable(key, depth - 1) || !canBeImmutable(item, depth - 1)) return false;
    }
    return true;
  }
  if (prototype === Set.prototype) return [...(value as Set<unknown>)].every((item) => canBeImmutable(item, depth - 1));
  return false;
}

function toImmutable(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Date.prototype) return Object.freeze(Object.defineProperties(value, DATE_SETTERS));
  if (prototype === Map.prototype) {
    const map = value as Map<unknown, unknown>;
    const entries = [...map].map(([key, item]) => [toImmutable(key), toImmutable(item)] as const);
    map.clear();
    for (const [key, item] of entries) map.set(key, item);
    return Object.freeze(Object.defineProperties(map, MAP_WRITES));
  }
  if (prototype === Set.prototype) {
    const set = value as Set<unknown>;
    const members = [...set].map(toImmutable);
    set.clear();
    for (const member of members) set.add(member);
    return Object.freeze(Object.defineProperties(set, SET_WRITES));
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toImmutable(value[i]);
  } else {
    const object = value as Record<string, unknown>;
    for (const key in object) object[key] = toImmutable(object[key]);
  }
  return Object.freeze(value);
}
