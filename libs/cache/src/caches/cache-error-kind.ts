/**
 * What went wrong when a cache operation failed, as `stats().errorsByKind` counts it (and the
 * `kind` label of `elile_cache_errors_total`):
 * - `timeout`: Redis did not answer within the command's deadline;
 * - `unavailable`: the command could not be sent (not connected);
 * - `circuitOpen`: the circuit breaker refused the command without sending it;
 * - `overloaded`: the connection already had `redis.maxInFlight` commands outstanding;
 * - `command`: Redis answered with an error (`OOM`, `NOPERM`, `WRONGTYPE`, …);
 * - `serialization`: the value could not be encoded;
 * - `corruptEntry`: an entry did not decode (it was deleted and read as a miss);
 * - `other`: anything else (e.g. a decorator that could not build a key).
 */
export type CacheErrorKind =
  'timeout' | 'unavailable' | 'circuitOpen' | 'overloaded' | 'command' | 'serialization' | 'corruptEntry' | 'other';

/** The kinds a failure's own error tells; `corruptEntry` is known from where it happens, `other` by elimination. */
export type ClassifiedErrorKind = Exclude<CacheErrorKind, 'corruptEntry' | 'other'>;

/** By `code` rather than `instanceof`: a circuit-open error is also an unavailable one. */
const KIND_BY_CODE: Readonly<Record<string, ClassifiedErrorKind>> = {
  ELILE_CACHE_TIMEOUT: 'timeout',
  ELILE_CACHE_UNAVAILABLE: 'unavailable',
  ELILE_CACHE_CIRCUIT_OPEN: 'circuitOpen',
  ELILE_CACHE_OVERLOADED: 'overloaded',
  ELILE_CACHE_COMMAND: 'command',
  ELILE_CACHE_SERIALIZATION: 'serialization',
};

/** The kind of a failure from its error's code; undefined when the code tells none of them. */
export function classifyCacheError(error: unknown): ClassifiedErrorKind | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && Object.hasOwn(KIND_BY_CODE, code) ? KIND_BY_CODE[code] : undefined;
}
