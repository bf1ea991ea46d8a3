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
   * Entries that warming (`fillAbsent`) could not preload: their loader failed, or the cache did
   * (the latter also counted in `errors`).
   */
  readonly warmingErrors: number;
}

export class CacheCounters {
  hits = 0;
  misses = 0;
  errors = 0;
  loads = 0;
  corruptEntries = 0;
  staleFillsDiscarded = 0;
  overloaded = 0;
  warmingErrors = 0;

  snapshot(): CacheStats {
    const reads = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      hitRatio: reads === 0 ? 0 : this.hits / reads,
      errors: this.errors,
      loads: this.loads,
      corruptEntries: this.corruptEntries,
      staleFillsDiscarded: this.staleFillsDiscarded,
      overloaded: this.overloaded,
      warmingErrors: this.warmingErrors,
    };
  }
}
