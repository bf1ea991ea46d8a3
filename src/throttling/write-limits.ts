import type { ThrottlerOptions } from '@nestjs/throttler';

/** Requests per window per client and write endpoint, unless `ELILE_DEMO_WRITE_LIMIT` says otherwise. */
const DEFAULT_LIMIT = 30;
/** Seconds a request counts for (`ELILE_DEMO_WRITE_WINDOW`). */
const DEFAULT_WINDOW = 60;

/**
 * The demo's one throttler, for its write endpoints: `ELILE_DEMO_WRITE_LIMIT` requests per
 * `ELILE_DEMO_WRITE_WINDOW` seconds per client and endpoint; a client over the limit is refused
 * for `ELILE_DEMO_WRITE_BLOCK` seconds (default: the window). Read when the application boots.
 * @throws Error naming the variable when one is not a number in range.
 */
export function writeThrottler(env: NodeJS.ProcessEnv = process.env): ThrottlerOptions {
  const limit = read(
    env,
    'ELILE_DEMO_WRITE_LIMIT',
    DEFAULT_LIMIT,
    (n) => Number.isInteger(n) && n >= 1,
    'a whole number ≥ 1',
  );
  const window = read(env, 'ELILE_DEMO_WRITE_WINDOW', DEFAULT_WINDOW, (n) => n > 0, 'a positive number of seconds');
  const block = read(env, 'ELILE_DEMO_WRITE_BLOCK', window, (n) => n >= 0, 'a number of seconds ≥ 0');
  return { limit, ttl: Math.round(window * 1000), blockDuration: Math.round(block * 1000) };
}

function read(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  valid: (n: number) => boolean,
  expected: string,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !valid(value))
    throw new Error(`${name} must be ${expected}, got ${JSON.stringify(raw)}`);
  return value;
}
