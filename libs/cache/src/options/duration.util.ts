import { CacheArgumentError } from '../cache.errors';

/**
 * A duration. A plain number is seconds, the unit of every TTL and timeout of the module (as in the
 * sketch's settings); a string or an object names its unit, so that milliseconds cannot be taken
 * for seconds — the mistake reported most often against cache libraries.
 *
 * `300` (seconds), `'300ms'`, `'1.5s'`, `'5m'`, `'2h'`, `'1d'`, `{ minutes: 5 }`,
 * `{ seconds: 1, milliseconds: 500 }`.
 */
export type Duration = number | `${number}${DurationUnit}` | DurationParts;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';
export interface DurationParts {
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  milliseconds?: number;
}

const UNIT_MS: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART_MS: Readonly<Record<keyof DurationParts, number>> = {
  days: UNIT_MS.d,
  hours: UNIT_MS.h,
  minutes: UNIT_MS.m,
  seconds: UNIT_MS.s,
  milliseconds: UNIT_MS.ms,
};
const DURATION_TEXT = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)$/;

/** Milliseconds of a duration, or undefined when `value` is not one (or is negative or infinite). */
function durationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value === 'string') {
    const match = DURATION_TEXT.exec(value.trim());
    return match ? Number(match[1]) * UNIT_MS[match[2] as DurationUnit] : undefined;
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) {
    return undefined;
  }
  const parts = Object.entries(value);
  if (parts.length === 0) return undefined;
  let ms = 0;
  for (const [unit, amount] of parts) {
    if (!Object.hasOwn(PART_MS, unit) || typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
      return undefined;
    ms += amount * PART_MS[unit as keyof DurationParts];
  }
  return ms;
}

/** Milliseconds of `duration` when it is a valid positive one, else `fallbackMs`. */
export function durationMsOr(duration: unknown, fallbackMs: number): number {
  const ms = durationMs(duration);
  return ms === undefined || ms <= 0 ? fallbackMs : ms;
}

const EXPECTED =
  "a positive duration: seconds as a number, a string such as '300ms', '5m' or '2h', or an object such as { minutes: 5 }";

/** The upper bound keeps milliseconds exact and within what Redis accepts for PX. */
const MAX_MS = Number.MAX_SAFE_INTEGER;

/**
 * Converts a duration (see `Duration`) to whole milliseconds, rejecting anything that is not a
 * positive finite one. `errorType` lets configuration mistakes surface as configuration errors
 * and call-site mistakes as argument errors.
 */
export function durationToMs(
  duration: unknown,
  what: string,
  errorType: new (message: string) => Error = CacheArgumentError,
): number {
  const ms = durationMs(duration);
  if (ms === undefined || ms <= 0 || ms > MAX_MS)
    throw new errorType(`${what} must be ${EXPECTED}, got ${describe(duration)}`);
  // Sub-millisecond TTLs round up so a tiny positive TTL never becomes "no expiry".
  return Math.max(1, Math.round(ms));
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
  const ms = durationToMs(seconds, what, errorType);
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
  const ms = durationMs(seconds);
  if (ms === 0) return 0;
  if (ms === undefined || ms > MAX_TIMER_MS) {
    throw new errorType(
      `${what} must be 0 or ${EXPECTED}, up to ${MAX_TIMER_MS / 1000} seconds, got ${describe(seconds)}`,
    );
  }
  return durationToMs(seconds, what, errorType);
}
