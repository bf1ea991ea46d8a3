import { type CacheErrorKind, classifyCacheError } from './cache-error-kind';

/** Counters of one cache domain since the process started. */
export interface CacheStats {
  /** Reads answered from the cache. */
  readonly hits: number;
  /** Reads that found nothing usable (absent, expired, being filled, or undecodable). */
  readonly misses: number;
  /** `hits / (hits + misses)`, 0 before the first read. */
  readonly hitRatio: number;
  /** Cache operations that failed (Redis down or slow, unserializable value, corrupt entry). */
  readonly errors: number;
  /** `errors` by what went wrong (see `CacheErrorKind`); the kinds add up to `errors`. */
  readonly errorsByKind: Readonly<Record<CacheErrorKind, number>>;
  /** Loader runs of `getOrSet`. */
  readonly loads: number;
  /** Entries that did not decode; each was deleted and read as a miss. */
  readonly corruptEntries: number;
  /** Fills of `getOrSet` refused because the key was invalidated or rewritten while loading. */
  readonly staleFillsDiscarded: number;
  /**
   * Operations that skipped Redis because the connection already had `redis.maxInFlight` commands
   * outstanding (reads went to their loader); also counted in `errors`.
   */
  readonly overloaded: number;
  /**
   * Operations that skipped Redis because the connection's circuit breaker was open (reads went
   * to their loader, writes were not made); also counted in `errors`.
   */
  readonly circuitOpen: number;
  /**
   * Entries that warming (`fillAbsent`) could not preload: their loader failed, or the cache did
   * (the latter also counted in `errors`).
   */
  readonly warmingErrors: number;
  /** Reads answered by this process's near cache (also counted in `hits`); 0 without `l1`. */
  readonly l1Hits: number;
  /** Near-cache lookups that found nothing kept, and went on to the store. */
  readonly l1Misses: number;
  /** Near-cache entries dropped to stay within `l1.maxEntries`. */
  readonly l1Evictions: number;
  /** Near-cache entries dropped because their key changed somewhere (or the channel dropped). */
  readonly l1Invalidations: number;
  /** Misses that waited for another instance's load of the key and were served its value. */
  readonly fleetWaits: number;
  /** Misses that waited for another instance's load in vain (the wait ran out) and loaded. */
  readonly fleetWaitTimeouts: number;
  /** Entries refreshed ahead of their expiry (`refreshAhead`). */
  readonly refreshes: number;
  /** Refreshes ahead of expiry whose loader failed; the entry was kept until its TTL. */
  readonly refreshErrors: number;
  /** Entries stored by `set` and `setMany` (a write the cache could not store is an error). */
  readonly sets: number;
  /** Keys given to `delete` and `deleteMany` calls that succeeded, present or not. */
  readonly deletes: number;
  /**
   * `invalidateTags`, `invalidatePattern` (and `clear`), `expire` and `expireTags` calls that
   * succeeded.
   */
  readonly invalidations: number;
  /**
   * Stale values served by fail-safe (`grace`): the loader failed or outlasted its soft timeout,
   * or Redis could not be read, and a value past its TTL but within its grace was at hand.
   */
  readonly staleServed: number;
}

export class CacheCounters {
  hits = 0;
  misses = 0;
  errors = 0;
  /** Every kind but `other`, which is what `errors` holds beyond them. */
  readonly errorKinds: Record<Exclude<CacheErrorKind, 'other'>, number> = {
    timeout: 0,
    unavailable: 0,
    circuitOpen: 0,
    overloaded: 0,
    command: 0,
    serialization: 0,
    corruptEntry: 0,
  };
  loads = 0;
  corruptEntries = 0;
  staleFillsDiscarded = 0;
  overloaded = 0;
  circuitOpen = 0;
  warmingErrors = 0;
  l1Hits = 0;
  l1Misses = 0;
  l1Evictions = 0;
  l1Invalidations = 0;
  fleetWaits = 0;
  fleetWaitTimeouts = 0;
  refreshes = 0;
  refreshErrors = 0;
  staleServed = 0;
  sets = 0;
  deletes = 0;
  invalidations = 0;

  /** Counts a failure (already counted in `errors`) under the kind its error tells, if any. */
  countKind(error: unknown): void {
    const kind = classifyCacheError(error);
    if (kind) this.errorKinds[kind]++;
  }

  snapshot(): CacheStats {
    const reads = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      hitRatio: reads === 0 ? 0 : this.hits / reads,
      errors: this.errors,
      errorsByKind: { ...this.errorKinds, other: this.errors - sumOf(this.errorKinds) },
      loads: this.loads,
      corruptEntries: this.corruptEntries,
      staleFillsDiscarded: this.staleFillsDiscarded,
      overloaded: this.overloaded,
      circuitOpen: this.circuitOpen,
      warmingErrors: this.warmingErrors,
      l1Hits: this.l1Hits,
      l1Misses: this.l1Misses,
      l1Evictions: this.l1Evictions,
      l1Invalidations: this.l1Invalidations,
      fleetWaits: this.fleetWaits,
      fleetWaitTimeouts: this.fleetWaitTimeouts,
      refreshes: this.refreshes,
      refreshErrors: this.refreshErrors,
      staleServed: this.staleServed,
      sets: this.sets,
      deletes: this.deletes,
      invalidations: this.invalidations,
    };
  }
}

function sumOf(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}
