import { CacheSerializationError } from '../cache.errors';
import { codecMessages } from '../cache.messages';
import type { CacheCodec } from './codec.interface';
import { DANGEROUS_KEYS, mayHoldDangerousJsonKeys, stripDangerousKeys } from './dangerous-keys.util';

/**
 * Plain JSON, readable in redis-cli. It accepts only values JSON represents exactly, and refuses
 * the rest (Date, Map, Set, BigInt, Buffer, `undefined`, non-finite numbers) instead of letting a
 * hit return a different type than the miss that filled it.
 */
export class JsonCodec implements CacheCodec {
  static readonly ID = 2;
  readonly id = JsonCodec.ID;

  encode(value: unknown): Buffer {
    let text: string | undefined;
    try {
      text = JSON.stringify(value, rejectNonJson);
    } catch (error) {
      if (error instanceof CacheSerializationError) throw error;
      throw new CacheSerializationError(codecMessages.unencodableAsJson((error as Error).message), { cause: error });
    }
    if (text === undefined) throw new CacheSerializationError(codecMessages.notJson(`a ${typeof value}`, ''));
    return Buffer.from(text);
  }

  decode(bytes: Buffer): unknown {
    const text = bytes.toString('utf8');
    const value: unknown = JSON.parse(text);
    return mayHoldDangerousJsonKeys(text) ? stripDangerousKeys(value) : value;
  }
}

function rejectNonJson(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before toJSON ran, so a Date is still a Date here.
  const original = (this as Record<string, unknown>)[key];
  if (DANGEROUS_KEYS.has(key) && !Array.isArray(this))
    throw new CacheSerializationError(codecMessages.dangerousKey(key));
  // A property holding `undefined` is dropped, which reads the same; anywhere else it would change.
  if (original === undefined && key !== '' && !Array.isArray(this)) return value;
  const kind = nonJsonKind(original);
  if (kind) throw new CacheSerializationError(codecMessages.notJson(kind, key));
  return value;
}

function nonJsonKind(value: unknown): string | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      return `a ${typeof value}`;
    case 'number':
      return Number.isFinite(value) ? undefined : String(value);
    case 'object':
      if (value instanceof Date) return 'a Date';
      if (value instanceof Map) return 'a Map';
      if (value instanceof Set) return 'a Set';
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return 'binary data';
      if (value instanceof RegExp) return 'a RegExp';
      if (value instanceof Error) return 'an Error';
      return undefined;
    default:
      return undefined;
  }
}
