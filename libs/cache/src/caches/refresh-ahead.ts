import type { EntryTiming } from '../codec/entry-codec';

/**
 * Whether an entry is in the refresh window of `ratio`: its last `1 - ratio` of life (0.8
 * refreshes in the last 20% of the TTL). Timing comes from the writer's clock; clock skew between
 * instances only moves the window by the skew.
 */
export function inRefreshWindow(timing: EntryTiming | undefined, ratio: number | undefined): boolean {
  if (timing === undefined || ratio === undefined) return false;
  const now = Date.now();
  return now < timing.expiresAt && now >= timing.expiresAt - timing.ttlMs * (1 - ratio);
}

/** Most keys whose last refresh attempt is remembered for the cooldown. */
const MAX_COOLING = 10_000;

/**
 * The refreshes ahead of expiry this process runs, at most one per key at a time: a hot key read
 * a thousand times inside its window starts one. After an attempt — done, failed, refused, or
 * left to the instance holding the refresh lease — the key cools down for `cooldownMs`: a source
 * that is down is not hit on every read for the rest of the window, and the hits of instances
 * that are not refreshing cost no round trip. (Across the fleet, the refresh lease in the store
 * lets one instance refresh.) A refresh runs in the background; its failures are its own to
 * count and log, never the reader's.
 */
export class RefreshesInFlight {
  private readonly running = new Set<string>();
  /** Key → `performance.now()` until which it is not refreshed again. */
  private readonly cooling = new Map<string, number>();

  constructor(private readonly cooldownMs: number) {}

  start(key: string, refresh: () => Promise<void>): void {
    if (this.running.has(key) || (this.cooling.get(key) ?? 0) > performance.now()) return;
    this.running.add(key);
    // `refresh` catches what it can foresee; this catch keeps anything else from becoming an
    // unhandled rejection of a promise no caller awaits.
    refresh()
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(key);
        this.coolDown(key);
      });
  }

  /** How many refreshes run now. */
  get size(): number {
    return this.running.size;
  }

  private coolDown(key: string): void {
    const now = performance.now();
    if (this.cooling.size >= MAX_COOLING) {
      for (const [cooled, until] of this.cooling) if (until <= now) this.cooling.delete(cooled);
      if (this.cooling.size >= MAX_COOLING) this.cooling.delete(this.cooling.keys().next().value!);
    }
    // Re-inserted, so that the map stays in expiry order and the oldest goes first.
    this.cooling.delete(key);
    this.cooling.set(key, now + this.cooldownMs);
  }
}

/** Resolves with the promise's value, or `TIMED_OUT` after `ms`; the promise itself runs on. */
export const TIMED_OUT = Symbol('elile.cache.timed-out');
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
