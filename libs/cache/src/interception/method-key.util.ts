import { CacheArgumentError } from '../cache.errors';

/**
 * The default key of a decorated method: `Class.method:` plus a stable encoding of its arguments.
 * Equal arguments (deeply, object key order ignored) give equal keys and different arguments
 * different keys — types included, so `1` and `'1'`, a Date and its ISO string, a Map and an
 * object, or a Buffer and a Uint16Array never collide (unlike `String(arg)`, which makes every
 * object `[object Object]`).
 * @throws CacheArgumentError for arguments that have no stable identity (functions, symbols,
 *   circular structures, class instances other than Date, Map, Set and binary data).
 */
export function defaultMethodKey(className: string, methodName: string, args: readonly unknown[]): string {
  return `${className}.${methodName}:${encodeStable(args, new Set())}`;
}

function encodeStable(value: unknown, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return Object.is(value, -0) ? 'n-0' : `n${value}`;
    case 'bigint':
      return `i${value}`;
    case 'string':
      return JSON.stringify(value);
    case 'object':
      return value === null ? 'null' : encodeObject(value, ancestors);
    default:
      throw new CacheArgumentError(`Cannot build a cache key from a ${typeof value} argument; pass a key function`);
  }
}

function encodeObject(value: object, ancestors: Set<object>): string {
  if (ancestors.has(value)) {
    throw new CacheArgumentError('Cannot build a cache key from a circular argument; pass a key function');
  }
  ancestors.add(value);
  try {
    if (value instanceof Date) return `D${value.getTime()}`;
    if (ArrayBuffer.isView(value)) {
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      return `${value.constructor.name}(${bytes})`;
    }
    if (value instanceof ArrayBuffer) return `ArrayBuffer(${Buffer.from(value).toString('base64')})`;
    if (Array.isArray(value)) return `[${value.map((item) => encodeStable(item, ancestors)).join(',')}]`;
    if (value instanceof Map) {
      const entries = [...value].map(([k, v]) => `${encodeStable(k, ancestors)}=>${encodeStable(v, ancestors)}`);
      return `M{${entries.sort().join(',')}}`;
    }
    if (value instanceof Set)
      return `S{${[...value]
        .map((item) => encodeStable(item, ancestors))
        .sort()
        .join(',')}}`;
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      // A class instance may keep its state where enumeration does not see it (#private fields,
      // a URL's internals): two different instances would get one key. Only plain data is keyed.
      const name = (prototype.constructor as { name?: string } | undefined)?.name || 'class';
      throw new CacheArgumentError(`Cannot build a cache key from a ${name} instance; pass a key function`);
    }
    const fields = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${encodeStable((value as Record<string, unknown>)[key], ancestors)}`);
    return `{${fields.join(',')}}`;
  } finally {
    ancestors.delete(value);
  }
}
