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

/** What a {@link PerValueCodec} wrote: the payload, and which of its formats wrote it. */
export interface PerValuePayload {
  readonly codecId: number;
  readonly payload: Buffer;
}

/**
 * Writes each value in whichever of several formats suits it. Each format is a {@link CacheCodec}
 * with its own id, and the entry records the id of the one used, so a reader needs no idea of
 * the choice: entries decode like those of the format's own codec. The default, `AutoCodec`, is one.
 */
export interface PerValueCodec {
  /** The formats it writes, by which its entries are decoded. */
  readonly formats: readonly CacheCodec[];
  /** @throws CacheSerializationError when no format represents the value faithfully. */
  encode(value: unknown): PerValuePayload;
}
