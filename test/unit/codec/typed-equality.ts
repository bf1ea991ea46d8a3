/**
 * Deep equality for codec round trips. Jest's `toStrictEqual` is close but calls two invalid Dates
 * unequal, and a codec must be able to hand back exactly what it was given, including those.
 * Here two values are equal only when they have the same types all the way down: Date vs string,
 * Map vs object, Set vs array, BigInt vs number, Buffer vs Uint8Array, null vs undefined, a
 * missing property vs one holding undefined, -0 vs 0 all differ; NaN equals NaN.
 *
 * Returns a description of the first difference, or undefined when the values are equal.
 */
export function typedDifference(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (Object.is(actual, expected)) return undefined;
  const actualTag = Object.prototype.toString.call(actual);
  const expectedTag = Object.prototype.toString.call(expected);
  if (actualTag !== expectedTag) return `${path}: ${actualTag} instead of ${expectedTag}`;
  if (typeof actual !== 'object' || actual === null || typeof expected !== 'object' || expected === null) {
    return `${path}: ${show(actual)} instead of ${show(expected)}`;
  }
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) {
    return `${path}: prototype ${actual.constructor?.name} instead of ${expected.constructor?.name}`;
  }
  if (actual instanceof Date) {
    const [a, e] = [actual.getTime(), (expected as Date).getTime()];
    return Object.is(a, e) ? undefined : `${path}: Date ${a} instead of ${e}`;
  }
  if (ArrayBuffer.isView(actual)) {
    const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
    const e = expected as ArrayBufferView;
    return a.equals(Buffer.from(e.buffer, e.byteOffset, e.byteLength)) ? undefined : `${path}: other bytes`;
  }
  if (actual instanceof Map || actual instanceof Set) {
    // Insertion order is part of what a Map or Set hands back when iterated, so it must survive.
    return sequenceDifference([...actual], [...(expected as Iterable<unknown>)], path);
  }
  if (Array.isArray(actual)) {
    return sequenceDifference(actual, expected as unknown[], path);
  }
  const actualKeys = Object.keys(actual).sort();
  const expectedKeys = Object.keys(expected).sort();
  if (actualKeys.join('\u0000') !== expectedKeys.join('\u0000')) {
    return `${path}: keys [${actualKeys}] instead of [${expectedKeys}]`;
  }
  for (const key of expectedKeys) {
    const difference = typedDifference(
      (actual as Record<string, unknown>)[key],
      (expected as Record<string, unknown>)[key],
      `${path}.${key}`,
    );
    if (difference) return difference;
  }
  return undefined;
}

function sequenceDifference(actual: unknown[], expected: unknown[], path: string): string | undefined {
  if (actual.length !== expected.length) return `${path}: length ${actual.length} instead of ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    if (i in actual !== i in expected) return `${path}[${i}]: hole mismatch`;
    const difference = typedDifference(actual[i], expected[i], `${path}[${i}]`);
    if (difference) return difference;
  }
  return undefined;
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Throws with the first difference, so a failing property reports where the values diverged. */
export function expectSameTyped(actual: unknown, expected: unknown): void {
  const difference = typedDifference(actual, expected);
  if (difference !== undefined) throw new Error(`Values differ at ${difference}`);
}
