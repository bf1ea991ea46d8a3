import type { EntryTiming } from '../codec/entry-codec';
import type { CacheCounters } from './cache-stats';

/**
 * Fail-safe serving within a grace period (the domain's `grace`): entries live in the store for
 * their TTL plus the grace, and one past its TTL is stale — never served as a hit, but kept as a
 * fallback. When a load fails, or outlasts the soft timeout, while a stale value is at hand, that
 * value is served instead (counted in `staleServed`), and a load still running goes on in the
 * background and fills the key when it ends. Nothing is ever served past the grace: a stale
 * value is only at hand while its entry, or its near-cache copy, still lives.
 */
export class FailSafe {
  constructor(
    /** 0 without fail-safe: entries then vanish at their TTL and nothing is ever stale. */
    readonly graceMs: number,
    private readonly softTimeoutMs: number | undefined,
    private readonly counters: CacheCounters,
  ) {}

  /** Whether an entry with this timing is past its TTL (and so only a fallback). */
  isStale(timing: EntryTiming | undefined): boolean {
    return this.graceMs > 0 && timing !== undefined && timing.expiresAt <= Date.now();
  }

  /** How long the store keeps an entry of `ttlMs`: through its grace. */
  storedTtlMs(ttlMs: number): number {
    return ttlMs + this.graceMs;
  }

  /** How much longer a stale entry of this timing may be served, in ms (0 when past its grace). */
  graceLeftMs(timing: EntryTiming | undefined): number {
    return timing === undefined ? 0 : Math.max(0, timing.expiresAt + this.graceMs - Date.now());
  }

  /**
   * The load's value, or `fallback` when the load fails or outlasts the soft timeout and there is
   * one. Without a fallback the load's own outcome is the caller's, as without fail-safe.
   */
  async serve<T>(load: Promise<T>, fallback: { value: T } | undefined, softTimeoutMs = this.softTimeoutMs): Promise<T> {
    if (fallback === undefined) return load;
    // The load goes on after a fallback was served; its failure is then no one's to receive.
    load.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const softTimeout =
      softTimeoutMs === undefined
        ? undefined
        : new Promise<'timed out'>((resolve) => {
            timer = setTimeout(() => resolve('timed out'), softTimeoutMs);
            timer.unref();
          });
    try {
      const outcome = await (softTimeout ? Promise.race([load, softTimeout]) : load);
      if (outcome !== 'timed out') return outcome as T;
    } catch {
      // Served stale below.
    } finally {
      clearTimeout(timer);
    }
    this.counters.staleServed++;
    return fallback.value;
  }
}
