const DANGEROUS_KEYS = ['__proto__', 'constructor'] as const;
const MARKERS = DANGEROUS_KEYS.map((key) => Buffer.from(key));

/**
 * Cheap pre-check on raw bytes: only entries that mention a dangerous key pay for a walk in
 * {@link stripDangerousKeys} or {@link withoutDangerousKeys}.
 */
export function mayHoldDangerousKeys(bytes: Buffer): boolean {
  return MARKERS.some((marker) => bytes.includes(marker));
}

const isPlainObject = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

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

/**
 * A copy of `value` without own `__proto__` and `constructor` keys, leaving the caller's value
 * untouched. Used before encoding, so that what is stored is exactly what a read returns.
 */
export function withoutDangerousKeys(value: unknown, ancestors = new Set<unknown>()): unknown {
  if (value === null || typeof value !== 'object' || ancestors.has(value)) return value;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => withoutDangerousKeys(item, ancestors));
    if (value instanceof Map) {
      return new Map([...value].map(([key, item]) => [key, withoutDangerousKeys(item, ancestors)]));
    }
    if (value instanceof Set) return new Set([...value].map((item) => withoutDangerousKeys(item, ancestors)));
    if (!isPlainObject(value)) return value;
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (!(DANGEROUS_KEYS as readonly string[]).includes(key)) copy[key] = withoutDangerousKeys(item, ancestors);
    }
    return copy;
  } finally {
    ancestors.delete(value);
  }
}
