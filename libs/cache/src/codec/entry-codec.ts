import { randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CacheDecodeError, CacheSerializationError } from '../cache.errors';
import { codecMessages } from '../cache.messages';
import { DEFAULTS } from '../options/cache-defaults';
import type { CacheCodec, PerValueCodec, PerValuePayload } from './codec.interface';
import { JsonCodec } from './json.codec';
import { MsgpackCodec } from './msgpack.codec';

/**
 * Every stored entry starts with a small header, so entries of different codecs, compressed and
 * plain ones, and read-through leases can share a keyspace and be told apart:
 *
 *   value: [MARK, codec id (1-255), flags, payload length (uint32 BE), [timing], ...payload]
 *   lease: [MARK, LEASE_ID (0),     0,     16 (uint32 BE),             ...16 random bytes]
 *
 * With the TIMED flag, `timing` is the entry's expiry (ms since the epoch, uint48 BE, by the
 * writer's clock) and its TTL (ms, uint32 BE): a reader learns how much life an entry has left
 * without a PTTL round trip, which the near cache (to expire its copy with the entry) and
 * refresh-ahead (to refresh in the last part of the TTL) need on every hit. Entries written
 * before the flag existed carry no timing and still decode.
 *
 * Both are checked exactly: anything else (bytes of another program, a truncated or extended
 * write, a string that merely starts with the mark) fails to decode and is a miss. A lease used
 * to be any entry whose first byte was 0xE2, which a foreign UTF-8 string starting with "€" is:
 * `getOrSet` then took it for a fill in progress forever. The length catches truncation, which
 * some payloads survive as a different valid value (a JSON `100` cut to `10`).
 */
const MARK = 0xe1;
const LEASE_ID = 0;
const HEADER_LENGTH = 7;
const TIMING_LENGTH = 10;
const LEASE_TOKEN_LENGTH = 16;
const LEASE_LENGTH = HEADER_LENGTH + LEASE_TOKEN_LENGTH;
const FLAG_DEFLATE = 0b1;
const FLAG_TIMED = 0b10;
const KNOWN_FLAGS = FLAG_DEFLATE | FLAG_TIMED;
/** uint32 holds any TTL below ~49 days; the option resolver caps durations at ~24.8 days. */
const MAX_TIMED_TTL_MS = 0xffffffff;

/** How long an entry lives, as its writer recorded it. */
export interface EntryTiming {
  /** When the entry expires, in ms since the epoch (the writer's clock). */
  readonly expiresAt: number;
  /** The TTL it was written with, in ms. */
  readonly ttlMs: number;
}

const headerLength = (flags: number): number => (flags & FLAG_TIMED ? HEADER_LENGTH + TIMING_LENGTH : HEADER_LENGTH);

/** Returned by {@link EntryCodec.decode} for a lease: a fill is in progress, the value is absent. */
export const LEASED = Symbol('elile.cache.leased');

const isPerValue = (codec: CacheCodec | PerValueCodec): codec is PerValueCodec => 'formats' in codec;

export class EntryCodec {
  /** How many leading bytes {@link isValueHead} needs to see; the timing starts right after them. */
  static readonly HEAD_LENGTH = HEADER_LENGTH;
  /** The first byte of every entry. */
  static readonly MARK = MARK;
  /** The shortest a timed value entry can be (its header and timing). */
  static readonly TIMED_HEAD_LENGTH = HEADER_LENGTH + TIMING_LENGTH;

  /** An expiry as the timing of a header records it (6 bytes): for soft expiry in place. */
  static expiryBytes(expiresAt: number): Buffer {
    const bytes = Buffer.allocUnsafe(6);
    bytes.writeUIntBE(Math.round(expiresAt), 0, 6);
    return bytes;
  }

  private readonly decoders = new Map<number, CacheCodec>();
  private readonly writePayload: (value: unknown) => PerValuePayload;

  /**
   * @param maxDecompressedSize bytes a compressed payload may inflate to; beyond, the entry is
   *   corrupt. Without it, a 100 KB entry of zeros inflates to 200 MB within one read.
   */
  constructor(
    codec: CacheCodec | PerValueCodec,
    private readonly compressionThreshold: number,
    private readonly maxDecompressedSize: number = DEFAULTS.maxDecompressedSize,
  ) {
    const own = isPerValue(codec) ? codec.formats : [codec];
    // The built-in formats are always readable, so entries written before a change of codec decode.
    for (const known of [new MsgpackCodec(), new JsonCodec(), ...own]) this.decoders.set(known.id, known);
    this.writePayload = isPerValue(codec)
      ? (value) => codec.encode(value)
      : (value) => ({ codecId: codec.id, payload: codec.encode(value) });
  }

