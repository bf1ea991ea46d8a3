/** UTF-8 of U+FFFD, which encoders write in place of a lone UTF-16 surrogate. */
const REPLACEMENT_CHARACTER = Buffer.from('\ufffd');

/**
 * Whether UTF-8 bytes encoded from `value` may have replaced a lone surrogate: only then is the
 * value walked, so the common case costs one byte search.
 */
export function mayHaveLostSurrogates(bytes: Buffer, value: unknown): boolean {
  return bytes.includes(REPLACEMENT_CHARACTER) && holdsLoneSurrogate(value, new Set());
}

/** Whether any string in `value`, or any object key, holds a lone UTF-16 surrogate. */
export function holdsLoneSurrogate(value: unknown, seen = new Set<unknown>()): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (value === null || typeof value !== 'object' || seen.has(value) || ArrayBuffer.isView(value)) return false;
  seen.add(value);
  if (value instanceof Map) {
    return [...value].some(([key, item]) => holdsLoneSurrogate(key, seen) || holdsLoneSurrogate(item, seen));
  }
  if (value instanceof Set || Array.isArray(value)) return [...value].some((item) => holdsLoneSurrogate(item, seen));
  return Object.entries(value).some(([key, item]) => !key.isWellFormed() || holdsLoneSurrogate(item, seen));
}
