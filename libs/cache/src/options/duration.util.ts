import { CacheArgumentError } from '../cache.errors';

/**
 * Converts a duration in seconds (the unit of every public TTL) to whole milliseconds, rejecting
 * anything that is not a positive finite number. `errorType` lets configuration mistakes surface
 * as configuration errors and call-site mistakes as argument errors.
 */
const MAX_SECONDS = Number.MAX_SAFE_INTEGER / 1000;

export function secondsToMs(
  seconds: unknown,
  what: string,
  errorType: new (message: string) => Error = CacheArgumentError,
): number {
  // The upper bound keeps milliseconds exact and within what Redis accepts for PX.
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
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

/** The longest delay Node can arm a timer for; a lock's validity timer must fit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A lock TTL in whole milliseconds: at least 10 ms (a shorter lock would expire within a round
 * trip) and at most ~24.8 days (the longest timer Node can arm for its validity).
 */
export function lockTtlToMs(
  seconds: unknown,
  what: string,
  errorType: new (message: string) => Error = CacheArgumentError,
): number {
  const ms = secondsToMs(seconds, what, errorType);
  if (ms < 10 || ms > MAX_TIMER_MS) {
    throw new errorType(`${what} must be between 0.01 and ${MAX_TIMER_MS / 1000} seconds, got ${describe(seconds)}`);
  }
  return ms;
}

/** A wait in whole milliseconds, where `0` means "do not wait" (at most the longest timer). */
export function waitToMs(
  seconds: unknown,
  what: string,
  errorType: new (message: string) => Error = CacheArgumentError,
): number {
  if (seconds === 0) return 0;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || seconds * 1000 > MAX_TIMER_MS) {
    throw new errorType(
      `${what} must be 0 or a positive number of seconds up to ${MAX_TIMER_MS / 1000}, got ${describe(seconds)}`,
    );
  }
  return secondsToMs(seconds, what, errorType);
}
