import { Logger } from '@nestjs/common';
import { INTERNAL_KEY_PREFIX } from '../cache.constants';
import { CacheArgumentError } from '../cache.errors';
import { sessionMessages } from '../cache.messages';
import type { CacheService } from '../caches/cache.service';
import { describe } from '../options/duration.util';
import { RateLimitedLogger } from '../support/rate-limited-logger';

/** Longer ids are refused: real ones are ~32 characters, and a client's cookie should not size Redis keys. */
const MAX_ID_LENGTH = 256;

/** Counters of a `SessionCache` since it was built (hits, misses and failures are its domain's). */
export interface SessionCacheStats {
  /** Reads and destroys given an id no session can have (empty, too long, reserved), answered as absent. */
  readonly refusedIds: number;
}

/**
 * Sessions with sliding expiration in one domain's cache (the built-in `session` domain: its
 * prefix, TTL and codec): reading a session extends it to the domain's TTL in the same round
 * trip (Redis `GETEX … PX`), so a session expires after that long *without use*.
 *
 * Failure policy, as `CacheService`: `get` and `touch` never throw — Redis down, a corrupt entry
 * or an id that cannot name a session (it usually comes from a client's cookie) is "no session",
 * counted and logged. `set` reports a failed write as `false`. `destroy` throws when Redis could
 * not be reached: a logout that did not happen must be known.
 *
 * @example
 * providers: [provideSessionCache()]
 * constructor(private readonly sessions: SessionCache<UserSession>) {}
 */
export class SessionCache<T> {
  private readonly log: RateLimitedLogger;
  private refusedIds = 0;

  constructor(private readonly cache: CacheService<T>) {
    this.log = new RateLimitedLogger(new Logger(`ElileCache:${cache.name}`));
  }

  /** How long, in seconds, a session lives after its last use: the domain's TTL. */
  get ttl(): number {
    return this.cache.defaultTtl;
  }

  /** The session, extended by `ttl` from now; `undefined` when there is none (or Redis is down). */
  async get(id: string): Promise<T | undefined> {
    if (!this.usable(id)) return undefined;
    return this.cache.getAndExpire(id);
  }

  /**
   * Stores a session for `ttl` seconds. Returns false when the cache could not store it (counted
   * and logged).
   * @throws CacheArgumentError for an id no session can have.
   * @throws CacheSerializationError when the session cannot be encoded.
   */
  async set(id: string, session: T): Promise<boolean> {
    if (!isSessionId(id)) throw new CacheArgumentError(sessionMessages.badId(describe(id)));
    return this.cache.set(id, session);
  }

  /** Extends a session without using it; whether there was one to extend. */
  async touch(id: string): Promise<boolean> {
    return (await this.get(id)) !== undefined;
  }

  /**
   * Ends a session; whether there was one.
   * @throws CacheUnavailableError | CacheTimeoutError when it may not have been deleted.
   */
  async destroy(id: string): Promise<boolean> {
    if (!this.usable(id)) return false;
    return this.cache.delete(id);
  }

  stats(): SessionCacheStats {
    return { refusedIds: this.refusedIds };
  }

  private usable(id: unknown): id is string {
    if (isSessionId(id)) return true;
    this.refusedIds++;
    this.log.warn('refusedId', sessionMessages.refusedId(this.cache.name));
    return false;
  }
}

function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && id !== '' && id.length <= MAX_ID_LENGTH && !id.startsWith(INTERNAL_KEY_PREFIX);
}
