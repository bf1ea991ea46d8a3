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

/**
 * The refreshes ahead of expiry this process runs, at most one per key at a time: a hot key read
 * a thousand times inside its window starts one. (Across the fleet, the refresh lease in the store
 * lets one instance refresh.) A refresh runs in the background; its failures are its own to
 * count and log, never the reader's.
 */
export class RefreshesInFlight {
  private readonly running = new Set<string>();

  start(key: string, refresh: () => Promise<void>): void {
    if (this.running.has(key)) return;
    this.running.add(key);
    refresh()
      .catch(() => undefined)
      .finally(() => this.running.delete(key));
  }

  /** How many refreshes run now. */
  get size(): number {
    return this.running.size;
  }
}
