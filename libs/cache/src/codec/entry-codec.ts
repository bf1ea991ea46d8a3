import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CacheDecodeError } from '../cache.errors';
import type { CacheCodec } from './codec.interface';
import { JsonCodec } from './json.codec';
import { MsgpackCodec } from './msgpack.codec';

/**
 * Every stored entry starts with a small header, so entries of different codecs, compressed and
 * plain ones, and read-through leases can share a keyspace and be told apart:
 *
 *   value: [VALUE_MARK, codec id, flags, payload length (uint32 BE), ...payload]
 *   lease: [LEASE_MARK, ...16 random bytes]
 *
 * Anything else (bytes of another program, a truncated or extended write) fails to decode and is
 * a miss. The length catches truncation, which some payloads survive as a different valid value
 * (a JSON `100` cut to `10`).
 */
const VALUE_MARK = 0xe1;
const LEASE_MARK = 0xe2;
const HEADER_LENGTH = 7;
const FLAG_DEFLATE = 0b1;

/** Returned by {@link EntryCodec.decode} for a lease: a fill is in progress, the value is absent. */
export const LEASED = Symbol('elile.cache.leased');

export class EntryCodec {
  private readonly decoders = new Map<number, CacheCodec>();

  constructor(
    private readonly codec: CacheCodec,
    private readonly compressionThreshold: number,
  ) {
    for (const known of [new MsgpackCodec(), new JsonCodec(), codec]) this.decoders.set(known.id, known);
  }

  /** @throws CacheSerializationError */
  encode(value: unknown): Buffer {
    let payload = this.codec.encode(value);
    let flags = 0;
    if (this.compressionThreshold > 0 && payload.length >= this.compressionThreshold) {
      payload = deflateRawSync(payload);
      flags |= FLAG_DEFLATE;
    }
    const entry = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
    entry[0] = VALUE_MARK;
    entry[1] = this.codec.id;
    entry[2] = flags;
    entry.writeUInt32BE(payload.length, 3);
    payload.copy(entry, HEADER_LENGTH);
    return entry;
  }

  /** @throws CacheDecodeError when the bytes are not an entry this module can read. */
  decode(entry: Buffer): unknown {
    if (entry[0] === LEASE_MARK) return LEASED;
    if (entry[0] !== VALUE_MARK || entry.length < HEADER_LENGTH) {
      throw new CacheDecodeError('Entry has no cache header (written by another program, or truncated)');
    }
    if (entry.readUInt32BE(3) !== entry.length - HEADER_LENGTH) {
      throw new CacheDecodeError('Entry length does not match its header (truncated or corrupted)');
    }
    const codec = this.decoders.get(entry[1]);
    if (!codec) throw new CacheDecodeError(`Entry was written with unknown codec id ${entry[1]}`);
    try {
      let payload = entry.subarray(HEADER_LENGTH);
      if (entry[2] & FLAG_DEFLATE) payload = inflateRawSync(payload);
      return codec.decode(payload);
    } catch (error) {
      throw new CacheDecodeError(`Entry does not decode: ${(error as Error).message}`, { cause: error });
    }
  }

  /** A fresh lease marker; its random bytes identify the one read-through that may fill the key. */
  newLease(): Buffer {
    const lease = randomBytes(17);
    lease[0] = LEASE_MARK;
    return lease;
  }

  /** Whether an entry starting with this byte holds a value (not a lease, not foreign bytes). */
  isValueHead(firstByte: number | undefined): boolean {
    return firstByte === VALUE_MARK;
  }
}
