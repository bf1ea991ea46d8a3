import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { CacheDecodeError, type CacheCodec, CacheSerializationError, JsonCodec, MsgpackCodec } from '@elile/cache';
import { AutoCodec } from '../../../libs/cache/src/codec/auto.codec';
import { EntryCodec, LEASED } from '../../../libs/cache/src/codec/entry-codec';
import { entryValue, jsonValue, msgpackValue } from './arbitraries';
import { expectSameTyped } from './typed-equality';

/** The documented layout: [mark, codec id, flags, payload length (uint32 BE), ...payload]. Tests below pin it. */
const HEADER_LENGTH = 7;
const LEASE_LENGTH = HEADER_LENGTH + 16;

/** A header as the documented layout lays it out, for entries built by hand. */
function header(mark: number, codecId: number, flags: number, length: number): Buffer {
  const bytes = Buffer.from([mark, codecId, flags, 0, 0, 0, 0]);
  bytes.writeUInt32BE(length, 3);
  return bytes;
}

/** A third-party codec, to check that ids (not classes) select the decoder. */
class ReversedJsonCodec implements CacheCodec {
  readonly id = 7;
  encode(value: unknown): Buffer {
    return Buffer.from(JSON.stringify(value)).reverse();
  }
  decode(bytes: Buffer): unknown {
    return JSON.parse(Buffer.from(bytes).reverse().toString('utf8'));
  }
}

const writers = {
  'msgpack, plain': new EntryCodec(new MsgpackCodec(), 0),
  'msgpack, compressed': new EntryCodec(new MsgpackCodec(), 1),
  'json, plain': new EntryCodec(new JsonCodec(), 0),
  'json, compressed': new EntryCodec(new JsonCodec(), 1),
  'auto, plain': new EntryCodec(new AutoCodec(), 0),
  'auto, compressed': new EntryCodec(new AutoCodec(), 1),
};
const readers = { ...writers, 'custom codec': new EntryCodec(new ReversedJsonCodec(), 64) };

function expectDecodeError(reader: EntryCodec, entry: Buffer, message?: RegExp): CacheDecodeError {
  let caught: unknown;
  try {
    reader.decode(entry);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CacheDecodeError);
  if (message) expect((caught as Error).message).toMatch(message);
  return caught as CacheDecodeError;
}

