const DANGEROUS_KEYS = ['__proto__', 'constructor'] as const;
const MARKERS = DANGEROUS_KEYS.map((key) => Buffer.from(key));

/**
 * Cheap pre-check on the raw bytes: only entries that mention a dangerous key pay for the walk in
 * {@link stripDangerousKeys}.
 */
export function mayHoldDangerousKeys(bytes: Buffer): boolean {
  return MARKERS.some((marker) => bytes.includes(marker));
}

/**
 * Removes own `__proto__` and `constructor` keys from decoded plain objects, at any depth. Decoders
 * create them as harmless own properties, but a later `Object.assign` or deep merge in user code
 * would turn them into prototype pollution.
 */
export function stripDangerousKeys<T>(value: T, seen = new Set<unknown>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Map) {
    for (const entry of value.values()) stripDangerousKeys(entry, seen);
  } else if (value instanceof Set || Array.isArray(value)) {
    for (const entry of value) stripDangerousKeys(entry, seen);
  } else if (!ArrayBuffer.isView(value)) {
    for (const key of DANGEROUS_KEYS) {
      if (Object.prototype.hasOwnProperty.call(value, key)) delete (value as Record<string, unknown>)[key];
    }
    for (const entry of Object.values(value)) stripDangerousKeys(entry, seen);
  }
  return value;
}
