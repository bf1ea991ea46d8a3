import { Packr } from 'msgpackr';
import { CacheSerializationError } from '../cache.errors';
import type { CacheCodec } from './codec.interface';
import { mayHoldDangerousKeys, stripDangerousKeys } from './dangerous-keys.util';

/**
 * The default codec: MessagePack through msgpackr. Chosen by measurement (README, "Codec"): it
 * round-trips Date, BigInt, Map, Set, Buffer, typed arrays, `undefined` and `null` exactly, and
 * encodes faster than JSON.stringify.
 *
 * Objects are written as msgpackr "records" so that a Map (a MessagePack map) and a plain object
 * (a record) stay distinguishable. Class instances come back as plain objects, and `-0` as `0`.
 */
export class MsgpackCodec implements CacheCodec {
  static readonly ID = 1;
  readonly id = MsgpackCodec.ID;

  private readonly packr = new Packr({
    useRecords: true,
    mapsAsObjects: false,
    moreTypes: true,
    int64AsType: 'bigint',
  });

  constructor() {
    // msgpackr silently writes functions as `undefined`; a cache must refuse them instead.
    (this.packr as unknown as { writeFunction: () => never }).writeFunction = () => {
      throw new CacheSerializationError('Cannot cache a function');
    };
  }

  encode(value: unknown): Buffer {
    try {
      return this.packr.pack(value);
    } catch (error) {
      if (error instanceof CacheSerializationError) throw error;
      if (error instanceof RangeError && /call stack/i.test(error.message)) {
        throw new CacheSerializationError('Cannot cache a circular (or extremely deep) structure', { cause: error });
      }
      throw new CacheSerializationError(`Cannot cache this value: ${(error as Error).message}`, { cause: error });
    }
  }

  decode(bytes: Buffer): unknown {
    const value = this.packr.unpack(bytes);
    return mayHoldDangerousKeys(bytes) ? stripDangerousKeys(value) : value;
  }
}
