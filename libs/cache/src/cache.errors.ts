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

/** A Redis command failed; `command` names it (never its arguments, which may hold secrets). */
export abstract class CacheRedisError extends CacheError {
  constructor(
    message: string,
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Redis could not be reached, or the connection is not ready. The command was not sent, so it
 * did not run.
 */
export class CacheUnavailableError extends CacheRedisError {
  readonly code: string = 'ELILE_CACHE_UNAVAILABLE';
}

/**
 * The connection's circuit breaker is open: Redis failed or timed out repeatedly, so the command
 * was not sent (it did not run) and did not wait. A `CacheUnavailableError`, so everything that
 * handles Redis being down handles it; caches serve the loader and skip writes, locks refuse.
 */
export class CacheCircuitOpenError extends CacheUnavailableError {
  override readonly code = 'ELILE_CACHE_CIRCUIT_OPEN';
}

/**
 * A command passed its deadline. Its outcome is unknown: Redis may still execute it later, so a
 * timed-out write must not be read as "not written".
 */
export class CacheTimeoutError extends CacheRedisError {
  readonly code = 'ELILE_CACHE_TIMEOUT';
}

/**
 * The connection already had `redis.maxInFlight` commands outstanding, so this one was not sent
 * (it did not run). Caches treat it like Redis being unavailable: the call goes to its loader.
 */
export class CacheOverloadedError extends CacheRedisError {
  readonly code = 'ELILE_CACHE_OVERLOADED';
}

/** Redis answered with an error reply (`WRONGTYPE`, `NOPERM`, `OOM`, …). */
export class CacheCommandError extends CacheRedisError {
  readonly code = 'ELILE_CACHE_COMMAND';

  /** Redis refused a write because it reached `maxmemory` (with a `noeviction` policy). */
  get isOutOfMemory(): boolean {
    return /\bOOM\b/.test(this.message);
  }
}

/**
 * An invalidation deleted the entries but could not record itself (Redis is out of memory), so a
 * read-through that began before it may still store the value it loaded until the entry's TTL.
 * `deleted` says how many entries were removed.
 */
export class CacheInvalidationIncompleteError extends CacheError {
  readonly code = 'ELILE_CACHE_INVALIDATION_INCOMPLETE';

  constructor(
    message: string,
    readonly deleted: number,
  ) {
    super(message);
  }
}

/** One part of an invalidation rule that could not be carried out. */
export interface InvalidationFailure {
  /** The cache domain of the part. */
  readonly domain: string;
  /** Keys that may still be cached. */
  readonly keys: readonly string[];
  /** Tags whose entries may still be cached. */
  readonly tags: readonly string[];
  /** Key patterns (opt-in sweeps) whose entries may still be cached. */
  readonly patterns: readonly string[];
  /** Why: the typed error of the store (`CacheUnavailableError`, `CacheTimeoutError`, …). */
  readonly error: unknown;
}

/**
 * A `CacheInvalidator` rule could not be carried out in full: every part was attempted, and
 * `notInvalidated` names each one that failed (domain, keys, tags) with its error; `cause` is the
 * first of those errors. Entries it names may be served stale until their TTL: retry the rule,
 * or fail the write that called it.
 */
export class CacheInvalidationError extends CacheError {
  readonly code = 'ELILE_CACHE_INVALIDATION';

  constructor(
    message: string,
    /** The rule, e.g. `invalidateSubject`. */
    readonly rule: string,
    readonly notInvalidated: readonly InvalidationFailure[],
  ) {
    super(message, { cause: notInvalidated[0]?.error });
  }
}

/**
 * Warming at bootstrap with `warming.failOnError` found errors (a warmer or its loader threw, or
 * the cache failed); `failures` holds the count per domain and `cause` the first error.
 */
export class CacheWarmingError extends CacheError {
  readonly code = 'ELILE_CACHE_WARMING';

  constructor(
    message: string,
    readonly failures: Readonly<Record<string, number>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bytes in the store could not be decoded; the cache treats them as a miss and deletes them. */
export class CacheDecodeError extends CacheError {
  readonly code = 'ELILE_CACHE_DECODE';
}

/** A lock error; `key` is the caller's lock key. */
export abstract class LockError extends CacheError {
  constructor(
    message: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A lock could not be acquired within the wait the caller allowed (another owner held it for the
 * whole time). Nothing is held: an attempt whose outcome was unknown has been released.
 */
export class LockNotAcquiredError extends LockError {
  readonly code = 'ELILE_LOCK_NOT_ACQUIRED';
}

/**
 * A lock could not be asked for: the Redis circuit breaker is open (`cause` is the
 * `CacheCircuitOpenError`), so the call failed at once instead of waiting. Nothing is held, and
 * nobody else is known to hold it either: unlike `LockNotAcquiredError`, this is not "someone
 * else is doing the work" — work that needs the lock must not run.
 */
export class LockUnavailableError extends LockError {
  readonly code = 'ELILE_LOCK_UNAVAILABLE';
}

/**
 * A lock that was held is no longer held: its validity ran out before an extension returned, an
 * extension was refused (the key expired or has another owner) or failed, or the application is
 * shutting down. It is the reason of the lock's `signal`. Work done after the loss may overlap
 * another holder's; protect writes with the lock's fencing token.
 */
export class LockLostError extends LockError {
  readonly code = 'ELILE_LOCK_LOST';
}

/**
 * A lock was taken on the master, but fewer replicas than required acknowledged it in time
 * (Redis `WAIT`), so a failover could hand it to a second holder. The lock has been released.
 */
export class LockReplicationError extends LockError {
  readonly code = 'ELILE_LOCK_REPLICATION';

  constructor(
    message: string,
    key: string,
    readonly acknowledged: number,
    readonly required: number,
  ) {
    super(message, key);
  }
}
