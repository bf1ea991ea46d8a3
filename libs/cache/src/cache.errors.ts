/**
 * Every error the library throws is a `CacheError` with a stable `code`, so callers can branch on
 * `error.code` without string-matching messages. Library errors know nothing about HTTP.
 */
export abstract class CacheError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Options or `ELILE_*` variables are invalid; thrown at boot, naming the setting. */
export class CacheConfigurationError extends CacheError {
  readonly code = 'ELILE_CACHE_CONFIGURATION';
}

/** A value cannot be encoded (function, symbol, circular structure, …). Nothing was stored. */
export class CacheSerializationError extends CacheError {
  readonly code = 'ELILE_CACHE_SERIALIZATION';
}

/** A key or TTL given by the caller is not usable. */
export class CacheArgumentError extends CacheError {
  readonly code = 'ELILE_CACHE_ARGUMENT';
}

/**
 * Redis could not be reached, or the connection is not ready. The command was not sent, so it
 * did not run.
 */
export class CacheUnavailableError extends CacheError {
  readonly code = 'ELILE_CACHE_UNAVAILABLE';

  constructor(
    message: string,
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A command passed its deadline. Its outcome is unknown: Redis may still execute it later, so a
 * timed-out write must not be read as "not written".
 */
export class CacheTimeoutError extends CacheError {
  readonly code = 'ELILE_CACHE_TIMEOUT';

  constructor(
    message: string,
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Redis answered with an error reply (`WRONGTYPE`, `NOPERM`, `OOM`, …). */
export class CacheCommandError extends CacheError {
  readonly code = 'ELILE_CACHE_COMMAND';

  constructor(
    message: string,
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bytes in the store could not be decoded; the cache treats them as a miss and deletes them. */
export class CacheDecodeError extends CacheError {
  readonly code = 'ELILE_CACHE_DECODE';
}
