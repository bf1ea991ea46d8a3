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
 * WHY, measured (bench/codec-shapes.bench.ts; CPU per call on the 2 KB screening report, median of
 * the per-round ratios, min–max in brackets; README, "Values: codecs and compression"):
 * - Most cached values come from JSON APIs and JSON columns: strings (ISO dates among them),
 *   numbers, booleans, null, arrays, plain objects. On such a value msgpackr decodes at 0.94×
 *   (0.61–1.23) of `JSON.parse(bytes.toString())` when its optional native addon is loaded, and at
 *   1.61× (1.37–2.63) when it is not (it then decodes strings in JavaScript): the hand-written
 *   `GET` + `JSON.parse` a hit is measured against wins wherever the addon is missing.
 * - With Dates inside, JSON needs a reviver to give them back, and `JSON.parse` + reviver costs
 *   3–4× msgpack's decode (msgpack at 0.29× of it, 0.39× without the addon).
 * - So each value takes the faster exact format: a JSON entry decodes at 1.07× (0.71–1.46) of bare
 *   `JSON.parse` (the rest is the dangerous-key pre-check, ~0.65 µs, and the header checks),
 *   whether or not the addon is there, and a rich value keeps msgpack's speed.
 * - The choice costs one walk of the value before encoding: 1.0 µs for the whole JSON-native
 *   report, 0.08 µs for the rich one, since the walk stops at the first value JSON cannot hold.
 *
 * Each entry carries the id of the codec that wrote it (JSON's or msgpack's), so a reader decodes
 * it with that codec alone: entries of `'json'` and `'msgpack'` read the same, and the other way
 * round. JSON entries are larger (2,165 vs 1,394 bytes for the JSON-native report).
 *
 * Exactness is that of msgpack: every value it round-tripped still does, `-0` still reads as `0`,
 * and a string holding a lone UTF-16 surrogate is refused on both paths (JSON could keep it, but
 * whether a value happens to hold a Date must not decide whether its strings can be cached).
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