describe('EntryCodec', () => {
  it('lays an entry out as header + the codec payload, with the codec id in the header', () => {
    const value = { id: 1, tags: ['a'] };
    for (const codec of [new MsgpackCodec(), new JsonCodec(), new ReversedJsonCodec()]) {
      const entry = new EntryCodec(codec, 0).encode(value);
      expect(entry[1]).toBe(codec.id);
      expect(entry.subarray(HEADER_LENGTH).equals(codec.encode(value))).toBe(true);
    }
  });

  describe('decodes entries of every codec and compression side by side', () => {
    // After a change of codec or threshold, entries written before it are still in Redis.
    it.each(Object.entries(readers))('reader: %s', (_name, reader) => {
      fc.assert(
        fc.property(jsonValue, (value) => {
          for (const writer of Object.values(writers)) expectSameTyped(reader.decode(writer.encode(value)), value);
        }),
        { numRuns: 60 },
      );
    });

    it('keeps msgpack-only types through a reader built with the JSON codec', () => {
      const reader = new EntryCodec(new JsonCodec(), 0);
      fc.assert(
        fc.property(entryValue, (value) => {
          expectSameTyped(reader.decode(writers['msgpack, compressed'].encode(value)), value);
          expectSameTyped(reader.decode(writers['msgpack, plain'].encode(value)), value);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('compression', () => {
    const large = { report: 'subject cleared; no adverse findings. '.repeat(500), ids: Array(200).fill(42) };

    it('shrinks a large repetitive value', () => {
      const plain = new EntryCodec(new MsgpackCodec(), 0).encode(large);
      const compressed = new EntryCodec(new MsgpackCodec(), 1024).encode(large);
      expect(compressed.length).toBeLessThan(plain.length / 10);
      expectSameTyped(new EntryCodec(new MsgpackCodec(), 0).decode(compressed), large);
    });

    it('applies from the threshold up, and not below it', () => {
      const value = 'x'.repeat(200);
      const payloadLength = new MsgpackCodec().encode(value).length;
      const plain = new EntryCodec(new MsgpackCodec(), 0).encode(value);

      const below = new EntryCodec(new MsgpackCodec(), payloadLength + 1).encode(value);
      expect(below.equals(plain)).toBe(true);

      const atThreshold = new EntryCodec(new MsgpackCodec(), payloadLength).encode(value);
      expect(atThreshold.equals(plain)).toBe(false);
      expect(atThreshold.length).toBeLessThan(plain.length);
      expect(new EntryCodec(new MsgpackCodec(), 0).decode(atThreshold)).toBe(value);
    });

    it('is off when the threshold is 0, however large the value', () => {
      const entry = new EntryCodec(new MsgpackCodec(), 0).encode(large);
      expect(entry.subarray(HEADER_LENGTH).equals(new MsgpackCodec().encode(large))).toBe(true);
    });
  });

  describe('bytes it cannot read are a CacheDecodeError', () => {
    const reader = new EntryCodec(new MsgpackCodec(), 0);
    const valueEntry = writers['msgpack, plain'].encode({ id: 1, name: 'subject', tags: ['a', 'b'] });
    const compressedEntry = writers['msgpack, compressed'].encode({ report: 'z'.repeat(500) });

    it.each<[string, Buffer]>([
      ['an empty buffer', Buffer.alloc(0)],
      ['plain text written by another program', Buffer.from('hello')],
      ['a bare JSON document', Buffer.from('{"id":1}')],
      ['a bare msgpack document', new MsgpackCodec().encode({ id: 1 })],
      ['a lone value mark', valueEntry.subarray(0, 1)],
      ['a header cut short', valueEntry.subarray(0, 2)],
      ['a header with no payload', valueEntry.subarray(0, HEADER_LENGTH)],
      ['a payload cut short', valueEntry.subarray(0, valueEntry.length - 3)],
      ['a compressed payload cut short', compressedEntry.subarray(0, compressedEntry.length - 4)],
      [
        'a corrupted compressed payload',
        Buffer.concat([compressedEntry.subarray(0, HEADER_LENGTH), Buffer.alloc(32, 0xff)]),
      ],
      [
        'a plain payload flagged as compressed',
        Buffer.concat([valueEntry.subarray(0, 2), compressedEntry.subarray(2, 3), valueEntry.subarray(HEADER_LENGTH)]),
      ],
      [
        'a compressed payload not flagged as such',
        Buffer.concat([
          compressedEntry.subarray(0, 2),
          valueEntry.subarray(2, 3),
          compressedEntry.subarray(HEADER_LENGTH),
        ]),
      ],
    ])('%s', (_label, entry) => {
      expectDecodeError(reader, entry);
    });

    it('every strict prefix of a value entry', () => {
      fc.assert(
        fc.property(msgpackValue, fc.constantFrom(...Object.values(writers)), fc.nat(), (value, writer, cut) => {
          let entry: Buffer;
          try {
            entry = writer.encode(value);
          } catch {
            return; // the JSON writers refuse some msgpack values; nothing to truncate
          }
          // A JSON number is not self-delimiting; the explicit test below covers that case.
          fc.pre(!(typeof value === 'number' && writer === writers['json, plain']));
          expectDecodeError(reader, entry.subarray(0, cut % entry.length));
        }),
        { numRuns: 200 },
      );
    });

    // Not every payload is self-delimiting: a JSON 100 cut by one byte is a valid 10. The length
    // in the header is what turns that truncation into a miss instead of a wrong hit.
    it('a truncated plain JSON entry holding a number', () => {
      const entry = writers['json, plain'].encode(100);
      expectDecodeError(reader, entry.subarray(0, entry.length - 1));
    });

    it('keeps the codec error as the cause', () => {
      // Right length, but 0xc1 is the one byte MessagePack never uses.
      const garbled = Buffer.concat([
        valueEntry.subarray(0, HEADER_LENGTH),
        Buffer.alloc(valueEntry.length - HEADER_LENGTH, 0xc1),
      ]);
      const error = expectDecodeError(reader, garbled, /does not decode/);
      expect(error.cause).toBeInstanceOf(Error);
    });

    it('an unknown codec id, naming it', () => {
      const entry = Buffer.from(valueEntry);
      entry[1] = 99;
      expectDecodeError(reader, entry, /unknown codec id 99/);
    });

    it('an entry of a custom codec the reader was not built with', () => {
      const entry = new EntryCodec(new ReversedJsonCodec(), 0).encode({ id: 1 });
      expectDecodeError(reader, entry, /unknown codec id 7/);
    });

    it('garbage of any kind, without throwing anything else', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          const entry = Buffer.from(bytes);
          fc.pre(!reader.isValueHead(entry.subarray(0, HEADER_LENGTH), entry.length));
          fc.pre(
            !(
              entry.length === LEASE_LENGTH &&
              entry.subarray(0, HEADER_LENGTH).equals(reader.newLease().subarray(0, HEADER_LENGTH))
            ),
          );
          expectDecodeError(reader, entry);
        }),
        { numRuns: 300 },
      );
    });

    it('garbage behind the mark, without throwing anything else', () => {
      // The mark alone proves nothing: a foreign string may start with it.
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
          const entry = Buffer.concat([Buffer.from([0xe1]), Buffer.from(bytes)]);
          try {
            const value = reader.decode(entry);
            expect(value === LEASED ? entry.length === LEASE_LENGTH : reader.isValueHead(entry, entry.length)).toBe(
              true,
            );
          } catch (error) {
            expect(error).toBeInstanceOf(CacheDecodeError);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('unknown flags', () => {
      const entry = Buffer.from(valueEntry);
      entry[2] = 0b100;
      expectDecodeError(reader, entry, /unknown flags 0x4/);
    });

    it('an entry that decodes to undefined (an older version stored top-level undefined)', () => {
      const payload = new MsgpackCodec().encode(undefined);
      expectDecodeError(
        reader,
        Buffer.concat([header(0xe1, MsgpackCodec.ID, 0, payload.length), payload]),
        /undefined/,
      );
    });

    it('a valid header followed by garbage, without throwing anything else', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...Object.values(writers)), (bytes, writer) => {
          const header = writer.encode(null).subarray(0, HEADER_LENGTH);
          const entry = Buffer.concat([header, Buffer.from(bytes)]);
          try {
            reader.decode(entry);
          } catch (error) {
            // Some garbage happens to be a valid payload; whatever does not decode must be typed.
            expect(error).toBeInstanceOf(CacheDecodeError);
          }
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('leases', () => {
    const entries = new EntryCodec(new MsgpackCodec(), 0);

    it('decode to the LEASED symbol, whichever codec the reader uses', () => {
      const lease = entries.newLease();
      for (const reader of Object.values(readers)) expect(reader.decode(lease)).toBe(LEASED);
    });

    it('are a full header with the reserved codec id 0, no flags and the exact length, then a 16-byte token', () => {
      const lease = entries.newLease();
      expect(lease).toHaveLength(LEASE_LENGTH);
      expect(lease.subarray(0, HEADER_LENGTH).equals(header(0xe1, 0, 0, 16))).toBe(true);
    });

    it('differ from one another, so a fill can check it still holds its own', () => {
      const leases = Array.from({ length: 100 }, () => entries.newLease().toString('hex'));
      expect(new Set(leases).size).toBe(leases.length);
    });

    it('differ from every value entry, so a value never passes for a lease', () => {
      const lease = entries.newLease();
      for (const writer of Object.values(writers)) expect(writer.encode(null).equals(lease)).toBe(false);
      expect(typeof LEASED).toBe('symbol');
    });

    // Before, any entry starting with 0xE2 was a lease: a foreign "€..." string (UTF-8 E2 82 AC)
    // made getOrSet wait for a fill that never came, on every call.
    it.each<[string, Buffer]>([
      ['a UTF-8 string starting with "€"', Buffer.from('€uro')],
      [
        'a lease of the old format ([0xE2, 16 random bytes])',
        Buffer.concat([Buffer.from([0xe2]), Buffer.alloc(16, 7)]),
      ],
      ['the lease header with a token one byte short', entries.newLease().subarray(0, LEASE_LENGTH - 1)],
      ['the lease header with one byte too many', Buffer.concat([entries.newLease(), Buffer.from([0])])],
      ['a lease whose length field says 17', Buffer.concat([header(0xe1, 0, 0, 17), Buffer.alloc(17)])],
      ['a lease whose length field says 15', Buffer.concat([header(0xe1, 0, 0, 15), Buffer.alloc(15)])],
      ['a lease with a flag set', Buffer.concat([header(0xe1, 0, 1, 16), Buffer.alloc(16)])],
      ['the lease header alone', header(0xe1, 0, 0, 16)],
    ])('are never mistaken for foreign bytes: %s is a CacheDecodeError', (_label, bytes) => {
      expectDecodeError(entries, bytes);
    });
  });

  describe('isValueHead (what exists() asks of the head and length it peeked)', () => {
    const entries = new EntryCodec(new MsgpackCodec(), 0);
    const headOf = (entry: Buffer): [Buffer, number] => [entry.subarray(0, HEADER_LENGTH), entry.length];

    it('is true for the head of any value entry', () => {
      for (const writer of Object.values(readers)) {
        for (const value of [null, 0, 'x', { a: [1] }, 'y'.repeat(1000), new Date(0)]) {
          let entry: Buffer;
          try {
            entry = writer.encode(value);
          } catch {
            continue; // the JSON writers refuse a Date
          }
          expect(writer.isValueHead(...headOf(entry))).toBe(true);
        }
      }
    });

    it('is false for a lease, foreign bytes, a wrong length, and an absent key', () => {
      const entry = writers['msgpack, plain'].encode({ id: 1 });
      expect(entries.isValueHead(...headOf(entries.newLease()))).toBe(false);
      expect(entries.isValueHead(...headOf(Buffer.from('hello, world')))).toBe(false);
      expect(entries.isValueHead(...headOf(Buffer.from('€uro')))).toBe(false);
      expect(entries.isValueHead(...headOf(new MsgpackCodec().encode({ id: 1, name: 'x' })))).toBe(false);
      expect(entries.isValueHead(entry.subarray(0, HEADER_LENGTH), entry.length + 1)).toBe(false);
      expect(entries.isValueHead(entry.subarray(0, HEADER_LENGTH), entry.length - 1)).toBe(false);
      expect(entries.isValueHead(entry.subarray(0, 1), entry.length)).toBe(false);
      expect(entries.isValueHead(undefined, 0)).toBe(false);
    });

    it('is false for an unknown codec id or unknown flags', () => {
      const entry = Buffer.from(writers['msgpack, plain'].encode({ id: 1 }));
      entry[1] = 99;
      expect(entries.isValueHead(...headOf(entry))).toBe(false);
      entry[1] = MsgpackCodec.ID;
      entry[2] = 0b1000;
      expect(entries.isValueHead(...headOf(entry))).toBe(false);
    });
  });

  describe('decompression is bounded by maxDecompressedSize', () => {
    const LIMIT = 4096;
    const bounded = new EntryCodec(new JsonCodec(), 0, LIMIT);
    const deflatedEntry = (text: string): Buffer => {
      const payload = deflateRawSync(Buffer.from(text));
      return Buffer.concat([header(0xe1, JsonCodec.ID, 1, payload.length), payload]);
    };

    it('inflates a payload of exactly the limit', () => {
      const text = `"${'a'.repeat(LIMIT - 2)}"`;
      expect(bounded.decode(deflatedEntry(text))).toBe(text.slice(1, -1));
    });

    it('refuses one byte more as a CacheDecodeError naming the option', () => {
      const error = expectDecodeError(
        bounded,
        deflatedEntry(`"${'a'.repeat(LIMIT - 1)}"`),
        /maxDecompressedSize \(4096 bytes\)/,
      );
      expect((error.cause as NodeJS.ErrnoException).code).toBe('ERR_BUFFER_TOO_LARGE');
    });

    it('refuses a small entry that would inflate a thousandfold', () => {
      const bomb = deflatedEntry(' '.repeat(LIMIT * 1000));
      expect(bomb.length).toBeLessThan(LIMIT);
      expectDecodeError(bounded, bomb, /maxDecompressedSize/);
    });

    it('defaults to 16 MiB', () => {
      const text = `"${'a'.repeat(16 * 1024 * 1024 - 2)}"`;
      const codec = new EntryCodec(new JsonCodec(), 0);
      expect(codec.decode(deflatedEntry(text))).toHaveLength(text.length - 2);
      expectDecodeError(codec, deflatedEntry(`${text} `), /maxDecompressedSize \(16777216 bytes\)/);
    });
  });

  describe('undefined at the top level', () => {
    it.each(Object.entries(readers))('is refused with CacheSerializationError (%s)', (_name, writer) => {
      expect(() => writer.encode(undefined)).toThrow(CacheSerializationError);
      expect(() => writer.encode(undefined)).toThrow(/undefined/);
    });

    it('is kept inside a value by the codecs that can hold it', () => {
      const value = { a: undefined, list: [undefined] };
      for (const writer of [writers['msgpack, plain'], writers['auto, plain']]) {
        expectSameTyped(writer.decode(writer.encode(value)), value);
      }
    });
  });

  it('encodes the deflate payload with raw deflate (readable by any zlib)', () => {
    const value = 'compress me '.repeat(100);
    const entry = new EntryCodec(new MsgpackCodec(), 1).encode(value);
    expect(entry.subarray(HEADER_LENGTH).equals(deflateRawSync(new MsgpackCodec().encode(value)))).toBe(true);
  });
});

describe('EntryCodec timing', () => {
  const codec = new EntryCodec(new AutoCodec(), 0);

  it('records the expiry and TTL of a value written with a TTL, and still decodes it', () => {
    const before = Date.now();
    const entry = codec.encode({ id: 1 }, 1500);
    const timing = codec.timingOf(entry)!;
    expect(timing.ttlMs).toBe(1500);
    expect(timing.expiresAt).toBeGreaterThanOrEqual(before + 1500);
    expect(timing.expiresAt).toBeLessThanOrEqual(Date.now() + 1500);
    expect(codec.decode(entry)).toEqual({ id: 1 });
    expect(codec.isValueHead(entry.subarray(0, EntryCodec.HEAD_LENGTH), entry.length)).toBe(true);
  });

  it('has no timing for entries written without a TTL (as before it existed), nor for leases', () => {
    const untimed = codec.encode({ id: 1 });
    expect(codec.timingOf(untimed)).toBeUndefined();
    expect(codec.decode(untimed)).toEqual({ id: 1 });
    expect(codec.timingOf(codec.newLease())).toBeUndefined();
  });

  it('still catches a truncated timed entry', () => {
    const entry = codec.encode('value', 1000);
    expect(() => codec.decode(entry.subarray(0, entry.length - 1))).toThrow(CacheDecodeError);
    expect(() => codec.decode(entry.subarray(0, 12))).toThrow(CacheDecodeError);
  });
});
