/**
 * Turns values into bytes and back. The `id` is written into every entry, so entries written by
 * different codecs (e.g. before and after a change of codec) decode side by side.
 */
export interface CacheCodec {
  /** Whole number 3–255 for your own codecs (1 and 2 are the built-in msgpack and JSON codecs). */
  readonly id: number;
  /** @throws CacheSerializationError when the value cannot be represented faithfully. */
  encode(value: unknown): Buffer;
  /** @throws any error when the bytes are not a valid encoding; the cache treats that as a miss. */
  decode(bytes: Buffer): unknown;
}