  /**
   * With `ttlMs`, the entry records its timing (see the header above).
   * @throws CacheSerializationError, also for `undefined`, which would read back as a miss.
   */
  encode(value: unknown, ttlMs?: number): Buffer {
    if (value === undefined) throw new CacheSerializationError(codecMessages.undefinedValue());
    const written = this.writePayload(value);
    let payload = written.payload;
    let flags = 0;
    if (this.compressionThreshold > 0 && payload.length >= this.compressionThreshold) {
      payload = deflateRawSync(payload);
      flags |= FLAG_DEFLATE;
    }
    const timed = ttlMs !== undefined && ttlMs <= MAX_TIMED_TTL_MS;
    if (timed) flags |= FLAG_TIMED;
    const start = headerLength(flags);
    const entry = Buffer.allocUnsafe(start + payload.length);
    entry[0] = MARK;
    entry[1] = written.codecId;
    entry[2] = flags;
    entry.writeUInt32BE(payload.length, 3);
    if (timed) {
      const wholeTtlMs = Math.ceil(ttlMs!);
      entry.writeUIntBE(Date.now() + wholeTtlMs, HEADER_LENGTH, 6);
      entry.writeUInt32BE(wholeTtlMs, HEADER_LENGTH + 6);
    }
    payload.copy(entry, start);
    return entry;
  }

  /** The timing a value entry records, or undefined when it records none (or is no value). */
  timingOf(entry: Buffer): EntryTiming | undefined {
    if (entry.length < HEADER_LENGTH + TIMING_LENGTH || !(entry[2] & FLAG_TIMED) || entry[1] === LEASE_ID)
      return undefined;
    return { expiresAt: entry.readUIntBE(HEADER_LENGTH, 6), ttlMs: entry.readUInt32BE(HEADER_LENGTH + 6) };
  }

  /** @throws CacheDecodeError when the bytes are not exactly a value entry or a lease. */
  decode(entry: Buffer): unknown {
    if (entry.length < HEADER_LENGTH || entry[0] !== MARK) throw new CacheDecodeError(codecMessages.noHeader());
    const flags = entry[2];
    const start = headerLength(flags);
    if (entry.readUInt32BE(3) !== entry.length - start) {
      throw new CacheDecodeError(codecMessages.lengthMismatch());
    }
    if (entry[1] === LEASE_ID) {
      if (entry.length !== LEASE_LENGTH || flags !== 0) throw new CacheDecodeError(codecMessages.malformedLease());
      return LEASED;
    }
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new CacheDecodeError(codecMessages.unknownFlags(flags));
    const codec = this.decoders.get(entry[1]);
    if (!codec) throw new CacheDecodeError(codecMessages.unknownCodec(entry[1]));
    let value: unknown;
    try {
      let payload = entry.subarray(start);
      if (flags & FLAG_DEFLATE) payload = this.inflate(payload);
      value = codec.decode(payload);
    } catch (error) {
      if (error instanceof CacheDecodeError) throw error;
      throw new CacheDecodeError(codecMessages.doesNotDecode((error as Error).message), { cause: error });
    }
    // Never written by this version (encode refuses it); an older one did, and it reads as a miss.
    if (value === undefined) throw new CacheDecodeError(codecMessages.holdsUndefined());
    return value;
  }

  /** A fresh lease; its random token identifies the one read-through that may fill the key. */
  newLease(): Buffer {
    const lease = Buffer.allocUnsafe(LEASE_LENGTH);
    lease[0] = MARK;
    lease[1] = LEASE_ID;
    lease[2] = 0;
    lease.writeUInt32BE(LEASE_TOKEN_LENGTH, 3);
    randomBytes(LEASE_TOKEN_LENGTH).copy(lease, HEADER_LENGTH);
    return lease;
  }

  /**
   * Whether an entry of `length` bytes that starts with `head` (its first {@link HEAD_LENGTH}
   * bytes, or fewer when shorter) is a value this codec reads: not a lease, not foreign bytes.
   * The payload itself is not checked; a value whose payload is corrupt still counts.
   */
  isValueHead(head: Buffer | undefined, length: number): boolean {
    return (
      head !== undefined &&
      head.length >= HEADER_LENGTH &&
      head[0] === MARK &&
      head[1] !== LEASE_ID &&
      this.decoders.has(head[1]) &&
      (head[2] & ~KNOWN_FLAGS) === 0 &&
      head.readUInt32BE(3) === length - headerLength(head[2])
    );
  }

  private inflate(payload: Buffer): Buffer {
    try {
      return inflateRawSync(payload, { maxOutputLength: this.maxDecompressedSize });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new CacheDecodeError(codecMessages.inflatesTooLarge(this.maxDecompressedSize), { cause: error });
      }
      throw error;
    }
  }
}
