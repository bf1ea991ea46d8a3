import { CacheSerializationError } from '../cache.errors';
import { codecMessages } from '../cache.messages';
import type { CacheCodec, PerValueCodec, PerValuePayload } from './codec.interface';
import { JsonCodec } from './json.codec';
import { isJsonNative } from './json-native.util';
import { MsgpackCodec } from './msgpack.codec';
import { holdsLoneSurrogate } from './unicode.util';

/** Deeper values go to msgpack (which refuses a cycle). */
const MAX_JSON_DEPTH = 64;
/** How JSON.stringify writes a lone surrogate (a paired one it writes as is). */
const LONE_SURROGATE_ESCAPE = '\\ud';

/**
 * The default codec: JSON for values JSON represents exactly, MessagePack for the rest.
 *
 * WHY (bench/codec-shapes.bench.ts; figures in README, "Values: codecs and compression"): the
 * values a cache mostly holds come from JSON APIs and databases' JSON columns — strings (ISO dates
 * among them), numbers, booleans, null, arrays, plain objects. On such a 2 KB screening object
 * V8's JSON.parse decodes in about half of msgpackr's time, so msgpack alone put a hit behind the
 * hand-written `GET` + `JSON.parse` it is measured against. With Dates (or Maps, BigInts...)
 * inside, JSON cannot keep the types, and a JSON.parse with a Date reviver costs 3-4× msgpack's
 * decode, so msgpack stays for those. Picking per value gets both: one walk over the value
 * decides, and it stops at the first value JSON cannot hold (a rich value's first Date), so it
 * costs a full pass only on the JSON path, which JSON.stringify makes anyway.
 *
 * Each entry carries the id of the codec that wrote it (JSON's or msgpack's), so readers decode
 * it with that codec alone, and entries of `'json'` and `'msgpack'` decode unchanged.
 *
 * Exactness is that of msgpack: every value it round-tripped still does, `-0` still reads as `0`,
 * and a string holding a lone UTF-16 surrogate is refused on both paths (JSON could keep it, but
 * whether a value took the JSON path must not decide whether it can be cached at all).
 */
export class AutoCodec implements PerValueCodec {
  private readonly msgpack = new MsgpackCodec();
  readonly formats: readonly CacheCodec[] = [this.msgpack, new JsonCodec()];

  /** @throws CacheSerializationError */
  encode(value: unknown): PerValuePayload {
    if (!isJsonNative(value, MAX_JSON_DEPTH)) return { codecId: MsgpackCodec.ID, payload: this.msgpack.encode(value) };
    const text = JSON.stringify(value);
    if (text.includes(LONE_SURROGATE_ESCAPE) && holdsLoneSurrogate(value)) {
      throw new CacheSerializationError(codecMessages.loneSurrogate());
    }
    return { codecId: JsonCodec.ID, payload: Buffer.from(text) };
  }
}
