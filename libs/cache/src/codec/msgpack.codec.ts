import { Packr } from 'msgpackr';
import { CacheSerializationError } from '../cache.errors';
import { codecMessages } from '../cache.messages';
import type { CacheCodec } from './codec.interface';
import { dangerousKeyIn, mayHoldDangerousKeys, stripDangerousKeys } from './dangerous-keys.util';
import { instantiateIoredisVerbatimString } from './ioredis-verbatim.util';
import { mayHaveLostSurrogates } from './unicode.util';

/**
 * The default codec: MessagePack through msgpackr. Chosen by measurement (README, "Codec"): it
 * round-trips Date, BigInt, Map, Set, Buffer, typed arrays, `undefined` and `null` exactly, and
 * encodes faster than JSON.stringify.
 *
 * Objects are written as msgpackr "records" so that a Map (a MessagePack map) and a plain object
 * (a record) stay distinguishable. Class instances come back as plain objects, and `-0` as `0`.
 * Objects with own `__proto__`, `constructor` or `prototype` keys are refused: reads strip those
 * keys (a deep merge of them pollutes prototypes), so a hit would not return what was stored.
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
    // Under ioredis 6, msgpackr runs at half speed until this has happened once in the process.
    instantiateIoredisVerbatimString();
    // msgpackr silently writes functions as `undefined`; a cache must refuse them instead.
    (this.packr as unknown as { writeFunction: () => never }).writeFunction = () => {
      throw new CacheSerializationError(codecMessages.functionValue());
    };
  }

  encode(value: unknown): Buffer {
    const bytes = this.pack(value);
    const dangerousKey = mayHoldDangerousKeys(bytes) ? dangerousKeyIn(value) : undefined;
    if (dangerousKey) throw new CacheSerializationError(codecMessages.dangerousKey(dangerousKey));
    if (mayHaveLostSurrogates(bytes, value)) {
      // MessagePack strings are UTF-8, which cannot hold a lone surrogate: msgpackr would store U+FFFD.
      throw new CacheSerializationError(codecMessages.loneSurrogate());
    }
    return bytes;
  }

  decode(bytes: Buffer): unknown {
    const value = this.packr.unpack(bytes);
    return mayHoldDangerousKeys(bytes) ? stripDangerousKeys(value) : value;
  }

  private pack(value: unknown): Buffer {
    try {
      return this.packr.pack(value);
    } catch (error) {
      if (error instanceof CacheSerializationError) throw error;
      if (error instanceof RangeError && /call stack/i.test(error.message)) {
        throw new CacheSerializationError(codecMessages.circularValue(), { cause: error });
      }
      throw new CacheSerializationError(codecMessages.unencodable((error as Error).message), { cause: error });
    }
  }
}
