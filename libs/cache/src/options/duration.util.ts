import { CacheArgumentError } from '../cache.errors';

/**
 * Converts a duration in seconds (the unit of every public TTL) to whole milliseconds, rejecting
 * anything that is not a positive finite number. `errorType` lets configuration mistakes surface
 * as configuration errors and call-site mistakes as argument errors.
 */
export function secondsToMs(
  seconds: unknown,
  what: string,
  errorType: new (message: string) => Error = CacheArgumentError,
): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new errorType(`${what} must be a positive finite number of seconds, got ${describe(seconds)}`);
  }
  // Sub-millisecond TTLs round up so a tiny positive TTL never becomes "no expiry".
  return Math.max(1, Math.round(seconds * 1000));
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
